"""Whole-stack analysis on a dask.distributed cluster: reductions, connected components, zstack,
sidecars; files on local disk and on an in-process S3; a worker killed mid-job."""

import os
import signal
import time

import dask
import numpy as np
import pytest

import crackle
import crackle_dask
from crackle import codec
from crackle.files import atomic_write_on
from crackle.stacking import zrange
from tests.segmentations import DTYPES, blocky, same_partition


def split(stream, cuts) -> list:
    """The stream cut into z ranges at ``cuts``."""
    bounds = [0, *cuts, crackle.header(stream).sz]
    return [zrange(stream, a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def write_parts(parts, folder) -> str:
    """Parts written as ``folder/partNN.ckl``; the glob that stacks them back in order."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(parts):
        (folder / f"part{i:02d}.ckl").write_bytes(part)
    return str(folder / "part*.ckl")


def random_stack(rng, tmp_path) -> tuple:
    """A random segmentation (random dtype and shape) cut into 4 to 16 files at random z."""
    dtype = DTYPES[rng.integers(len(DTYPES))]
    shape = (int(rng.integers(5, 40)), int(rng.integers(5, 40)), int(rng.integers(16, 48)))
    arr = blocky(rng, shape, dtype, nlabels=6, boxes=25, noise=float(rng.choice([0.0, 0.05])))
    arr[rng.random(shape) < 0.1] = 0
    stream = crackle.compress(arr, allow_pins=bool(rng.integers(2)), markov_model_order=int(rng.integers(3)))
    cuts = np.sort(rng.choice(np.arange(1, shape[2]), size=int(rng.integers(3, 16)), replace=False)).tolist()
    return arr, stream, write_parts(split(stream, cuts), tmp_path / "parts")


def assert_statistics_equal(pattern, stream, storage_options=None):
    options = {"storage_options": storage_options}
    assert crackle_dask.voxel_counts(pattern, **options) == crackle.voxel_counts(stream)
    assert crackle_dask.bounding_boxes(pattern, **options) == crackle.bounding_boxes(stream)
    ours, theirs = crackle_dask.centroids(pattern, **options), crackle.centroids(stream)
    assert ours.keys() == theirs.keys()
    for label in theirs:
        np.testing.assert_allclose(ours[label], theirs[label], rtol=1e-12)
    np.testing.assert_array_equal(crackle_dask.labels(pattern, **options), crackle.labels(stream))
    some = int(crackle.labels(stream)[-1])
    assert crackle_dask.contains(pattern, some, **options)
    assert crackle_dask.voxel_counts(pattern, label=some, **options) == crackle.voxel_counts(stream, label=some)
    np.testing.assert_array_equal(crackle_dask.bounding_boxes(pattern, label=some, no_slice_conversion=True, **options),
                                  crackle.bounding_boxes(stream, label=some, no_slice_conversion=True))
    table = crackle_dask.statistics(pattern, **options)
    np.testing.assert_array_equal(table.column("label").to_numpy(), crackle.labels(stream))
    counts = crackle.voxel_counts(stream)
    assert table.column("voxel_count").to_pylist() == [counts[v] for v in crackle.labels(stream).tolist()]


def test_reductions_match_the_whole_volume(client, seed, tmp_path):
    rng = np.random.default_rng(seed)
    for trial in range(3):
        arr, stream, pattern = random_stack(rng, tmp_path / str(trial))
        assert_statistics_equal(pattern, stream)
        absent = next(v for v in range(1, 10**6) if not codec.contains(stream, v))
        assert not crackle_dask.contains(pattern, absent)
        with pytest.raises(ValueError, match="not in the volume"):
            crackle_dask.voxel_counts(pattern, label=absent)


@pytest.mark.parametrize("connectivity", [6, 26])
def test_connected_components_match_the_whole_volume(client, seed, tmp_path, connectivity):
    rng = np.random.default_rng(seed)
    for trial in range(3):
        arr, stream, pattern = random_stack(rng, tmp_path / str(trial))
        for binary_image in (False, True):
            out = tmp_path / str(trial) / f"cc-{binary_image}"
            result = crackle_dask.connected_components(pattern, str(out), connectivity, binary_image)
            whole = crackle.connected_components(stream, connectivity, binary_image)
            assert result.count == int(crackle.max(whole))
            assert [os.path.basename(f) for f in result.files] == sorted(os.listdir(out))
            ours = crackle_dask.open_array(result.files).compute()
            assert ours.dtype == np.uint32 and ours.max() == result.count
            assert same_partition(ours, whole.numpy()) and np.array_equal(ours == 0, arr == 0)


def test_every_job_refuses_bad_stacks(client, tmp_path):
    parts = split(crackle.compress(np.arange(60, dtype=np.uint16).reshape(3, 4, 5)), [2])
    narrow = crackle.compress(np.ones((3, 3, 2), dtype=np.uint16))
    pattern = write_parts(parts + [narrow], tmp_path / "parts")
    for job in (crackle_dask.voxel_counts, crackle_dask.labels):
        with pytest.raises(ValueError, match="must match"):
            job(pattern)
    with pytest.raises(ValueError, match="must match"):
        crackle_dask.connected_components(pattern, str(tmp_path / "out"))
    with pytest.raises(ValueError, match="holds the inputs"):
        crackle_dask.connected_components(pattern, str(tmp_path / "parts"))
    with pytest.raises(ValueError, match="connectivity"):
        crackle_dask.connected_components(pattern, str(tmp_path / "out"), connectivity=4)


def test_results_are_dask_objects_for_progress(client, seed, tmp_path):
    from distributed import progress

    arr, stream, pattern = random_stack(np.random.default_rng(seed), tmp_path)
    lazy = crackle_dask.voxel_counts(pattern, compute=False)
    assert dask.is_dask_collection(lazy)
    future = client.compute(lazy)
    progress(future)
    assert future.result() == crackle.voxel_counts(stream)
    assert crackle_dask.labels(pattern, progress=True).tolist() == crackle.labels(stream).tolist()
    with dask.config.set(scheduler="threads"):  # the local schedulers' progress bar
        assert crackle_dask.voxel_counts(pattern, progress=True, use_sidecars=False) == crackle.voxel_counts(stream)


def test_sidecars_are_written_and_used_when_fresh(seed, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    import crackle_dask.reductions as reductions

    arr, stream, pattern = random_stack(np.random.default_rng(seed), tmp_path)
    files = sorted((tmp_path / "parts").glob("part*.ckl"))
    sidecars = [f.with_suffix(".ckl.meta.parquet") for f in files]
    truth = crackle.voxel_counts(stream)
    real = reductions.label_statistics

    def counts_without_crack_codes():
        """voxel_counts with the crack-code path patched out: TypeError unless every sidecar is used."""
        monkeypatch.setattr(reductions, "label_statistics", None)
        try:
            return crackle_dask.voxel_counts(pattern)
        finally:
            monkeypatch.setattr(reductions, "label_statistics", real)

    with dask.config.set(scheduler="sync"):  # in this process, so that the patch applies
        written = crackle_dask.write_sidecars(pattern)
        assert written == [f"file://{s}" for s in sidecars]
        assert counts_without_crack_codes() == truth
        monkeypatch.setattr(reductions, "label_statistics", None)
        assert crackle_dask.bounding_boxes(pattern) == crackle.bounding_boxes(stream)
        with pytest.raises(TypeError):
            crackle_dask.centroids(pattern)  # needs coordinate sums, which sidecars lack
        monkeypatch.setattr(reductions, "label_statistics", real)
        # A sidecar names its stream: another file's is not used, even if older or alike.
        sidecars[0].write_bytes(sidecars[1].read_bytes())
        with pytest.raises(TypeError):
            counts_without_crack_codes()
        assert crackle_dask.voxel_counts(pattern) == truth
        # crackle-codec's sidecars name no stream: used when at least as new as the file.
        crackle_dask.write_sidecars([str(files[0])])
        pq.write_table(pq.read_table(sidecars[0]).replace_schema_metadata(None), sidecars[0])
        assert counts_without_crack_codes() == truth
        os.utime(sidecars[0], (0, 0))
        with pytest.raises(TypeError):
            counts_without_crack_codes()
        assert crackle_dask.voxel_counts(pattern) == truth


def test_zstack_joins_files_without_decoding(seed, tmp_path):
    rng = np.random.default_rng(seed)
    arr, stream, pattern = random_stack(rng, tmp_path)
    joined = crackle_dask.zstack(pattern, str(tmp_path / "joined.ckl.gz"))
    result = crackle.load(joined)
    np.testing.assert_array_equal(result, arr)
    mixed = [crackle.compress(arr[:, :, :5], markov_model_order=2), crackle.compress(arr[:, :, 5:], allow_pins=True)]
    crackle_dask.zstack(write_parts(mixed, tmp_path / "mixed"), str(tmp_path / "mixed.ckl"))
    np.testing.assert_array_equal(crackle.decompress((tmp_path / "mixed.ckl").read_bytes()), arr)


def test_failed_writes_leave_nothing(tmp_path, s3):
    from fsspec.implementations.local import LocalFileSystem

    fs, options = s3
    target = tmp_path / "kept.ckl"
    target.write_bytes(b"old")
    for filesystem, path in ((LocalFileSystem(), str(target)), (fs, "volumes/failed/kept.ckl")):
        with pytest.raises(RuntimeError):
            with atomic_write_on(filesystem, path) as handle:
                handle.write(b"partial")
                raise RuntimeError("stopped")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["kept.ckl"]
    assert not fs.exists("volumes/failed/kept.ckl")


@pytest.fixture(scope="module")
def connectomics_parts(connectomics_stream):
    """The 512^3 volume in 8 files of uneven depth."""
    return split(connectomics_stream, [40, 100, 164, 200, 301, 384, 450])


def component_labels(stream) -> np.ndarray:
    """The label of every slice component (for streams over the same crack codes, aligned)."""
    return codec.component_values(stream)


def crack_code_bytes(stream) -> bytes:
    view = codec.stream_view(stream)
    return bytes(view.read(int(view.layout.code_offsets[0]), int(view.layout.code_offsets[-1])))


@pytest.mark.parametrize("where", ["local", "s3"])
def test_connectomics_on_local_disk_and_s3(client, connectomics_stream, connectomics_parts, tmp_path, s3, where):
    if where == "local":
        pattern, options, out = write_parts(connectomics_parts, tmp_path / "parts"), None, str(tmp_path / "cc")
    else:
        fs, options = s3
        for i, part in enumerate(connectomics_parts):
            fs.pipe(f"volumes/connectomics/part{i:02d}.ckl", part)
        pattern, out = "s3://volumes/connectomics/part*.ckl", "s3://volumes/connectomics-cc"
    assert_statistics_equal(pattern, connectomics_stream, options)
    for connectivity in (6, 26):
        result = crackle_dask.connected_components(pattern, f"{out}/{connectivity}", connectivity,
                                                   storage_options=options)
        joined = str(tmp_path / f"joined-{connectivity}.ckl")
        crackle_dask.zstack(result.files, joined, storage_options=options)
        joined = open(joined, "rb").read()
        assert crack_code_bytes(joined) == crack_code_bytes(connectomics_stream)  # only the labels are new
        whole = crackle.connected_components(connectomics_stream, connectivity)
        assert result.count == int(crackle.max(whole))
        assert same_partition(component_labels(joined), component_labels(whole))
        np.testing.assert_array_equal(crackle.decompress(joined)[:, :, 99:101] == 0,
                                      crackle.decompress(connectomics_stream)[:, :, 99:101] == 0)


def test_a_worker_killed_mid_job_leaves_no_partial_output(connectomics_stream, tmp_path):
    """The job completes (Dask reruns the lost tasks); every output file is whole."""
    from distributed import Client, LocalCluster

    parts = split(connectomics_stream, list(range(32, 512, 32)))
    pattern = write_parts(parts, tmp_path / "parts")
    out = tmp_path / "cc"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        future = client.compute(crackle_dask.connected_components(pattern, str(out), 26, compute=False))
        while not future.done() and not any(not n.startswith(".") for n in os.listdir(out)):
            time.sleep(0.005)
        assert not future.done()  # the kill comes while outputs are being written
        os.kill(pids[0], signal.SIGKILL)  # the Nanny starts a new worker; lost tasks run again
        result = future.result(timeout=600)
        assert len(client.run(os.getpid)) == 2 and pids[0] not in client.run(os.getpid).values()
    names = sorted(n for n in os.listdir(out) if not n.startswith("."))
    assert names == [f"part{i:02d}.ckl" for i in range(16)]
    assert all(n.endswith(".partial") for n in os.listdir(out) if n.startswith("."))
    whole = crackle.connected_components(connectomics_stream, 26)
    joined = crackle.zstack([(out / name).read_bytes() for name in names])
    for name in names:
        report = crackle.codec.check((out / name).read_bytes())  # every section's checksum holds
        assert report == {"header": True, "crack_index": True, "labels": True, "z": []}
    assert result.count == int(crackle.max(whole))
    assert same_partition(component_labels(joined), component_labels(whole))


def test_to_crackle_on_the_cluster(client, seed, tmp_path, s3):
    """Chunks encoded on worker processes; files written from the workers, locally and to S3."""
    import dask.array as da

    fs, options = s3
    rng = np.random.default_rng(seed)
    arr = blocky(rng, (30, 20, 45), np.uint32, noise=0.1)
    volume = da.from_array(arr, chunks=(-1, 7, (5, 11, 20, 9)))
    crackle_dask.to_crackle(volume, str(tmp_path / "one.ckl"), markov_model_order=3)
    assert (tmp_path / "one.ckl").read_bytes() == crackle.compress(arr, markov_model_order=3)
    urls = crackle_dask.to_crackle(volume, "s3://volumes/cluster-written", z_per_file=8, storage_options=options)
    assert len(urls) == 6 and fs.exists("volumes/cluster-written/manifest.json")
    back = crackle_dask.open_array("s3://volumes/cluster-written", storage_options=options)
    np.testing.assert_array_equal(back.compute(), arr)
