"""Whole-volume jobs on 3-D chunk grids (precomputed layers), on a 2-process cluster, against
single-machine crackle on the whole volume: every statistic, labels and contains, in the layer's
voxel coordinates (voxel_offset included, as cloud-volume reports them), and connected components
(6, 26, binary) as partitions, also against cc3d."""

import dask
import numpy as np
import pytest

import crackle
import crackle_dask
from tests.cloudvolume_oracle import read_voxel_bounds, write_layer
from crackle_dask.precomputed import Layer
from tests.segmentations import DTYPES, blocky, same_partition


def expected_statistics(arr, offset) -> dict:
    """crackle's statistics of the whole array, moved by ``offset``."""
    stream = crackle.compress(arr)
    boxes = {label: tuple(slice(s.start + o, s.stop + o) for s, o in zip(box, offset))
             for label, box in crackle.bounding_boxes(stream).items()}
    centroids = {label: c + np.array(offset) for label, c in crackle.centroids(stream).items()}
    return {"counts": crackle.voxel_counts(stream), "boxes": boxes, "centroids": centroids,
            "labels": crackle.labels(stream)}


def assert_layer_statistics(url, arr, offset, **options):
    expected = expected_statistics(arr, offset)
    assert crackle_dask.voxel_counts(url, **options) == expected["counts"]
    assert crackle_dask.bounding_boxes(url, **options) == expected["boxes"]
    ours = crackle_dask.centroids(url, **options)
    assert ours.keys() == expected["centroids"].keys()
    for label, centroid in expected["centroids"].items():
        np.testing.assert_allclose(ours[label], centroid, rtol=1e-12)
    np.testing.assert_array_equal(crackle_dask.labels(url, **options), expected["labels"])
    some = int(expected["labels"][-1])
    assert crackle_dask.contains(url, some, **options)
    absent = next(v for v in range(1, 10**6) if v not in expected["counts"])
    assert not crackle_dask.contains(url, absent, **options)
    assert crackle_dask.voxel_counts(url, label=some, **options) == expected["counts"][some]
    box = crackle_dask.bounding_boxes(url, label=some, no_slice_conversion=True, **options)
    np.testing.assert_array_equal(box, [expected["boxes"][some][k].start for k in range(3)]
                                  + [expected["boxes"][some][k].stop - 1 for k in range(3)])
    table = crackle_dask.statistics(url, **options)
    assert table.column("voxel_count").to_pylist() == [expected["counts"][v] for v in expected["labels"].tolist()]
    with pytest.raises(ValueError, match="not in the volume"):
        crackle_dask.voxel_counts(url, label=absent, **options)


def random_layer(rng, tmp_path, name, storage_options=None, root=None):
    dtype = DTYPES[rng.integers(len(DTYPES))]
    shape = tuple(int(n) for n in rng.integers(6, 40, size=3))
    arr = blocky(rng, shape, dtype, nlabels=7, boxes=25, noise=float(rng.choice([0.0, 0.05])))
    chunk = tuple(int(rng.integers(1, n + 1)) for n in shape)  # sizes that need not divide the volume
    offset = tuple(int(v) for v in rng.integers(-20, 50, size=3))
    options = dict(encoding=str(rng.choice(["crackle", "crackle", "raw"])),
                   sharding=[None, True][int(rng.integers(2))])
    url = crackle_dask.to_precomputed(arr, root or str(tmp_path / name), chunk_size=chunk, voxel_offset=offset,
                                      storage_options=storage_options, **options)
    print(name, dtype, shape, chunk, offset, options)
    return url, arr, offset


def test_statistics_on_random_grids(client, seed, tmp_path):
    rng = np.random.default_rng(seed)
    for trial in range(4):
        url, arr, offset = random_layer(rng, tmp_path, f"layer{trial}")
        assert_layer_statistics(url, arr, offset)


def test_statistics_on_s3(client, seed, s3):
    _, options = s3
    rng = np.random.default_rng(seed)
    url, arr, offset = random_layer(rng, None, "s3", options, root=f"s3://volumes/grid-{seed}")
    assert_layer_statistics(url, arr, offset, storage_options=options)


def test_one_voxel_thick_chunks_and_missing_chunks(client, seed, tmp_path):
    rng = np.random.default_rng(seed)
    arr = blocky(rng, (9, 7, 6), np.uint16, nlabels=5, boxes=10)
    arr[arr == 0] = 1  # so that background 0 comes from the missing chunk alone
    url = crackle_dask.to_precomputed(arr, str(tmp_path / "thin"), chunk_size=(1, 3, 2), voxel_offset=(5, 0, 2))
    assert_layer_statistics(url, arr, (5, 0, 2))
    (tmp_path / "thin" / "1_1_1" / "7-8_3-6_4-6").unlink()
    with pytest.raises(crackle.FormatError, match="7-8_3-6_4-6"):
        crackle_dask.voxel_counts(url)
    holed = arr.copy()
    holed[2, 3:6, 2:4] = 0
    assert_layer_statistics(url, holed, (5, 0, 2), fill_missing=True)


