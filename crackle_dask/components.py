"""Connected components of a volume cut into pieces, one task per piece: a stack of Crackle files
(pieces along z) or a precomputed layer (chunks on a 3-D grid, :mod:`crackle_dask.precomputed.components`).

1. Each piece is labelled on its own (:func:`crackle.connected_components`,
   which decodes component-id slabs within a memory target, not the labels),
   and keeps the faces it shares with other pieces: their component ids as
   one-slice streams (a z face is cut from the stream without decoding the
   piece) and the original label of each component on them.
2. For each piece, one task lists the pairs of components that touch, with
   the same original label, each neighbour ahead of it: across faces, and with
   26-connectivity across edges and corners too (up to 13 neighbours ahead,
   26 around).
3. The pairs are joined by a tree of region merges
   (:mod:`crackle_dask.merge_tree`): no task holds more than the components
   on the boundaries of eight regions, and the numbering 1 .. count comes back
   down the tree to each piece.
4. Each piece's component ids are replaced by their final labels (its labels
   section rewritten; its crack codes are the input's) and written atomically.

A worker lost mid-job costs only its tasks, which Dask runs again; every
output file appears complete under its final name or not at all.
"""

import itertools
import operator
import posixpath
from dataclasses import dataclass

import dask
import fsspec
import numpy as np

import crackle
from crackle import codec
from crackle.errors import FormatError
from crackle.files import atomic_write_on
from crackle.operations import lookup, relabel
from crackle.stacking import zrange

from .jobs import graph_result, run
from .merge_tree import PieceLabels, piece_summary, tree_tasks
from .precomputed.layer import is_layer
from .stack import file_paths, named, open_stream, stack_headers

AHEAD_26 = tuple(d for d in itertools.product((-1, 0, 1), repeat=3) if d > (0, 0, 0))  # 13 directions
AHEAD_6 = ((1, 0, 0), (0, 1, 0), (0, 0, 1))


@dataclass
class Components:
    """What :func:`connected_components` wrote: the output files, in z order (or the output
    layer's URL), and how many components they hold (numbered 1 .. count; 0 is background)."""

    files: list
    count: int


@dataclass
class Faces:
    """A piece's faces that it shares with other pieces: the component ids of each, as one-slice
    streams (kept compressed while they wait for the pieces around), and the original label of
    every component on them (``ids`` sorted)."""

    streams: dict  # (axis, side) -> stream; side 0 is the low end of the axis, 1 the high
    ids: np.ndarray
    labels: np.ndarray

    def boundary(self, direction: tuple) -> tuple:
        """``(component ids, original labels)`` of the voxels that face ``direction`` (a step of -1,
        0 or 1 per axis): a face, an edge or a corner, over the axes where the step is 0."""
        first = next(axis for axis in range(3) if direction[axis])
        ids = codec.decompress(self.streams[(first, int(direction[first] > 0))], parallel=1)[:, :, 0]
        index = []
        for axis in range(3):
            if axis != first:
                step = direction[axis]
                index.append(slice(None) if step == 0 else (0 if step < 0 else ids.shape[len(index)] - 1))
        ids = ids[tuple(index)]
        at, found = lookup(self.ids, ids)
        original = np.zeros(ids.shape, dtype=self.labels.dtype)
        original[found] = self.labels[at[found]]
        return ids, original


def label_piece(stream, piece: int, sides: list, connectivity: int, binary_image: bool,
                memory_target=None) -> tuple:
    """``(labelled stream, faces, summary)`` of one piece labelled on its own.

    ``sides`` lists the ``(axis, side)`` faces it shares with other pieces (:class:`Faces`);
    ``summary`` is the piece's :class:`~crackle_dask.merge_tree.Summary`. ``memory_target``: bytes
    of component ids decoded at once (default: a quarter of the piece's, as uint32).
    """
    head = codec.stream_view(stream).header
    if memory_target is None:
        memory_target = head.sx * head.sy * head.sz
    labelled, mapping = crackle.connected_components(stream, connectivity, binary_image, memory_target,
                                                     return_mapping=True, parallel=1)
    streams, face_ids = {}, {}
    if any(axis != 2 for axis, _ in sides):  # a face across x or y needs the whole piece decoded
        ids = labelled.numpy()
        for axis, side in sides:
            face = ids[(slice(None),) * axis + ((0, ids.shape[axis] - 1)[side],)]
            streams[(axis, side)], face_ids[(axis, side)] = crackle.compress(face, parallel=1), np.unique(face)
    else:  # z faces are cut from the stream
        for axis, side in sides:
            streams[(axis, side)] = zrange(labelled, *[(0, 1), (head.sz - 1, head.sz)][side])
            face_ids[(axis, side)] = np.unique(codec.decompress(streams[(axis, side)], parallel=1))
    face_ids = {key: found[found != 0] for key, found in face_ids.items()}
    on_faces = np.unique(np.concatenate([np.zeros(0, np.int64)] + [f.astype(np.int64) for f in face_ids.values()]))
    labels = np.array([mapping[c] for c in on_faces.tolist()], dtype=head.dtype)
    return (bytes(labelled.binary), Faces(streams, on_faces, labels),
            piece_summary(piece, int(codec.max(labelled)), face_ids))


