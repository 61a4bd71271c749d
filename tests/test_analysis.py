"""Voxel counts, centroids, bounding boxes and the parquet sidecar, against numpy and crackle-codec."""

import numpy as np
import pyarrow.parquet as pq
import pytest

import crackle
from tests.reference import reference_decompress, run_reference
from tests.segmentations import DTYPES, blocky, same_partition


def per_label(arr: np.ndarray) -> dict:
    """{label: (count, centroid, [xmin, ymin, zmin, xmax, ymax, zmax])} by plain numpy."""
    out = {}
    for value in np.unique(arr):
        where = np.argwhere(arr == value)
        out[int(value)] = (len(where), where.mean(axis=0), np.concatenate([where.min(axis=0), where.max(axis=0)]))
    return out


def volumes(seed: int) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for dtype in DTYPES:
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)), int(rng.integers(1, 9)))
        arr = blocky(rng, shape, dtype, nlabels=int(rng.integers(1, 15)), noise=float(rng.choice([0, 0.05])),
                     order=str(rng.choice(["C", "F"])))
        pins = int(np.dtype(dtype).kind == "u")
        out.append((arr, crackle.compress(arr, allow_pins=pins, markov_model_order=int(rng.integers(0, 5)))))
    arr2d = blocky(rng, (30, 20), np.uint16, nlabels=5)
    out.append((arr2d[:, :, None], crackle.compress(arr2d)))
    return out


def test_statistics_match_numpy(seed):
    for arr, stream in volumes(seed):
        expected = per_label(arr)
        counts = crackle.voxel_counts(stream)
        assert counts == {k: v[0] for k, v in expected.items()}
        centroids = crackle.centroids(stream)
        boxes = crackle.bounding_boxes(stream, no_slice_conversion=True)
        slices = crackle.bounding_boxes(stream)
        assert sorted(centroids) == sorted(boxes) == sorted(expected)
        for value, (count, centroid, box) in expected.items():
            np.testing.assert_allclose(centroids[value], centroid)
            np.testing.assert_array_equal(boxes[value], box)
            assert slices[value] == tuple(slice(int(box[k]), int(box[k + 3]) + 1) for k in range(3))
            assert crackle.voxel_counts(stream, label=value) == count
            np.testing.assert_allclose(crackle.centroids(stream, label=value), centroid)
            np.testing.assert_array_equal(crackle.bounding_boxes(stream, label=value, no_slice_conversion=True), box)
        absent = next(v for v in range(1000) if v not in expected)
        with pytest.raises(ValueError):
            crackle.voxel_counts(stream, label=absent)


def faces(arr: np.ndarray) -> set:
    return set(np.unique(np.concatenate([arr[0].ravel(), arr[-1].ravel(), arr[:, 0].ravel(), arr[:, -1].ravel(),
                                         arr[:, :, 0].ravel(), arr[:, :, -1].ravel()])).tolist())


def test_each_and_edge_labels_match_numpy(seed):
    for arr, stream in volumes(seed):
        labels = np.unique(arr)
        assert crackle.edge_labels(stream) == faces(arr)
        images = crackle.each(stream)
        assert len(images) == labels.size
        seen = []
        for label, image in images:
            where = np.argwhere(arr == label)
            low, high = where.min(axis=0), where.max(axis=0) + 1
            np.testing.assert_array_equal(image, arr[low[0] : high[0], low[1] : high[1], low[2] : high[2]] == label)
            seen.append(label)
        assert seen == labels.tolist()
        subset = [int(labels[-1]), 10**6 + 7]
        for label, image in crackle.each(stream, crop=False, labels=subset):
            np.testing.assert_array_equal(image, arr == label)
        for label, value, image in crackle.CrackleArray(stream).each(multi=True):
            np.testing.assert_array_equal(image == value, arr == label)


