"""crackle_dask: lazy Dask arrays over Crackle files, read with byte ranges from any fsspec store."""

import pickle
import sys

import numpy as np
import pytest
from fsspec.implementations.local import LocalFileSystem

import crackle
import crackle_dask
from crackle_dask.array import stream_array
from crackle_dask.stack import StreamStack, open_stream
from crackle_dask.store import FsspecStream
from tests.conftest import child_env, load_vector
from tests.servers import http_server

NAMES = ["connectomics_64x64x16", "connectomics_64x64x16_pins_markov7", "connectomics_64x64x16_C",
         "dtype_int64_extremes", "2d_16x13_F", "v0_markov3_blobs_many", "empty_4x4x0"]


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name in NAMES:
        paths[name] = tmp_path / f"{name}.ckl"
        paths[name].write_bytes(load_vector(name)[0])
    return paths


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("chunks", ["auto", 1, 5])
def test_open_array_matches_decompress(files, name, chunks):
    expected = crackle.decompress(files[name].read_bytes())
    arr = crackle_dask.open_array(str(files[name]), chunks=chunks)
    assert arr.shape == expected.shape and arr.dtype == expected.dtype
    if chunks != "auto" and expected.shape[2]:
        assert arr.chunks[2][0] == min(chunks, expected.shape[2])
    np.testing.assert_array_equal(arr.compute(), expected)
    sz = expected.shape[2]
    if sz > 2:
        np.testing.assert_array_equal(arr[3:9, :, sz // 2].compute(), expected[3:9, :, sz // 2])


def test_stacks_files_of_different_label_formats(files, tmp_path):
    parts = ["connectomics_64x64x16", "connectomics_64x64x16_pins_markov7", "connectomics_64x64x16_C"]
    expected = np.concatenate([crackle.decompress(files[p].read_bytes()) for p in parts], axis=2)
    stacked = crackle_dask.open_array([str(files[p]) for p in parts], chunks=7)
    assert stacked.chunks[2] == (7, 7, 2) * 3  # chunks stop at file boundaries
    np.testing.assert_array_equal(stacked.compute(), expected)
    ordered = tmp_path / "ordered"
    ordered.mkdir()
    for i, p in enumerate(parts):
        (ordered / f"part{i}.ckl").write_bytes(files[p].read_bytes())
    np.testing.assert_array_equal(crackle_dask.open_array(str(ordered / "*.ckl")).compute(), expected)


def test_stacking_mismatched_files_is_refused(files):
    with pytest.raises(ValueError, match="must match"):
        crackle_dask.open_array([str(files["connectomics_64x64x16"]), str(files["dtype_int64_extremes"])])
    with pytest.raises(FileNotFoundError):
        crackle_dask.open_array(str(files["connectomics_64x64x16"].parent / "nothing*.ckl"))


class CountingFileSystem(LocalFileSystem):
    """A local filesystem that records every byte range read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ranges = []
        self.inside = False

    def cat_file(self, path, start=None, end=None, **kwargs):
        if not self.inside:
            self.ranges.append((start, end))
        return super().cat_file(path, start=start, end=end, **kwargs)

    def cat_ranges(self, paths, starts, ends, **kwargs):
        self.ranges.extend(zip(starts, ends))
        self.inside = True
        try:
            return super().cat_ranges(paths, starts, ends, **kwargs)
        finally:
            self.inside = False


def test_reads_only_the_byte_ranges_a_z_range_needs(files):
    path = str(files["connectomics_64x64x16_pins_markov7"])
    fs = CountingFileSystem(skip_instance_cache=True)
    stream = FsspecStream(fs, path)
    layout = stream.layout
    prefix = layout.model_offset + stream.header.num_markov_model_bytes
    assert fs.ranges == [(0, 29), (0, prefix)]
    fs.ranges.clear()
    part = crackle.codec.decompress_range(stream, 5, 7, 1)
    np.testing.assert_array_equal(part, crackle.decompress(files["connectomics_64x64x16_pins_markov7"].read_bytes())[:, :, 5:7])
    codes = (int(layout.code_offsets[5]), int(layout.code_offsets[7]))
    checksums = (layout.slice_crcs_offset + 20, layout.slice_crcs_offset + 28)
    labels_crc = (layout.labels_crc_offset, layout.labels_crc_offset + 4)
    assert sorted(fs.ranges) == sorted([codes, checksums, labels_crc])


def test_streams_pickle_to_their_address_and_each_process_parses_a_file_once(files, tmp_path):
    path = tmp_path / "volume.ckl"
    path.write_bytes(files["connectomics_64x64x16_pins_markov7"].read_bytes())
    stream = FsspecStream.open(str(path))
    stream.labels
    shipped = pickle.dumps(stream)
    assert len(shipped) < 1000  # the address, not the parsed sections
    copy = pickle.loads(shipped)
    assert pickle.loads(pickle.dumps(stream)) is copy  # later tasks reuse what this process parsed
    np.testing.assert_array_equal(crackle.codec.decompress_range(copy, 0, 16, 1),
                                  crackle.decompress(path.read_bytes()))
    path.write_bytes(files["connectomics_64x64x16"].read_bytes())  # changed under our feet
    stream = FsspecStream.open(str(path))
    path.write_bytes(files["connectomics_64x64x16_C"].read_bytes())
    with pytest.raises(crackle.FormatError, match="changed since it was opened"):
        pickle.loads(pickle.dumps(stream))


def test_damaged_remote_streams_raise_format_error(files, tmp_path):
    data = files["connectomics_64x64x16"].read_bytes()
    short = tmp_path / "short.ckl"
    short.write_bytes(data[:-9])
    with pytest.raises(crackle.FormatError):
        crackle_dask.open_array(str(short)).compute()
    flipped = bytearray(data)
    flipped[-4 * 16 + 4 * 3] ^= 1  # slice 3's checksum
    bad = tmp_path / "bad.ckl"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(crackle.ChecksumError, match=r"bad\.ckl: slice z=3"):
        crackle_dask.open_array(str(bad), chunks=4).compute()


class FlakyFileSystem(LocalFileSystem):
    """Fails the first two reads of every kind with a transient error."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failures = {"cat_file": 2, "cat_ranges": 2}

    def _maybe_fail(self, kind):
        if self.failures[kind]:
            self.failures[kind] -= 1
            raise ConnectionError("transient")

    def cat_file(self, path, start=None, end=None, **kwargs):
        self._maybe_fail("cat_file")
        return super().cat_file(path, start=start, end=end, **kwargs)

    def cat_ranges(self, paths, starts, ends, **kwargs):
        self._maybe_fail("cat_ranges")
        return super().cat_ranges(paths, starts, ends, **kwargs)


def test_transient_errors_are_retried(files, monkeypatch):
    monkeypatch.setattr("crackle_dask.store._BACKOFF", 0.001)
    stream = FsspecStream(FlakyFileSystem(skip_instance_cache=True), str(files["connectomics_64x64x16"]))
    np.testing.assert_array_equal(crackle.codec.decompress_range(stream, 0, 16, 1),
                                  crackle.decompress(files["connectomics_64x64x16"].read_bytes()))


@pytest.fixture
def http_root(files):
    with http_server(next(iter(files.values())).parent) as server:
        yield server.url


def test_http_with_range_requests(files, http_root):
    for name in ("connectomics_64x64x16_pins_markov7", "connectomics_64x64x16_C"):
        expected = crackle.decompress(files[name].read_bytes())
        arr = crackle_dask.open_array(f"{http_root}/{name}.ckl", chunks=4)
        np.testing.assert_array_equal(arr.compute(), expected)
        np.testing.assert_array_equal(arr[:, :, 9].compute(), expected[:, :, 9])


def test_import_crackle_does_not_load_dask():
    import subprocess

    code = "import sys, crackle; print(any(m == 'dask' or m.startswith('dask.') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_crackle_array_to_dask(files):
    data = files["connectomics_64x64x16_C"].read_bytes()
    arr = crackle.CrackleArray(data).to_dask(chunks=3)
    assert arr.chunks[2] == (3, 3, 3, 3, 3, 1)
    np.testing.assert_array_equal(arr.compute(), crackle.decompress(data))


@pytest.fixture(scope="module")
def s3_files(s3):
    """The vector files uploaded to the in-process S3 bucket."""
    fs, options = s3
    for name in NAMES:
        fs.pipe(f"volumes/vectors/{name}.ckl", load_vector(name)[0])
    return options


def test_s3_single_files_and_stacks(s3_files):
    for name in ("connectomics_64x64x16_pins_markov7", "dtype_int64_extremes", "2d_16x13_F"):
        expected = crackle.decompress(load_vector(name)[0])
        arr = crackle_dask.open_array(f"s3://volumes/vectors/{name}.ckl", chunks=3, storage_options=s3_files)
        np.testing.assert_array_equal(arr.compute(), expected)
        np.testing.assert_array_equal(arr[:, 2:, -1].compute(), expected[:, 2:, -1])
    parts = ["connectomics_64x64x16", "connectomics_64x64x16_pins_markov7", "connectomics_64x64x16_C"]
    stacked = crackle_dask.open_array([f"s3://volumes/vectors/{p}.ckl" for p in parts], chunks=5,
                                      storage_options=s3_files)
    expected = np.concatenate([crackle.decompress(load_vector(p)[0]) for p in parts], axis=2)
    np.testing.assert_array_equal(stacked.compute(), expected)
    np.testing.assert_array_equal(stacked[:, :, 14:35:3].compute(), expected[:, :, 14:35:3])
    globbed = crackle_dask.open_array("s3://volumes/vectors/connectomics_64x64x16*.ckl", storage_options=s3_files)
    assert globbed.shape == (64, 64, 48)


def test_errors_at_open_time_name_the_file(files, tmp_path):
    data = files["connectomics_64x64x16"].read_bytes()
    with pytest.raises(FileNotFoundError, match="missing.ckl"):
        crackle_dask.open_array(str(tmp_path / "missing.ckl"))
    (tmp_path / "magic.ckl").write_bytes(b"CRKL" + data[4:])
    with pytest.raises(crackle.FormatError, match=r"magic\.ckl"):
        crackle_dask.open_array(str(tmp_path / "magic.ckl"))
    (tmp_path / "cut.ckl").write_bytes(data[: len(data) // 2])
    with pytest.raises(crackle.FormatError, match=r"cut\.ckl: .*truncated"):
        crackle_dask.open_array(str(tmp_path / "cut.ckl"))
    (tmp_path / "empty.ckl").write_bytes(b"")
    with pytest.raises(crackle.FormatError, match=r"empty\.ckl"):
        crackle_dask.open_array(str(tmp_path / "empty.ckl"))
    with pytest.raises(ValueError, match=r"2d_16x13_F\.ckl \(16 x 13"):
        crackle_dask.open_array([str(files["connectomics_64x64x16"]), str(files["2d_16x13_F"])])
    with pytest.raises(ValueError, match="no Crackle files"):
        crackle_dask.open_array([])


@pytest.mark.parametrize("how", ["dask, one slice per chunk", "xarray, lazily indexed"])
def test_one_slice_of_the_connectomics_file_fetches_little(connectomics_stream, tmp_path, how):
    import xarray as xr

    path = tmp_path / "volume.ckl"
    path.write_bytes(connectomics_stream)
    fs = CountingFileSystem(skip_instance_cache=True)
    stream = open_stream(fs, str(path))
    opened = len(fs.ranges)
    z = 300
    if how.startswith("dask"):
        plane = stream_array(stream, chunks=1)[:, :, z].compute()
    else:
        plane = xr.open_dataset(StreamStack([stream]), engine="crackle")["labels"][:, :, z].values
    np.testing.assert_array_equal(plane, crackle.codec.decompress_range(connectomics_stream, z, z + 1)[:, :, 0])
    head, layout = stream.header, stream.layout
    strictly = (head.header_bytes + head.grid_index_bytes + head.num_label_bytes + head.num_markov_model_bytes
                + 4 + int(layout.code_offsets[z + 1] - layout.code_offsets[z]) + 4)
    fetched = sum(stop - start for start, stop in fs.ranges)
    print(f"fetched {fetched:,} bytes in {len(fs.ranges)} requests; the slice strictly needs {strictly:,}")
    assert fetched <= 1.1 * strictly + 16384
    assert len(fs.ranges) - opened <= 4


def test_distributed_cluster_with_processes(files):
    from distributed import Client, LocalCluster

    parts = ["connectomics_64x64x16_pins_markov7", "connectomics_64x64x16", "connectomics_64x64x16_C"]
    expected = np.concatenate([crackle.decompress(files[p].read_bytes()) for p in parts], axis=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        stacked = crackle_dask.open_array([str(files[p]) for p in parts], chunks=4)
        np.testing.assert_array_equal(stacked.compute(), expected)
        assert len(client.run(lambda: 1)) == 2


@pytest.mark.parametrize("order", [None, "C", "F"])
def test_chunk_memory_order(files, order):
    for name in ("connectomics_64x64x16", "connectomics_64x64x16_C", "dtype_int64_extremes"):
        data = files[name].read_bytes()
        arr = crackle_dask.open_array(str(files[name]), chunks=3, order=order)
        wanted = order or ("F" if crackle.header(data).fortran_order else "C")
        flags = arr.map_blocks(lambda b: np.full((1, 1, 1), b.flags[f"{wanted}_CONTIGUOUS"]),
                               chunks=(1, 1, 1), dtype=bool)
        assert flags.all().compute()  # (computing a block itself would hand back a C-order copy)
        np.testing.assert_array_equal(arr.compute(), crackle.decompress(data))
    with pytest.raises(ValueError, match="order"):
        crackle_dask.open_array(str(files["connectomics_64x64x16"]), order="K")
