"""Joining the components of a grid of pieces into one numbering, as a tree of region merges.

A volume is a 3-D grid of pieces (the chunks of a layer; the files of a z
stack, a grid of one piece in x and y), each labelled on its own. Component
``l`` of piece ``i`` has the global id ``i * 2**32 + l``. Pieces are grouped
into regions: a region of level ``L`` holds the pieces whose grid point
shifted right by ``L`` bits is its point, so it joins up to eight regions of
level ``L - 1``, and the top region holds every piece.

Upward, each region joins its children's components along the links between
pieces in different children (pairs of local ids that touch across their
boundary: a link belongs to the smallest region holding both pieces) and
passes up a :class:`Summary`: only the components that reach the region's own
boundary, with their set's root (its smallest id). A set that reaches no
boundary is *closed* there and only counted. So a region's work grows with
the components on its children's boundaries, never with voxels, and no task
holds every face of the volume.

Downward, each region numbers the sets that closed in it, hands each child a
range of labels for its own closed sets and the final labels of its open ones
(:class:`Given`), and so on down to the pieces (:class:`PieceLabels`). Labels
are 1 .. count, every set one; the count is known at the top.
"""

import operator
from dataclasses import dataclass

import numpy as np

from crackle.kernels.union_find import roots, union_pairs
from crackle.operations import lookup

LOCAL_BITS = 32  # a component's global id: piece index << LOCAL_BITS | local id
LOCAL_MASK = np.int64(2**LOCAL_BITS - 1)
_EMPTY = np.zeros(0, dtype=np.int64)


def global_ids(piece: int, local: np.ndarray) -> np.ndarray:
    """Global ids of piece ``piece``'s local component ids."""
    return np.asarray(local, dtype=np.int64) | np.int64(piece << LOCAL_BITS)


def side_bit(axis: int, side: int) -> int:
    """The bit of a piece's or region's face: ``side`` 0 is the low end of ``axis``, 1 the high."""
    return 1 << (2 * axis + side)


@dataclass
class Summary:
    """What a region passes up: the components (global ``ids``, sorted) that touch its boundary,
    the ``roots`` of their sets within it, which of its faces each touches (``sides``, bits of
    :func:`side_bit`), and ``closed``: how many sets closed inside it, children's included."""

    ids: np.ndarray
    roots: np.ndarray
    sides: np.ndarray
    closed: int


@dataclass
class State:
    """What a region keeps for the downward pass: its children's open sets (their roots,
    ``nodes``, sorted, each in child ``child[k]``), the root of each within the region, the
    region's closed roots (sorted) and each child's count of closed sets."""

    nodes: np.ndarray
    node_roots: np.ndarray
    child: np.ndarray
    closed: np.ndarray
    child_closed: list


@dataclass
class Given:
    """What a region receives: labels ``start ..`` for the sets closed within it, the final
    ``labels`` of its open sets (by root, ``roots`` sorted), and the volume's ``count``."""

    start: int
    roots: np.ndarray
    labels: np.ndarray
    count: int


def piece_summary(piece: int, count: int, face_ids: dict) -> Summary:
    """A piece's summary: ``face_ids[(axis, side)]`` lists its components (local ids) on each face
    that has a neighbour; the rest of its ``count`` components are closed."""
    if count >= 2**LOCAL_BITS:
        raise ValueError(f"piece {piece} has {count} components: a piece can hold at most 2**32 - 1")
    local = np.concatenate([_EMPTY] + [np.asarray(v, dtype=np.int64) for v in face_ids.values()])
    bits = np.concatenate([np.zeros(0, np.uint8)] + [np.full(len(v), side_bit(*k), np.uint8)
                                                   for k, v in face_ids.items()])
    ids, at = np.unique(local, return_inverse=True)
    sides = np.zeros(ids.size, dtype=np.uint8)
    np.bitwise_or.at(sides, at.ravel(), bits)
    ids = global_ids(piece, ids)
    return Summary(ids, ids.copy(), sides, count - ids.size)


def region_merge(children: list, outer: list, links: list, sources: list, found: list) -> tuple:
    """``(Summary, State)`` of a region from its children's summaries.

    ``outer[k]`` has the bits of child ``k``'s faces that lie on the region's boundary; ``links``
    lists ``(i, j, direction)``: the pairs that piece ``i`` found with piece ``j`` (in
    ``found[sources.index(i)][direction]``, local ids of ``i`` then ``j``) that this region joins.
    """
    ids = np.concatenate([c.ids for c in children])
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    child_roots = np.concatenate([c.roots for c in children])[order]
    sides = np.concatenate([c.sides & np.uint8(m) for c, m in zip(children, outer)])[order]
    owner = np.repeat(np.arange(len(children)), [c.ids.size for c in children])[order]
    nodes, first, node_of = np.unique(child_roots, return_index=True, return_inverse=True)
    node_of = node_of.ravel()
    parent = np.arange(nodes.size, dtype=np.int64)
    by_piece = dict(zip(sources, found))
    ends = [_link_ends(ids, node_of, i, j, by_piece[i][direction]) for i, j, direction in links]
    if ends:
        union_pairs(parent, np.concatenate([a for a, _ in ends]), np.concatenate([b for _, b in ends]))
    node_roots = nodes[roots(parent)]  # nodes are sorted, so a set's smallest index is its smallest id
    out = sides != 0
    summary_roots = node_roots[node_of[out]]
    closed = np.setdiff1d(node_roots[node_roots == nodes], summary_roots)
    child_closed = [c.closed for c in children]
    summary = Summary(ids[out], summary_roots, sides[out], closed.size + sum(child_closed))
    return summary, State(nodes, node_roots, owner[first], closed, child_closed)