def touching(first: tuple, second: tuple, connectivity: int, binary_image: bool) -> np.ndarray:
    """``(n, 2)`` distinct pairs of local component ids that touch across a boundary and are one
    object (same original label, or both foreground in a binary image).

    ``first`` and ``second`` are ``(component ids, original labels)`` of the boundary voxels on
    either side, arrays over the axes the boundary spans (2 for a face, 1 for an edge, 0 for a
    corner); a voxel of ``first`` touches the voxel at the same place in ``second`` and, with
    26-connectivity, those one step away along those axes.
    """
    ids, original, other_ids, other_original = (np.asarray(a) for a in (*first, *second))
    steps = itertools.product((-1, 0, 1), repeat=ids.ndim) if connectivity == 26 else [(0,) * ids.ndim]
    keys = []
    for step in steps:
        here = tuple(slice(max(0, -d), n - max(0, d)) for d, n in zip(step, ids.shape))
        there = tuple(slice(max(0, d), n + min(0, d)) for d, n in zip(step, ids.shape))
        a, b = original[here], other_original[there]
        same = (a != 0) & (b != 0) if binary_image else (a == b) & (a != 0)
        keys.append(ids[here][same].astype(np.uint64) << np.uint64(32) | other_ids[there][same].astype(np.uint64))
    keys = np.unique(np.concatenate([k.ravel() for k in keys]))
    return np.stack([keys >> np.uint64(32), keys & np.uint64(0xFFFFFFFF)], axis=1).astype(np.int64)


def piece_pairs(faces: Faces, directions: list, ahead: list, connectivity: int, binary_image: bool) -> dict:
    """``{direction: (n, 2) pairs}`` of a piece's components touching those of its neighbours
    ahead (``ahead[k]``: the :class:`Faces` of the neighbour in ``directions[k]``)."""
    return {tuple(d): touching(faces.boundary(d), theirs.boundary(tuple(-s for s in d)), connectivity,
                               binary_image)
            for d, theirs in zip(directions, ahead)}


def component_tasks(tasks: dict, points: list, label, connectivity: int, binary_image: bool, token: str) -> tuple:
    """Add to ``tasks`` the labelling and joining of a box of pieces (``points``, grid points in
    any order). ``label(i, sides)`` is the task that labels piece ``i`` (:func:`label_piece`'s
    result), given the faces it shares. Returns ``(relabel, top)``: ``relabel(i)`` are the
    arguments of :func:`relabelled` for piece ``i`` (keys), and ``top`` the key of the top
    region's summary (its ``closed`` is the number of components)."""
    grid = [max(p[a] for p in points) + 1 for a in range(3)]
    order = {p: i for i, p in enumerate(points)}
    directions = AHEAD_26 if connectivity == 26 else AHEAD_6
    key = {name: [f"{name}-{p}-{token}" for p in points] for name in ("label", "faces", "summary", "pairs")}
    ahead = []
    for i, p in enumerate(points):
        sides = [(axis, side) for axis in range(3) for side in (0, 1) if 0 <= p[axis] + 2 * side - 1 < grid[axis]]
        tasks[key["label"][i]] = label(i, sides)
        for part, name in ((1, "faces"), (2, "summary")):
            tasks[key[name][i]] = (operator.getitem, key["label"][i], part)
        ahead.append([(d, order[q]) for d in directions if (q := tuple(a + b for a, b in zip(p, d))) in order])
        tasks[key["pairs"][i]] = (piece_pairs, key["faces"][i], [d for d, _ in ahead[i]],
                                  [key["faces"][j] for _, j in ahead[i]], connectivity, binary_image)
    given, top = tree_tasks(tasks, points, key["summary"], key["pairs"], ahead, token)
    return (lambda i: (key["label"][i], *given[i])), top


def relabelled(piece: tuple, split: list, k: int) -> bytes:
    """A piece's labelled stream (``piece``: :func:`label_piece`'s result) with its component ids
    replaced by their final labels (``split[k]``: what the piece received), as uint32, or uint64
    past 2**32 - 1 components."""
    labels = PieceLabels(split[k])
    dtype = np.uint32 if labels.count < 2**32 else np.uint64
    return relabel(piece[0], labels, dtype, parallel=1)


