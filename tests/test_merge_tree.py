"""The tree of region merges that joins pieces' components (crackle_dask.merge_tree), on the
synchronous scheduler: grids of many shapes, against crackle.connected_components of the whole."""

import dask
import numpy as np
import pytest

import crackle
from crackle_dask.components import component_tasks, label_piece, relabelled
from crackle_dask.merge_tree import Given, PieceLabels, piece_summary, region_merge, region_split
from tests.segmentations import blocky, same_partition


def cuts(rng, size: int, pieces: int) -> list:
    """``pieces`` random non-empty intervals covering ``range(size)``."""
    inner = np.sort(rng.choice(np.arange(1, size), pieces - 1, replace=False)) if pieces > 1 else []
    edges = [0, *map(int, inner), size]
    return [slice(a, b) for a, b in zip(edges, edges[1:])]


def components_by_pieces(arr, grid, rng, connectivity, binary_image):
    """``(labels, count, graph)`` of ``arr`` cut into a ``grid`` of pieces of random sizes."""
    boxes = [cuts(rng, n, g) for n, g in zip(arr.shape, grid)]
    points = [(x, y, z) for z in range(grid[2]) for y in range(grid[1]) for x in range(grid[0])]  # any order
    box = {p: tuple(boxes[a][p[a]] for a in range(3)) for p in points}
    streams = [crackle.compress(np.asfortranarray(arr[box[p]])) for p in points]
    tasks = {}
    relabel, top = component_tasks(
        tasks, points, lambda i, sides: (label_piece, streams[i], i, sides, connectivity, binary_image),
        connectivity, binary_image, "t")
    for i, p in enumerate(points):
        tasks[f"out-{p}"] = (relabelled, *relabel(i))
    *found, top = dask.get(tasks, [f"out-{p}" for p in points] + [top])
    out = np.zeros(arr.shape, dtype=np.uint64)
    for p, stream in zip(points, found):
        out[box[p]] = crackle.decompress(stream)
    return out, top.closed, tasks


@pytest.mark.parametrize("grid", [(1, 1, 1), (1, 1, 9), (5, 1, 3), (3, 3, 3), (2, 7, 2), (4, 4, 5)])
@pytest.mark.parametrize("connectivity", [6, 26])
def test_grids_of_every_shape_match_the_whole_volume(seed, grid, connectivity):
    rng = np.random.default_rng(seed)
    shape = tuple(max(g, int(rng.integers(g, 3 * g + 4))) for g in grid)
    arr = blocky(rng, shape, np.uint16, nlabels=4, boxes=40)
    for binary_image in (False, True):
        ours, count, tasks = components_by_pieces(arr, grid, rng, connectivity, binary_image)
        whole = crackle.connected_components(crackle.compress(arr), connectivity, binary_image).numpy()
        assert count == int(whole.max())
        assert np.array_equal(np.unique(ours), np.arange(int(ours.min()), count + 1))  # 1 .. count, each used
        assert same_partition(ours, whole) and np.array_equal(ours == 0, arr == 0)


def test_no_merge_holds_more_than_eight_children_and_the_top_sees_only_its_middle(seed):
    """The top region of a 8 x 8 x 8 grid joins only links across its three middle planes."""
    rng = np.random.default_rng(seed)
    arr = blocky(rng, (16, 16, 16), np.uint8, nlabels=3, boxes=30)
    _, _, tasks = components_by_pieces(arr, (8, 8, 8), rng, 26, False)
    merges = {k: v for k, v in tasks.items() if k.startswith("merge-")}
    assert len(merges) == 64 + 8 + 1
    assert all(len(task[1]) <= 8 for task in merges.values())
    top = merges["merge-3-(0, 0, 0)-t"]
    points = [(x, y, z) for z in range(8) for y in range(8) for x in range(8)]
    for i, j, _ in top[3]:
        assert any((points[i][a] < 4) != (points[j][a] < 4) for a in range(3))
    assert {i for i, _, _ in top[3]} <= {i for i, p in enumerate(points) if {3, 4} & set(p)}


def test_sets_close_where_they_stop_reaching_the_boundary():
    """Two pieces side by side in x: piece 0's component 2 and piece 1's component 1 are one."""
    left = piece_summary(0, 3, {(0, 1): np.array([2, 3])})
    right = piece_summary(1, 2, {(0, 0): np.array([1])})
    summary, state = region_merge([left, right], [0b0001, 0b0010], [(0, 1, (1, 0, 0))], [0],
                                  [{(1, 0, 0): np.array([[2, 1]])}])
    assert summary.ids.size == 0 and summary.closed == 4  # 1, 2+1', 3 of the left; 2' of the right
    given = region_split(state)
    assert [g.start for g in given] == [1 + 2, 1 + 2 + 1]  # the two open sets closed here take 1 and 2
    first = PieceLabels(given[0])(np.arange(4))
    second = PieceLabels(given[1])(np.arange(3))
    assert first.tolist() == [0, 3, 1, 2] and second.tolist() == [0, 1, 4]


def test_a_piece_with_too_many_components_is_refused():
    with pytest.raises(ValueError, match="at most 2\\*\\*32 - 1"):
        piece_summary(0, 2**32, {})


def test_an_open_set_without_a_label_from_above_is_an_error():
    left = piece_summary(0, 1, {(0, 1): np.array([1])})
    _, state = region_merge([left], [0b0010], [], [], [])
    with pytest.raises(RuntimeError, match="no label from above"):
        region_split(state, Given(1, np.zeros(0, np.int64), np.zeros(0, np.int64), 1))
