"""Connected components of a precomputed layer, chunk by chunk, written as a layer.

1. Each chunk is labelled on its own (:func:`crackle.connected_components` of
   its Crackle stream) and the boundary of both its component ids and its
   original labels is kept, compressed: its six faces (edges and corners are
   parts of them).
2. For each chunk, one task lists the pairs of components that touch across
   its boundary with each neighbour ahead of it: across faces (6 and 26), and
   with 26-connectivity across edges and corners too, so that a chunk has up
   to 26 neighbours (13 ahead of it).
3. One task joins those pairs with the union-find of
   :func:`crackle_dask.components.resolve_links` over global ids (a chunk's
   offset plus its local id): its size grows with the components that touch a
   chunk boundary, not with voxels.
4. Each chunk's component ids are replaced by their final labels (its labels
   section rewritten) and written as a layer with the input's geometry,
   chunking and sharding; the ``info`` last.
"""

import itertools
import operator

import dask
import fsspec
import numpy as np

import crackle
from crackle import codec
from crackle.errors import FormatError
from crackle.operations import relabel

from ..components import Components, resolve_links, touching
from ..jobs import graph_result, run
from .layer import Layer, forget_indices, layer_root
from .write import _info_task, chunk_writes

AHEAD_26 = tuple(d for d in itertools.product((-1, 0, 1), repeat=3) if d > (0, 0, 0))  # 13 directions
AHEAD_6 = ((1, 0, 0), (0, 1, 0), (0, 0, 1))


def faces_of(ids: np.ndarray, original: np.ndarray) -> dict:
    """``{(axis, side): (ids, original)}`` of a chunk's six faces (side 0: first, 1: last), each a
    one-slice Crackle stream: faces wait in memory for the chunks around them, so they are kept
    compressed (six faces of a 128^3 uint64 chunk are 1.2 MB decoded)."""
    faces = {}
    for axis in range(3):
        for side, at in ((0, 0), (1, ids.shape[axis] - 1)):
            index = [slice(None)] * 3
            index[axis] = at
            faces[(axis, side)] = (crackle.compress(ids[tuple(index)], parallel=1),
                                   crackle.compress(original[tuple(index)], parallel=1))
    return faces


def boundary(faces: dict, direction: tuple) -> tuple:
    """``(ids, original)`` of a chunk's voxels that face ``direction`` (a step of -1, 0 or 1 per
    axis): a face, an edge or a corner, over the axes where the step is 0."""
    moving = [axis for axis in range(3) if direction[axis]]
    first = moving[0]
    ids, original = (codec.decompress(face, parallel=1)[:, :, 0] for face in faces[(first, int(direction[first] > 0))])
    index = []
    for axis in range(3):
        if axis == first:
            continue
        step = direction[axis]
        index.append(slice(None) if step == 0 else (0 if step < 0 else ids.shape[len(index)] - 1))
    return ids[tuple(index)], original[tuple(index)]


def label_chunk(layer: Layer, mip: int, point, connectivity: int, binary_image: bool, fill_missing: bool) -> tuple:
    """``(labelled stream, components, faces)`` of one chunk labelled on its own."""
    scale = layer.info.scale(mip)
    stream = layer.stream(scale, point, layer.payloads(mip, [point], fill_missing)[point])
    try:
        labelled = crackle.connected_components(stream, connectivity, binary_image, parallel=1)
        ids, original = labelled.numpy(), codec.decompress(stream, parallel=1)
    except FormatError as err:
        raise FormatError(f"{layer.where(scale, point)}: {err}") from err
    return bytes(labelled.binary), int(codec.max(labelled)), faces_of(ids, original)


def chunk_pairs(faces: dict, directions: list, ahead: list, connectivity: int, binary_image: bool) -> dict:
    """``{direction: (n, 2) pairs}`` of a chunk's components touching those of its neighbours ahead
    (``ahead[k]``: the faces of the neighbour in ``directions[k]``)."""
    return {tuple(d): touching(boundary(faces, d), boundary(theirs, tuple(-s for s in d)), connectivity,
                               binary_image)
            for d, theirs in zip(directions, ahead)}