def test_connectomics_against_crackle_codec(connectomics_stream, reference, tmp_path):
    path = tmp_path / "volume.ckl"
    path.write_bytes(connectomics_stream)
    theirs = run_reference(f"""
import json, crackle
stream = open({str(path)!r}, "rb").read()
counts = crackle.voxel_counts(stream)
boxes = crackle.bounding_boxes(stream, no_slice_conversion=True)
centroids = crackle.centroids(stream)
edges = sorted(int(v) for v in crackle.edge_labels(stream))
print(json.dumps({{"edges": edges, "counts": {{str(k): int(v) for k, v in counts.items()}},
                  "boxes": {{str(k): [int(x) for x in v] for k, v in boxes.items()}},
                  "centroids": {{str(k): [float(x) for x in v] for k, v in centroids.items()}}}}))
""")
    counts = crackle.voxel_counts(connectomics_stream)
    assert {str(k): v for k, v in counts.items()} == theirs["counts"]
    boxes = crackle.bounding_boxes(connectomics_stream, no_slice_conversion=True)
    assert {str(k): v.tolist() for k, v in boxes.items()} == theirs["boxes"]
    centroids = crackle.centroids(connectomics_stream)
    for key, value in theirs["centroids"].items():
        np.testing.assert_allclose(centroids[int(key)], value, rtol=1e-9)
    assert sorted(crackle.edge_labels(connectomics_stream)) == theirs["edges"]
    decoded = crackle.decompress(connectomics_stream)
    values, numbers = np.unique(decoded, return_counts=True)
    assert counts == dict(zip(values.tolist(), numbers.tolist()))


def test_sidecar_matches_the_statistics(tmp_path):
    rng = np.random.default_rng(5)
    arr = blocky(rng, (70, 40, 6), np.uint32, nlabels=12)
    stream = crackle.compress(arr)
    path = tmp_path / "v.ckl.gz"
    crackle.save(stream, path)
    crackle.aload(path).cache_meta(path)
    table = pq.read_table(tmp_path / "v.ckl.meta.parquet")
    assert table.schema.names == ["label", "voxel_count", "min_x", "max_x", "min_y", "max_y", "min_z", "max_z"]
    assert str(table.schema.field("voxel_count").type) == "uint32" and str(table.schema.field("min_x").type) == "uint16"
    rows = table.to_pydict()
    counts = crackle.voxel_counts(stream)
    boxes = crackle.bounding_boxes(stream, no_slice_conversion=True)
    assert rows["label"] == sorted(counts) and rows["voxel_count"] == [counts[v] for v in rows["label"]]
    for i, value in enumerate(rows["label"]):
        assert [rows[c][i] for c in ("min_x", "min_y", "min_z", "max_x", "max_y", "max_z")] == boxes[value].tolist()
    flat = crackle.to_parquet(crackle.compress(arr[:, :, :1]))
    assert "min_z" not in flat.schema.names


def test_command_line_sidecars(tmp_path):
    import subprocess
    import sys

    np.save(tmp_path / "a.npy", blocky(np.random.default_rng(1), (20, 20, 4), np.uint8))
    from tests.conftest import child_env

    run = lambda *args: subprocess.run([sys.executable, "-m", "crackle", *args], cwd=tmp_path,  # noqa: E731
                                       env=child_env(), capture_output=True, text=True)
    assert run("-M", "a.npy").returncode == 0
    assert pq.read_table(tmp_path / "a.ckl.meta.parquet").num_rows == crackle.num_labels((tmp_path / "a.ckl").read_bytes())
    (tmp_path / "a.ckl.meta.parquet").unlink()
    assert run("meta", "a.ckl").returncode == 0 and (tmp_path / "a.ckl.meta.parquet").exists()
    done = run("meta", "--print", "a.ckl")
    assert "voxel_count" in done.stdout


@pytest.mark.parametrize("connectivity", [6, 26])
def test_connected_components_match_cc3d(seed, connectivity):
    import cc3d

    for arr, stream in volumes(seed):
        for binary_image in (False, True):
            plane = arr.shape[0] * arr.shape[1] * 4
            result, mapping = crackle.connected_components(stream, connectivity, binary_image,
                                                           memory_target=2 * plane, return_mapping=True)
            ours = result.numpy().reshape(arr.shape)
            theirs = cc3d.connected_components(arr, connectivity=connectivity, binary_image=binary_image)
            assert same_partition(ours, theirs)
            assert (ours == 0).sum() == (arr == 0).sum() and ours.max() == theirs.max()
            if not binary_image:
                for label, original in mapping.items():
                    assert np.all(arr[ours == label] == original)