def label_file(fs, path: str, piece: int, sides: list, connectivity: int, binary_image: bool,
               memory_target) -> tuple:
    """:func:`label_piece` of one file of a stack (errors name it)."""
    try:
        return label_piece(open_stream(fs, path), piece, sides, connectivity, binary_image, memory_target)
    except FormatError as err:
        raise named(err, path) from err


def write_file(piece: tuple, split: list, k: int, fs, path: str) -> str:
    """:func:`relabelled`, written atomically to ``path`` on ``fs``."""
    stream = relabelled(piece, split, k)
    with atomic_write_on(fs, path) as handle:
        handle.write(stream)
    return fs.unstrip_protocol(path)


def _outputs(files: list, out: str, storage_options) -> tuple:
    """``(fs, paths)``: each input's base name under the folder ``out``; names must not repeat."""
    fs, root = fsspec.core.url_to_fs(out, **(storage_options or {}))
    names = [posixpath.basename(path) for _, path in files]
    if len(set(names)) != len(names):
        raise ValueError("input files share a name, so their outputs would overwrite each other")
    if any(fs.unstrip_protocol(path) == fs.unstrip_protocol(posixpath.join(root, name))
           for (_, path), name in zip(files, names)):
        raise ValueError(f"the output folder {out!r} holds the inputs: choose another")
    fs.makedirs(root, exist_ok=True)
    return fs, [posixpath.join(root, name) for name in names]


def connected_components(urlpath, out: str, connectivity: int = 26, binary_image: bool = False,
                         storage_options=None, memory_target=None, compute: bool = True, progress: bool = False,
                         mip: int = 0, fill_missing: bool = False):
    """Label the 6- or 26-connected components of a stack of files (or of a precomputed layer) and
    write them as files (or as a layer).

    Parameters
    ----------
    urlpath : str or list of str
        Any fsspec URL or local path, a glob (stacked along z in sorted order)
        or a list; all of the same sx and sy.
    out : str
        Folder URL for the results: one file per input, with the input's name.
    connectivity : 6 or 26
    binary_image : bool
        Treat every non-zero voxel as one foreground class.
    storage_options : dict, optional
        Passed to fsspec, for the inputs and ``out``.
    memory_target : int, optional
        Bytes of component ids each task decodes at once (default: a quarter
        of one file's voxels as uint32 ids).
    compute, progress
        As for :func:`crackle_dask.voxel_counts`.

    mip, fill_missing
        For a layer (``precomputed://`` + URL, or a folder holding its
        ``info``): the scale, and whether missing chunks are background.
        ``out`` is then the output layer, with the input's geometry, chunking
        and sharding, Crackle chunks of uint32 labels (uint64 past 2**32 - 1
        components); see :mod:`crackle_dask.precomputed.components`.

    Returns
    -------
    Components
        The output URLs in z order (``crackle_dask.open_array(result.files)``
        opens them as one volume; for a layer, its ``precomputed://`` URL) and
        the number of components, numbered 1 .. count (in an order the tree
        of merges sets; the same each run). The partition equals that of
        :func:`crackle.connected_components` on the whole volume.
    """
    if connectivity not in (6, 26):
        raise ValueError(f"connectivity must be 6 or 26, got {connectivity!r}")
    if isinstance(urlpath, str) and is_layer(urlpath):
        from .precomputed.components import layer_components  # (it builds on this module)

        return layer_components(urlpath, out, connectivity, binary_image, mip, fill_missing, storage_options,
                                compute, progress)
    files = file_paths(urlpath, storage_options)
    out_fs, targets = _outputs(files, out, storage_options)
    for _, path, head in stack_headers(files):
        if head.sz == 0:
            raise ValueError(f"{path} has no slices: a stack to label needs every file to have some")
    token = dask.base.tokenize(files, out, connectivity, binary_image, memory_target)
    tasks = {}
    relabel, top = component_tasks(
        tasks, [(0, 0, z) for z in range(len(files))],
        lambda i, sides: (label_file, *files[i], i, sides, connectivity, binary_image, memory_target),
        connectivity, binary_image, token)
    written = [f"write-file-{i}-{token}" for i in range(len(files))]
    for i, target in enumerate(targets):
        tasks[written[i]] = (write_file, *relabel(i), out_fs, target)
    tasks[f"components-{token}"] = (_components, written, top)
    return run(graph_result(f"connected-components-{token}", tasks, f"components-{token}"), compute, progress)


def _components(files: list, top) -> Components:
    return Components(list(files), top.closed)
