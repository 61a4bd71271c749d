"""The write path: CrackleWriter (slab by slab) and crackle_dask.to_crackle (a task per chunk)."""

import gzip
import json
import os

import dask
import dask.array as da
import numpy as np
import pytest

import crackle
import crackle_dask
from tests.reference import reference_decompress
from tests.segmentations import DTYPES, blocky


@pytest.fixture(scope="module")
def connectomics(connectomics_stream) -> np.ndarray:
    return crackle.decompress(connectomics_stream)


@pytest.mark.parametrize("depth", [1, 7, 64])
def test_writer_equals_compress_for_any_slab_depth(connectomics, depth, tmp_path):
    path = tmp_path / "written.ckl"
    with crackle.CrackleWriter(str(path), connectomics.shape[:2], connectomics.dtype) as writer:
        for z in range(0, connectomics.shape[2], depth):
            writer.write(connectomics[:, :, z : z + depth])
    assert path.read_bytes() == crackle.compress(connectomics)


def test_writer_with_pins_markov_and_spilling(connectomics, reference):
    written = {}
    for name, options in {"pins": {"allow_pins": True}, "markov": {"markov_model_order": 7}}.items():
        with crackle.CrackleWriter(None, connectomics.shape[:2], connectomics.dtype,
                                   spill_bytes=100_000, **options) as writer:  # most slabs go to the file
            for z in range(0, connectomics.shape[2], 16):
                writer.write(connectomics[:, :, z : z + 16])
            written[name] = writer.close()
        assert writer.close() is None  # closing twice does nothing
    assert written["markov"] == crackle.compress(connectomics, markov_model_order=7)
    assert crackle.header(written["pins"]).label_format == crackle.LabelFormat.PINS_VARIABLE_WIDTH
    np.testing.assert_array_equal(crackle.decompress(written["pins"]), connectomics)
    # Pins cut at slab boundaries cost little (the docs say about 2 % for 7-slice slabs).
    assert len(written["pins"]) < 1.03 * len(crackle.compress(connectomics, allow_pins=True))
    (theirs,) = reference_decompress([written["pins"]])
    np.testing.assert_array_equal(theirs, connectomics)


def test_writer_on_random_volumes(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        dtype = DTYPES[rng.integers(len(DTYPES))]
        shape = (int(rng.integers(1, 30)), int(rng.integers(1, 30)), int(rng.integers(1, 30)))
        arr = blocky(rng, shape, dtype, noise=float(rng.choice([0.0, 0.3, 0.9])), order=rng.choice(["C", "F"]))
        order = int(rng.integers(3))
        memory = "F" if arr.flags.f_contiguous else "C"  # compress records the array's memory order
        with crackle.CrackleWriter(None, shape[:2], dtype, markov_model_order=order, order=memory) as writer:
            z = 0
            while z < shape[2]:
                step = int(rng.integers(0, 6))
                writer.write(arr[:, :, z : z + step])
                z += step
            stream = writer.close()
        # The crack format is the whole volume's, even when the first slab asked for the other one.
        assert stream == crackle.compress(arr, markov_model_order=order)


def test_writer_refuses_bad_slabs_and_leaves_the_old_file(tmp_path):
    path = tmp_path / "kept.ckl"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="shape"):
        with crackle.CrackleWriter(str(path), (4, 5), np.uint16) as writer:
            writer.write(np.zeros((4, 5, 3), np.uint16))
            writer.write(np.zeros((5, 4, 3), np.uint16))
    with pytest.raises(ValueError, match="cannot be written"):
        crackle.CrackleWriter(None, (4, 5), np.uint8).write(np.zeros((4, 5), np.int64))
    with pytest.raises(ValueError, match="markov_model_order"):
        crackle.CrackleWriter(None, (4, 5), np.uint8, markov_model_order=16)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["kept.ckl"]
    with crackle.CrackleWriter(str(path), (4, 5), np.uint16) as writer:
        pass  # no slabs: an empty volume
    assert crackle.header(path.read_bytes()).sz == 0 and crackle.decompress(path.read_bytes()).shape == (4, 5, 0)
    with crackle.CrackleWriter(None, (0, 5), np.uint8) as writer:  # slabs of no voxels still count in z
        writer.write(np.zeros((0, 5, 3), np.uint8))
        assert writer.close() == crackle.compress(np.zeros((0, 5, 3), np.uint8, order="F"))