def test_layers_cloudvolume_writes_in_its_voxel_coordinates(client, seed, tmp_path):
    rng = np.random.default_rng(seed)
    arr = blocky(rng, (70, 50, 37), np.uint64, nlabels=9, boxes=30)
    path = tmp_path / "cv"
    write_layer(str(path), arr, chunk_size=(32, 32, 16), voxel_offset=(3, 5, 7), mips=1)
    bounds = read_voxel_bounds(str(path))
    assert tuple(bounds["voxel_offset"]) == (3, 5, 7)
    assert_layer_statistics(str(path), arr, tuple(bounds["voxel_offset"]))
    level = crackle_dask.open_precomputed(str(path), mip=1).compute()
    assert_layer_statistics(f"precomputed://{path}", level, tuple(read_voxel_bounds(str(path), 1)["voxel_offset"]),
                            mip=1)


def assert_components_equal(url, out, arr, connectivity, binary_image, **options):
    result = crackle_dask.connected_components(url, out, connectivity, binary_image, **options)
    whole = crackle.connected_components(crackle.compress(arr), connectivity, binary_image).numpy()
    (written,) = result.files
    ours = crackle_dask.open_precomputed(written, storage_options=options.get("storage_options")).compute()
    assert ours.dtype == np.uint32 and result.count == int(whole.max()) == int(ours.max())
    assert same_partition(ours, whole) and np.array_equal(ours == 0, arr == 0)
    return written


def test_connected_components_on_random_grids(client, seed, tmp_path):
    import cc3d

    rng = np.random.default_rng(seed)
    for trial in range(3):
        url, arr, offset = random_layer(rng, tmp_path, f"layer{trial}")
        arr = arr.copy()
        for connectivity in (6, 26):
            for binary_image in (False, True):
                out = str(tmp_path / f"cc{trial}-{connectivity}-{binary_image}")
                written = assert_components_equal(url, out, arr, connectivity, binary_image)
                source, result = Layer.open(url).info.scale(0), Layer.open(written).info.scale(0)
                assert (result.size, result.chunk_size, result.voxel_offset, result.resolution, result.sharding) == \
                    (source.size, source.chunk_size, source.voxel_offset, source.resolution, source.sharding)
        theirs = cc3d.connected_components(arr, connectivity=26)
        ours = crackle_dask.open_precomputed(str(tmp_path / f"cc{trial}-26-False")).compute()
        assert same_partition(ours, theirs)


def test_components_cross_faces_edges_and_corners(client, tmp_path):
    """Objects that touch the next chunk only across an edge or a corner join at 26, not at 6."""
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[1, 1, 1] = arr[2, 2, 2] = 7  # corner to corner: chunks (0, 0, 0) and (1, 1, 1)
    arr[1, 2, 0] = arr[2, 1, 0] = 9  # edge to edge: chunks (0, 1, 0) and (1, 0, 0)
    arr[0, 3, 3] = arr[0, 3, 2] = 5  # across a z face
    url = crackle_dask.to_precomputed(arr, str(tmp_path / "corners"), chunk_size=(2, 2, 2))
    assert crackle_dask.connected_components(url, str(tmp_path / "cc26"), 26).count == 3
    assert crackle_dask.connected_components(url, str(tmp_path / "cc6"), 6).count == 5
    assert_components_equal(url, str(tmp_path / "cc26b"), arr, 26, False)


def test_components_with_thin_and_missing_chunks_on_s3(client, seed, s3):
    fs, options = s3
    rng = np.random.default_rng(seed)
    arr = blocky(rng, (9, 7, 6), np.uint16, nlabels=5, boxes=10)
    url = crackle_dask.to_precomputed(arr, f"s3://volumes/thin-{seed}", chunk_size=(1, 3, 2), sharding=True,
                                      storage_options=options)
    assert_components_equal(url, f"s3://volumes/thin-cc-{seed}", arr, 26, False, storage_options=options)
    plain = crackle_dask.to_precomputed(arr, f"s3://volumes/holed-{seed}", chunk_size=(3, 3, 2),
                                        storage_options=options)
    fs.rm(f"volumes/holed-{seed}/1_1_1/3-6_3-6_2-4")
    holed = arr.copy()
    holed[3:6, 3:6, 2:4] = 0
    assert_components_equal(plain, f"s3://volumes/holed-cc-{seed}", holed, 6, False, fill_missing=True,
                            storage_options=options)


def test_a_worker_killed_mid_job_on_a_grid(connectomics_stream, tmp_path):
    """The job completes (Dask reruns the lost tasks); the output layer is whole and right."""
    import os
    import signal
    import time

    from distributed import Client, LocalCluster

    arr = crackle.decompress(connectomics_stream)[:256, :256, :128]
    with dask.config.set(scheduler="threads"):  # here, not on the module's cluster: no 32 MiB graph to send
        url = crackle_dask.to_precomputed(arr, str(tmp_path / "layer"), chunk_size=(64, 64, 32), sharding=True)
    out = tmp_path / "cc"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        pids = client.run(os.getpid)
        future = client.compute(crackle_dask.connected_components(url, str(out), 26, compute=False))
        holders = []
        while not holders:  # a worker holding a labelled chunk, which the job still needs
            holders = [w for key, where in client.who_has().items() if str(key).startswith("label-") for w in where]
            time.sleep(0.005)
        assert not future.done()
        os.kill(pids[holders[0]], signal.SIGKILL)  # the Nanny starts a new worker; lost tasks run again
        result = future.result(timeout=600)
        assert pids[holders[0]] not in client.run(os.getpid).values()
    ours = crackle_dask.open_precomputed(result.files[0]).compute()
    whole = crackle.connected_components(crackle.compress(arr), 26).numpy()
    assert result.count == int(whole.max()) and same_partition(ours, whole)