def join(counts: list, points: list, found: list):
    """The :class:`~crackle_dask.components.Resolution` of every chunk's pairs (``found[i]``, of
    the chunk at ``points[i]``)."""
    order = {tuple(p): i for i, p in enumerate(points)}
    links, pairs = [], []
    for i, per_direction in enumerate(found):
        for d, p in per_direction.items():
            links.append((i, order[tuple(a + b for a, b in zip(points[i], d))]))
            pairs.append(p)
    return resolve_links(counts, links, pairs)


def final_chunk(labelled: bytes, i: int, resolution) -> bytes:
    """A chunk's component ids replaced by their final labels (uint32, or uint64 past 2**32 - 1)."""
    dtype = np.uint32 if resolution.count < 2**32 else np.uint64
    return relabel(labelled, lambda local: resolution.final(i, local), dtype, parallel=1)


def layer_components(url, out: str, connectivity: int = 26, binary_image: bool = False, mip: int = 0,
                     fill_missing: bool = False, storage_options=None, compute: bool = True,
                     progress: bool = False):
    """:func:`crackle_dask.connected_components` of a precomputed layer (see the module docstring)."""
    layer = Layer.open(url, storage_options)
    scale = layer.info.scale(mip)
    out_fs, root = fsspec.core.url_to_fs(layer_root(out), **(storage_options or {}))
    if out_fs.unstrip_protocol(root) == layer.fs.unstrip_protocol(layer.root):
        raise ValueError(f"the output layer {out!r} is the input: choose another")
    points = scale.points_in((0, 0, 0), scale.size)
    order = {p: i for i, p in enumerate(points)}
    token = dask.base.tokenize(layer.fs, layer.root, layer.info.raw, mip, out, connectivity, binary_image,
                               fill_missing)
    source, tasks = f"layer-{token}", {}
    tasks[source] = layer
    key = {name: [f"{name}-{p}-{token}" for p in points] for name in ("label", "stream", "count", "faces", "pairs")}
    directions = AHEAD_26 if connectivity == 26 else AHEAD_6
    for i, p in enumerate(points):
        tasks[key["label"][i]] = (label_chunk, source, mip, p, connectivity, binary_image, fill_missing)
        for part, name in enumerate(("stream", "count", "faces")):
            tasks[key[name][i]] = (operator.getitem, key["label"][i], part)
        ahead = [(d, order[q]) for d in directions if (q := tuple(a + b for a, b in zip(p, d))) in order]
        tasks[key["pairs"][i]] = (chunk_pairs, key["faces"][i], [d for d, _ in ahead],
                                  [key["faces"][j] for _, j in ahead], connectivity, binary_image)
    join_key = f"join-{token}"
    tasks[join_key] = (join, key["count"], points, key["pairs"])
    output = Layer(out_fs, root, layer.info)
    writes = chunk_writes(tasks, scale, out_fs, root, lambda p: (final_chunk, key["stream"][order[p]], order[p],
                                                                  join_key), False, token)
    tasks[f"info-{token}"] = (_info_task, writes, out_fs, root, (_output_info, layer.info.raw, mip, join_key))
    tasks[f"components-{token}"] = (_components, f"info-{token}", out_fs, join_key)
    result = graph_result(f"layer-components-{token}", tasks, f"components-{token}")
    forget_indices(out_fs, root)
    out_fs.makedirs(root, exist_ok=True)
    out_fs.makedirs(output.folder(scale), exist_ok=True)
    return run(result, compute, progress)


def _output_info(info: dict, mip: int, resolution) -> dict:
    """The input's info with scale ``mip`` alone, Crackle chunks, and the dtype the labels need."""
    scale = dict(info["scales"][mip], encoding="crackle")
    scale.pop("compressed_segmentation_block_size", None)
    dtype = "uint32" if resolution.count < 2**32 else "uint64"
    return dict(info, type="segmentation", data_type=dtype, num_channels=1, scales=[scale])


def _components(root: str, fs, resolution) -> Components:
    return Components([f"precomputed://{fs.unstrip_protocol(root)}"], resolution.count)