def test_writer_peak_memory_is_bounded(connectomics, tmp_path):
    """16-slice slabs of the 512^3 volume: Python-side allocations stay below 64 MiB plus the output
    (numpy's allocations are traced; the slabs themselves are views of the volume)."""
    import tracemalloc

    tracemalloc.start()
    with crackle.CrackleWriter(str(tmp_path / "v.ckl"), connectomics.shape[:2], connectomics.dtype) as writer:
        for z in range(0, 512, 16):
            writer.write(connectomics[:, :, z : z + 16])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < (64 << 20) + (tmp_path / "v.ckl").stat().st_size


def random_volume(rng, shape=None):
    dtype = DTYPES[rng.integers(len(DTYPES))]
    shape = shape or (int(rng.integers(4, 40)), int(rng.integers(4, 40)), int(rng.integers(10, 60)))
    return blocky(rng, shape, dtype, noise=float(rng.choice([0.0, 0.2])))


def irregular(arr, rng) -> da.Array:
    """A Dask array over ``arr`` with random, uneven chunks along every axis."""
    def cuts(n):
        inner = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(0, 5))), replace=False))
        return tuple(np.diff(np.concatenate([[0], inner, [n]])).tolist())
    return da.from_array(arr, chunks=tuple(cuts(n) for n in arr.shape))


def test_to_crackle_single_file_equals_compress(seed, tmp_path):
    rng = np.random.default_rng(seed)
    for i in range(6):
        arr = random_volume(rng)
        order = int(rng.integers(0, 4))
        url = crackle_dask.to_crackle(irregular(arr, rng), str(tmp_path / f"v{i}.ckl"), markov_model_order=order)
        assert url == f"file://{tmp_path / f'v{i}.ckl'}"
        assert (tmp_path / f"v{i}.ckl").read_bytes() == crackle.compress(np.asfortranarray(arr), markov_model_order=order)
    # numpy input keeps its memory order, as compress does
    arr = np.ascontiguousarray(random_volume(rng))
    crackle_dask.to_crackle(arr, str(tmp_path / "c.ckl"))
    assert (tmp_path / "c.ckl").read_bytes() == crackle.compress(arr)
    crackle_dask.to_crackle(arr, str(tmp_path / "g.ckl.gz"))
    assert gzip.decompress((tmp_path / "g.ckl.gz").read_bytes()) == crackle.compress(arr)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporary file is left


@pytest.mark.parametrize("order", ["F", "C"])
def test_numpy_volumes_are_encoded_from_views_of_their_slabs(order, seed, tmp_path, monkeypatch):
    """A numpy volume is not copied (``da.from_array`` would copy it into C order): each task gets a
    view of a z slab, at least one slab per core, none larger than the slab limit; the file is
    compress's, and 2-D and empty volumes too."""
    from crackle.threads import thread_count
    from crackle_dask import volumes

    rng = np.random.default_rng(seed)
    arr = np.asarray(blocky(rng, (23, 17, 40), np.uint16, nlabels=6, noise=0.1), order=order)
    monkeypatch.setattr(volumes, "_SLAB_BYTES", 23 * 17 * 2 * 3)  # three slices
    data = volumes.label_volume(arr).data
    blocks = [block for block in data.__dask_graph__().values() if isinstance(block, np.ndarray)]
    assert len(blocks) == data.numblocks[2] and all(np.shares_memory(block, arr) for block in blocks)
    assert data.chunks[2] == (3,) * 13 + (1,)
    monkeypatch.undo()
    assert volumes.label_volume(arr).data.numblocks[2] >= min(40, thread_count(0))
    for name, volume in (("v", arr), ("flat", arr[:, :, 5]), ("empty", arr[:, :, :0])):
        crackle_dask.to_crackle(volume, str(tmp_path / f"{name}.ckl"))
        assert (tmp_path / f"{name}.ckl").read_bytes() == crackle.compress(volume)