@pytest.mark.parametrize("connectivity", [6, 26])
def test_connected_components_of_connectomics(connectomics_stream, connectivity, reference):
    import cc3d

    result = crackle.connected_components(connectomics_stream, connectivity, memory_target=512 * 512 * 4 * 40)
    decoded = crackle.decompress(connectomics_stream)
    assert same_partition(result.numpy(), cc3d.connected_components(decoded, connectivity=connectivity))
    (theirs,) = reference_decompress([result.binary])
    np.testing.assert_array_equal(theirs, result.numpy())


def test_mode_pooling_matches_crackle_codec(seed, reference, tmp_path):
    rng = np.random.default_rng(seed)
    cases = []
    for i, shape in enumerate([(2, 2, 1), (7, 5, 3), (16, 9, 4), (1, 6, 2), (33, 30, 5)]):
        arr = blocky(rng, shape, np.uint16, nlabels=4, noise=0.3)
        arr[rng.random(shape) < 0.2] = 0
        for sparse in (False, True):
            path = tmp_path / f"{i}.ckl"
            path.write_bytes(crackle.compress(arr))
            ours = crackle.decompress(crackle.mode_pooling_2x2x1(path.read_bytes(), sparse=sparse))
            assert ours.shape == (-(-shape[0] // 2), -(-shape[1] // 2), shape[2]) and ours.dtype == arr.dtype
            cases.append((str(path), sparse, ours))
    theirs = run_reference(f"""
import json, crackle
out = []
for path, sparse in {[(p, s) for p, s, _ in cases]!r}:
    out.append(crackle.decompress(crackle.mode_pooling_2x2x1(open(path, "rb").read(), sparse=sparse)).tolist())
print(json.dumps(out))
""")
    for (_, _, ours), expected in zip(cases, theirs):
        np.testing.assert_array_equal(ours, np.array(expected, dtype=ours.dtype))
    pooled = crackle.CrackleArray(crackle.compress(blocky(rng, (20, 20, 3), np.uint32), allow_pins=1)).mode_pooling_2x2x1()
    assert isinstance(pooled, crackle.CrackleArray) and pooled.shape == (10, 10, 3)


def test_voxel_connectivity_graph(seed, reference, tmp_path, monkeypatch):
    """Against numpy and cc3d everywhere (a direction leaving the volume is connected), and against
    crackle-codec away from the faces (there it follows the stream's crack format and, in z, sets
    the bits of a one-slice volume's faces unlike those of a thicker one's)."""
    import cc3d

    rng = np.random.default_rng(seed)
    monkeypatch.setattr("crackle.analysis._GRAPH_BLOCK_BYTES", 500)  # several blocks per volume
    cases = []
    for i, shape in enumerate([(1, 1, 1), (5, 4, 3), (17, 9, 6), (3, 12, 1), (6, 5, 40)]):
        arr = blocky(rng, shape, np.uint32, nlabels=3, noise=float(rng.choice([0.0, 0.3])))
        path = tmp_path / f"{i}.ckl"
        path.write_bytes(crackle.compress(arr))
        padded = np.pad(arr.astype(np.int64), 1, constant_values=-1)
        for connectivity in (4, 6):
            graph = crackle.voxel_connectivity_graph(path.read_bytes(), connectivity)
            assert graph.dtype == np.uint8 and graph.shape == arr.shape
            directions = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
            for bit, (dx, dy, dz) in enumerate(directions[: connectivity]):
                neighbour = padded[1 + dx : padded.shape[0] - 1 + dx, 1 + dy : padded.shape[1] - 1 + dy,
                                   1 + dz : padded.shape[2] - 1 + dz]
                connected = (neighbour == arr) | (neighbour == -1)
                np.testing.assert_array_equal((graph >> bit) & 1, connected.astype(np.uint8))
            assert not (graph >> connectivity).any()
            if connectivity == 6:
                np.testing.assert_array_equal(graph, cc3d.voxel_connectivity_graph(arr, connectivity=6))
            else:
                for z in range(arr.shape[2]):
                    np.testing.assert_array_equal(graph[:, :, z], cc3d.voxel_connectivity_graph(arr[:, :, z], 4))
            cases.append((str(path), connectivity, graph))
    theirs = run_reference(f"""
import json, crackle
print(json.dumps([crackle.voxel_connectivity_graph(open(p, "rb").read(), connectivity=c).tolist()
                  for p, c in {[(p, c) for p, c, _ in cases]!r}]))
""")
    for (_, _, ours), expected in zip(cases, theirs):
        expected = np.array(expected, dtype=np.uint8).reshape(ours.shape)
        np.testing.assert_array_equal(ours[1:-1, 1:-1] & 15, expected[1:-1, 1:-1] & 15)
        np.testing.assert_array_equal(ours[1:-1, 1:-1, 1:-1], expected[1:-1, 1:-1, 1:-1])
    assert crackle.CrackleArray(path.read_bytes()).voxel_connectivity_graph().max() < 16  # 4 by default


def test_contacts(seed, reference, tmp_path, monkeypatch):
    rng = np.random.default_rng(seed)
    monkeypatch.setattr("crackle.analysis._GRAPH_BLOCK_BYTES", 700)  # several blocks per volume
    paths, ours = [], []
    for i, shape in enumerate([(1, 1, 1), (6, 5, 4), (15, 9, 12), (4, 11, 1)]):
        arr = blocky(rng, shape, np.uint16, nlabels=5, noise=0.2)
        path = tmp_path / f"{i}.ckl"
        path.write_bytes(crackle.compress(arr, allow_pins=1))
        anisotropy = (2.0, 3.0, 5.0)
        found = crackle.contacts(path.read_bytes(), anisotropy)
        expected = {}
        for axis, area in enumerate((15.0, 10.0, 6.0)):
            a = np.moveaxis(arr, axis, 0)
            first, second = a[1:], a[:-1]
            touching = (first != second) & (first != 0) & (second != 0)
            for u, v in zip(first[touching].tolist(), second[touching].tolist()):
                key = (min(u, v), max(u, v))
                expected[key] = expected.get(key, 0.0) + area
        assert found == pytest.approx(expected)
        paths.append(str(path))
        ours.append(found)
    theirs = run_reference(f"""
import json, crackle
print(json.dumps([[[k[0], k[1], v] for k, v in crackle.contacts(open(p, "rb").read(), anisotropy=(2, 3, 5)).items()]
                  for p in {paths!r}]))
""")
    for found, expected in zip(ours, theirs):
        assert found == pytest.approx({(a, b): v for a, b, v in expected})
    stream = open(paths[2], "rb").read()
    assert crackle.CrackleArray(stream).contacts() == crackle.contacts(stream, (1, 1, 1))


def test_component_map_and_sections(seed):
    rng = np.random.default_rng(seed)
    arr = blocky(rng, (30, 20, 8), np.uint32, nlabels=6, noise=0.05)
    stream = crackle.compress(arr, allow_pins=1)
    components, mapping = crackle.connected_components(stream, 6, return_mapping=True)
    # component_map lists every label, background too; the mapping of connected_components leaves 0 out.
    every = {**mapping, 0: 0} if (arr == 0).any() else mapping
    assert crackle.component_map(components, stream) == every  # same crack codes: by component
    recoded = crackle.compress(components.numpy())  # other crack codes: decoded
    assert crackle.component_map(recoded, stream) == every
    expected = {int(c): int(arr[components.numpy() == c][0]) for c in np.unique(components.numpy())}
    assert mapping == {k: v for k, v in expected.items() if k != 0}
    with pytest.raises(ValueError):
        crackle.component_map(stream, crackle.compress(arr[:, :, :3]))
    sections = crackle.components(stream)
    assert b"".join(bytes(part) for part in sections.values()) == stream
    assert crackle.component_lengths(stream)["header"] == 29


def test_scattered_and_enclosed_points(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    monkeypatch.setattr("crackle.analysis._GRAPH_BLOCK_BYTES", 3000)  # several blocks
    for arr, stream in volumes(seed):
        points = np.stack([rng.integers(0, n, 200) for n in arr.shape], axis=1)
        np.testing.assert_array_equal(crackle.scattered_points(stream, points), arr[tuple(points.T)])
        label = int(arr.flat[rng.integers(arr.size)])
        outside = np.array([[-1, 0, 0], [0, arr.shape[1], 0], [0, 0, arr.shape[2] + 3]])
        both = np.concatenate([points, outside])
        expected = np.concatenate([arr[tuple(points.T)] == label, [False] * 3])
        np.testing.assert_array_equal(crackle.select_enclosed_points(stream, label, both), expected)
        np.testing.assert_array_equal(crackle.CrackleArray(stream).select_enclosed_points(label, both), expected)
        absent = next(v for v in range(1000) if v not in arr)
        assert not crackle.select_enclosed_points(stream, absent, points).any()
    with pytest.raises(ValueError):
        crackle.scattered_points(stream, [[0, 0, 10**6]])


def numpy_surface(arr: np.ndarray) -> np.ndarray:
    """Voxels with an 8-neighbour in their slice or a z neighbour that differs or is outside."""
    sx, sy, sz = arr.shape
    padded = np.pad(arr.astype(np.int64), 1, constant_values=-1)
    surface = np.zeros(arr.shape, dtype=bool)
    for dx, dy, dz in [(dx, dy, 0) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy] + [(0, 0, 1), (0, 0, -1)]:
        surface |= padded[1 + dx : 1 + dx + sx, 1 + dy : 1 + dy + sy, 1 + dz : 1 + dz + sz] != arr
    return surface


def test_point_cloud(seed, reference, tmp_path, monkeypatch):
    rng = np.random.default_rng(seed)
    monkeypatch.setattr("crackle.analysis._GRAPH_BLOCK_BYTES", 400)  # several blocks
    paths, ours = [], []
    for i in range(6):
        shape = tuple(int(n) for n in rng.integers(3, 12, 3))
        arr = blocky(rng, shape, np.uint32, nlabels=4, noise=0.05)
        stream = crackle.compress(arr)
        surface = numpy_surface(arr)
        clouds = crackle.point_cloud(stream)
        assert sorted(clouds) == sorted(int(v) for v in np.unique(arr) if v != 0)
        for value, points in clouds.items():
            assert points.dtype == np.uint16
            expected = np.argwhere(surface & (arr == value))
            np.testing.assert_array_equal(points, expected[np.lexsort(expected.T)])
        if 0 in arr:
            assert 0 in crackle.point_cloud(stream, skip_background=False)
        value = int(arr[shape[0] // 2, shape[1] // 2, shape[2] // 2])
        z0, z1 = 1, shape[2] - 1
        part = crackle.point_cloud(stream, label=value, z_start=z0, z_end=z1)
        expected = np.argwhere(surface & (arr == value))
        expected = expected[(expected[:, 2] >= z0) & (expected[:, 2] < z1)]
        np.testing.assert_array_equal(part, expected[np.lexsort(expected.T)])
        assert sorted(crackle.point_cloud(stream, label=[value])) == [value]
        path = tmp_path / f"{i}.ckl"
        path.write_bytes(stream)
        paths.append(str(path))
        ours.append(clouds)
    theirs = run_reference(f"""
import json, crackle
print(json.dumps([{{str(k): v.tolist() for k, v in crackle.point_cloud(open(p, "rb").read()).items()}}
                  for p in {paths!r}]))
""")
    for clouds, expected in zip(ours, theirs):  # crackle-codec repeats points and orders them by its walk
        assert {k: set(map(tuple, v.tolist())) for k, v in clouds.items()} == \
            {int(k): set(map(tuple, v)) for k, v in expected.items()}
    with pytest.raises(ValueError):
        crackle.point_cloud(stream, label=10**6)


def test_signed_distance_to_boundary(seed):
    rng = np.random.default_rng(seed)
    arr = blocky(rng, (14, 11, 9), np.uint32, nlabels=3)
    stream = crackle.compress(arr)
    label = int(arr[7, 5, 4])
    points = np.stack([rng.integers(-2, n + 2, 60) for n in arr.shape], axis=1)
    anisotropy = np.array([4.0, 4.0, 40.0], dtype=np.float32)
    found = crackle.signed_distance_to_boundary(stream, label, points, anisotropy, z_chunk=4)
    surface = np.argwhere(numpy_surface(arr) & (arr == label)).astype(np.float32) * anisotropy
    nearest = np.sqrt((((points * anisotropy)[:, None, :] - surface[None]) ** 2).sum(axis=2)).min(axis=1)
    inside = np.zeros(len(points), dtype=bool)
    valid = np.all((points >= 0) & (points < arr.shape), axis=1)
    inside[valid] = arr[tuple(points[valid].T)] == label
    expected = np.where(inside, -(nearest + anisotropy.min()), nearest)
    np.testing.assert_allclose(found, expected, rtol=1e-5)
    assert np.isinf(crackle.signed_distance_to_boundary(stream, 10**6, points)).all()