def _link_ends(ids: np.ndarray, node_of: np.ndarray, i: int, j: int, pairs: np.ndarray) -> tuple:
    """Node indices of both ends of piece ``i``'s pairs with piece ``j``."""
    ends = []
    for piece, local in ((i, pairs[:, 0]), (j, pairs[:, 1])):
        at, found = lookup(ids, global_ids(piece, local))
        if not found.all():  # a link's ends are on faces that the pieces listed
            raise RuntimeError(f"components {local[~found][:5].tolist()} of piece {piece} were not "
                               "passed up, although they touch another piece")
        ends.append(node_of[at])
    return ends[0], ends[1]


def region_split(state: State, given: Given = None) -> list:
    """What each child receives (:class:`Given`), from what the region received (the top region
    receives nothing: its labels start at 1 and every set in it is closed)."""
    if given is None:
        given = Given(1, _EMPTY, _EMPTY, state.closed.size + sum(state.child_closed))
    at, closed_here = lookup(state.closed, state.node_roots)
    labels = np.where(closed_here, given.start + at, 0)
    if not closed_here.all():
        at, found = lookup(given.roots, state.node_roots[~closed_here])
        if not found.all():
            raise RuntimeError("a region's open set received no label from above")
        labels[~closed_here] = given.labels[at]
    starts = given.start + state.closed.size + np.cumsum([0] + state.child_closed[:-1])
    mine = [state.child == k for k in range(len(state.child_closed))]
    return [Given(int(s), state.nodes[m], labels[m], given.count) for s, m in zip(starts, mine)]


@dataclass
class PieceLabels:
    """The final labels of one piece's components, from what it received."""

    given: Given

    @property
    def count(self) -> int:
        """Components in the whole volume."""
        return self.given.count

    def __call__(self, local: np.ndarray) -> np.ndarray:
        """Final labels of local component ids (0 stays 0): open components take their set's label;
        closed ones are numbered from ``start`` in their local order."""
        local = np.asarray(local, dtype=np.int64)
        open_local = self.given.roots & LOCAL_MASK  # a piece's open components are their own roots
        at, found = lookup(open_local, local)
        out = self.given.start + local - 1 - np.searchsorted(open_local, local)
        out[found] = self.given.labels[at[found]]
        out[local == 0] = 0
        return out


def tree_tasks(tasks: dict, points: list, summaries: list, pairs: list, ahead: list, token: str) -> tuple:
    """Add the region merges of a grid to ``tasks`` (a plain Dask graph).

    ``points`` is every point of a box of pieces; ``summaries[i]`` and ``pairs[i]`` name the
    tasks giving piece ``i``'s :class:`Summary` and its ``{direction: pairs}`` with the pieces
    ``ahead[i]`` (a list of ``(direction, j)``). Returns ``(given, top)``: for each piece, the key
    of its parent's split and its place there (``split[k]`` is the :class:`Given` of the piece: a
    few tasks fewer than one per piece), and the key of the top region's summary (its ``closed`` is
    the count).
    """
    grid = [max(p[a] for p in points) + 1 for a in range(3)]
    height = max(1, max((n - 1).bit_length() for n in grid))
    links = {}
    for i, p in enumerate(points):
        for direction, j in ahead[i]:
            level = max((a ^ b).bit_length() for a, b in zip(p, points[j]))
            links.setdefault((level, _shifted(p, level)), []).append((i, j, direction))
    below = {p: summaries[i] for i, p in enumerate(points)}  # summary keys of the level under construction
    states = []
    for level in range(1, height + 1):
        regions = {}
        for p in sorted(below):
            regions.setdefault(_shifted(p, 1), []).append(p)
        states.append({})
        for region, children in regions.items():
            mine = links.get((level, region), [])
            sources = sorted({i for i, _, _ in mine})
            merge = f"merge-{level}-{region}-{token}"
            tasks[merge] = (region_merge, [below[c] for c in children], [_outer(c) for c in children], mine,
                            sources, [pairs[i] for i in sources])
            tasks[f"summary-{level}-{region}-{token}"] = (operator.getitem, merge, 0)
            tasks[f"state-{level}-{region}-{token}"] = (operator.getitem, merge, 1)
            states[-1][region] = children
        below = {region: f"summary-{level}-{region}-{token}" for region in regions}
    (top,) = below
    given = {top: None}
    for level in range(height, 0, -1):
        received = {}
        for region, children in states[level - 1].items():
            split = f"split-{level}-{region}-{token}"
            tasks[split] = (region_split, f"state-{level}-{region}-{token}", given[region])
            for k, child in enumerate(children):
                if level == 1:
                    received[child] = (split, k)
                else:
                    received[child] = f"given-{level - 1}-{child}-{token}"
                    tasks[received[child]] = (operator.getitem, split, k)
        given = received
    return [given[p] for p in points], f"summary-{height}-{top}-{token}"


def _shifted(point: tuple, bits: int) -> tuple:
    return tuple(a >> bits for a in point)


def _outer(child: tuple) -> int:
    """Bits of a child region's faces on its parent's boundary: the low face where the child is
    first along an axis, the high one where it is second."""
    return sum(side_bit(axis, a & 1) for axis, a in enumerate(child))