def test_to_crackle_many_files_round_trip(seed, tmp_path, reference):
    rng = np.random.default_rng(seed)
    streams, arrays = [], []
    for i in range(4):
        arr = random_volume(rng)
        per_file = int(rng.integers(1, arr.shape[2] + 3))
        folder = tmp_path / f"v{i}"
        urls = crackle_dask.to_crackle(irregular(arr, rng), str(folder), z_per_file=per_file,
                                       allow_pins=bool(rng.integers(2)), markov_model_order=int(rng.integers(3)))
        names = sorted(n for n in os.listdir(folder) if n.endswith(".ckl"))
        assert [u.rsplit("/", 1)[1] for u in urls] == names and len(names) == -(-arr.shape[2] // per_file)
        assert sorted(os.listdir(folder)) == names + ["manifest.json"]  # nothing else, no temporary file
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["shape"] == list(arr.shape) and np.dtype(manifest["dtype"]) == arr.dtype
        assert [f["name"] for f in manifest["files"]] == names
        for opened in (crackle_dask.open_array(str(folder)), crackle_dask.open_array(str(folder / "*.ckl")),
                       crackle_dask.open_array(str(folder / "manifest.json"))):
            np.testing.assert_array_equal(opened.compute(), arr)
        for entry in manifest["files"]:
            data = (folder / entry["name"]).read_bytes()
            assert len(data) == entry["bytes"]
            z0, z1 = entry["z"]
            np.testing.assert_array_equal(crackle.decompress(data), arr[:, :, z0:z1])
            streams.append(data)
            arrays.append(arr[:, :, z0:z1])
    for theirs, expected in zip(reference_decompress(streams), arrays):
        np.testing.assert_array_equal(theirs, expected)


def test_to_crackle_takes_xarray(seed, tmp_path):
    import xarray as xr

    arr = random_volume(np.random.default_rng(seed))
    data = xr.DataArray(da.from_array(arr.transpose(2, 1, 0), chunks=(7, -1, -1)), dims=("z", "y", "x"))
    crackle_dask.to_crackle(data, str(tmp_path / "a.ckl"))
    crackle_dask.to_crackle(xr.Dataset({"labels": data}), str(tmp_path / "b.ckl"))
    for name in ("a.ckl", "b.ckl"):
        assert (tmp_path / name).read_bytes() == crackle.compress(np.asfortranarray(arr))
    with pytest.raises(ValueError, match="dimensions"):
        crackle_dask.to_crackle(data.rename(z="t"), str(tmp_path / "c.ckl"))


def test_to_crackle_of_the_connectomics_volume(connectomics, connectomics_stream, tmp_path, s3, reference):
    fs, options = s3
    source = tmp_path / "source.ckl"
    source.write_bytes(connectomics_stream)
    volume = crackle_dask.open_array(str(source), chunks=48)
    url = crackle_dask.to_crackle(volume, str(tmp_path / "one.ckl"))
    assert (tmp_path / "one.ckl").read_bytes() == crackle.compress(connectomics)
    urls = crackle_dask.to_crackle(volume, "s3://volumes/written", z_per_file=100, allow_pins=True,
                                   markov_model_order=5, storage_options=options)
    assert len(urls) == 6 and url.endswith("one.ckl")
    back = crackle_dask.open_array("s3://volumes/written", storage_options=options)
    np.testing.assert_array_equal(back.compute(), connectomics)
    last = fs.cat_file("volumes/written/500-512.ckl")
    (theirs,) = reference_decompress([last])
    np.testing.assert_array_equal(theirs, connectomics[:, :, 500:])


def test_a_failing_task_leaves_the_folder_as_it_was(seed, tmp_path, monkeypatch):
    import crackle_dask.writing as writing

    arr = random_volume(np.random.default_rng(seed), (12, 10, 40))
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "00-10.ckl").write_bytes(b"not ours to lose")
    before = sorted(os.listdir(folder))

    def broken(block, block_info=None):
        if block_info[0]["chunk-location"][2] == 3:  # slices 30-39
            raise RuntimeError("inference failed")
        return block

    failing = da.from_array(arr, chunks=(-1, -1, 10)).map_blocks(broken, dtype=arr.dtype)
    with pytest.raises(RuntimeError, match="inference failed"):
        crackle_dask.to_crackle(failing, str(folder), z_per_file=10)
    assert sorted(os.listdir(folder)) == before and (folder / "00-10.ckl").read_bytes() == b"not ours to lose"

    real = writing.joined_parts

    def stops_midway(*args, **kwargs):
        parts = iter(real(*args, **kwargs))
        yield next(parts)
        raise OSError("disk full")

    monkeypatch.setattr(writing, "joined_parts", stops_midway)
    with dask.config.set(scheduler="sync"), pytest.raises(OSError, match="disk full"):
        crackle_dask.to_crackle(arr, str(folder), z_per_file=10)
    with dask.config.set(scheduler="sync"), pytest.raises(OSError, match="disk full"):
        crackle_dask.to_crackle(arr, str(folder / "00-10.ckl"))
    assert sorted(os.listdir(folder)) == before and (folder / "00-10.ckl").read_bytes() == b"not ours to lose"
