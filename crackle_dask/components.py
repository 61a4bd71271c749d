"""Connected components of a stack of Crackle files, one file per task, written as Crackle files.

1. Each file is labelled on its own (:func:`crackle.connected_components`,
   which decodes component-id slabs within a memory target, not the labels)
   and its first and last slices are decoded: both the new and the original
   labels of those two faces.
2. For each pair of neighbouring files, a task compares the upper face of the
   lower file with the lower face of the upper one and lists the pairs of
   local components that touch with the same original label.
3. One task joins those pairs with a union-find over global ids (a file's
   offset plus its local label): its size grows with the components that
   touch a face, not with voxels. Components are numbered 1, 2, ... in file
   order, then in each file's own order.
4. Each file's local labels are replaced (its labels section rewritten; its
   crack codes are the input's) and the file is written atomically under
   ``out``.

A worker lost mid-job costs only its tasks, which Dask runs again; every
output file appears complete under its final name or not at all.
"""

import itertools
import posixpath
from dataclasses import dataclass

import dask
import fsspec
import numpy as np

import crackle
from crackle import codec
from crackle.errors import FormatError
from crackle.files import atomic_write_on
from crackle.kernels.union_find import roots, union_pairs
from crackle.operations import lookup, relabel
from crackle.stacking import zrange

from .jobs import run
from .precomputed.layer import is_layer
from .stack import file_paths, named, open_stream

@dataclass
class Components:
    """What :func:`connected_components` wrote: the output files, in z order, and how many
    components they hold (numbered 1 .. count; 0 is background)."""

    files: list
    count: int


def label_file(fs, path: str, connectivity: int, binary_image: bool, memory_target) -> tuple:
    """``(stream, components, lower face, upper face)`` of one file labelled on its own; a face
    is ``(new labels, original labels)`` of the first or last slice as one-slice streams (kept
    compressed while they wait for their neighbour)."""
    stream = open_stream(fs, path)
    head = stream.header
    if head.sz == 0:
        raise ValueError(f"{path} has no slices: a stack to label needs every file to have some")
    if memory_target is None:  # a quarter of the file's component ids at a time (at least two slices)
        memory_target = head.sx * head.sy * head.sz
    try:
        labelled = crackle.connected_components(stream, connectivity, binary_image, memory_target, parallel=1)
        faces = [(zrange(labelled, z, z + 1), zrange(stream, z, z + 1)) for z in (0, head.sz - 1)]
    except FormatError as err:
        raise named(err, path) from err
    return bytes(labelled.binary), int(codec.max(labelled)), faces[0], faces[1]


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


def face_pairs(lower: tuple, upper: tuple, connectivity: int, binary_image: bool, names: tuple) -> np.ndarray:
    """:func:`touching` across two facing slices (``lower``: the upper face of the file below,
    ``upper``: the lower face of the file above), kept as one-slice streams."""
    below, below_original, above, above_original = (codec.decompress_range(face, 0, 1, 1)[:, :, 0]
                                                    for face in (*lower, *upper))
    if below.shape != above.shape:
        raise ValueError(f"cannot stack {names[1]} ({above.shape[0]} x {above.shape[1]}) on {names[0]} "
                         f"({below.shape[0]} x {below.shape[1]}): x and y must match")
    return touching((below, below_original), (above, above_original), connectivity, binary_image)


@dataclass
class Resolution:
    """Global numbering: component ``l`` of file ``i`` has global id ``offsets[i] + l``, and final
    label ``joined_final[k]`` if that id is ``joined[k]``, else ``id - (number of merged_away < id)``."""

    offsets: np.ndarray
    joined: np.ndarray  # sorted global ids of components touching another file's
    joined_final: np.ndarray
    merged_away: np.ndarray  # sorted global ids that are not the smallest of their set
    count: int

    def final(self, i: int, local: np.ndarray) -> np.ndarray:
        """Final labels of file ``i``'s local labels (0 stays 0)."""
        ids = local.astype(np.int64) + self.offsets[i]
        out = ids - np.searchsorted(self.merged_away, ids)
        at, found = lookup(self.joined, ids)
        out[found] = self.joined_final[at[found]]
        out[local == 0] = 0
        return out


def resolve(counts: list, *pairs: np.ndarray) -> Resolution:
    """Join the components listed in ``pairs[i]`` (between files i and i + 1) across the stack."""
    return resolve_links(counts, [(i, i + 1) for i in range(len(pairs))], pairs)


def resolve_links(counts: list, links: list, pairs) -> Resolution:
    """Join components across pieces: ``pairs[k]`` lists local ids ``(a, b)`` of pieces
    ``links[k] = (i, j)`` that are one object; piece ``i`` has ``counts[i]`` components."""
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    edges = [p + offsets[[i, j]] for (i, j), p in zip(links, pairs)]
    edges = np.concatenate(edges) if edges else np.zeros((0, 2), dtype=np.int64)
    joined, inverse = np.unique(edges, return_inverse=True)
    inverse = inverse.reshape(-1, 2)
    parent = np.arange(joined.size, dtype=np.int64)
    union_pairs(parent, inverse[:, 0].copy(), inverse[:, 1].copy())
    root_ids = joined[roots(parent)]
    merged_away = joined[root_ids != joined]
    joined_final = root_ids - np.searchsorted(merged_away, root_ids)
    return Resolution(offsets, joined, joined_final, merged_away, int(offsets[-1] - merged_away.size))


def write_file(binary: bytes, i: int, resolution: Resolution, fs, path: str) -> str:
    """File ``i``'s components given their final labels, written atomically to ``path`` on ``fs``."""
    dtype = np.uint32 if resolution.count < 2**32 else np.uint64
    stream = relabel(binary, lambda local: resolution.final(i, local), dtype)
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
        the number of components. Components are numbered in file (chunk)
        order; the partition equals that of :func:`crackle.connected_components`
        on the whole volume.
    """
    if connectivity not in (6, 26):
        raise ValueError(f"connectivity must be 6 or 26, got {connectivity!r}")
    if isinstance(urlpath, str) and is_layer(urlpath):
        from .precomputed.components import layer_components  # (it builds on this module)

        return layer_components(urlpath, out, connectivity, binary_image, mip, fill_missing, storage_options,
                                compute, progress)
    files = file_paths(urlpath, storage_options)
    out_fs, targets = _outputs(files, out, storage_options)
    token = dask.base.tokenize(files, out, connectivity, binary_image, memory_target)
    labelled = [dask.delayed(label_file, pure=True, nout=4)(fs, path, connectivity, binary_image, memory_target,
                                                            dask_key_name=f"label-file-{i}-{token}")
                for i, (fs, path) in enumerate(files)]
    pairs = [dask.delayed(face_pairs, pure=True)(labelled[i][3], labelled[i + 1][2], connectivity, binary_image,
                                                 (files[i][1], files[i + 1][1]),
                                                 dask_key_name=f"face-pairs-{i}-{token}")
             for i in range(len(files) - 1)]
    resolution = dask.delayed(resolve, pure=True)([part[1] for part in labelled], *pairs,
                                                  dask_key_name=f"resolve-{token}")
    written = [dask.delayed(write_file, pure=True)(part[0], i, resolution, out_fs, target,
                                                   dask_key_name=f"write-file-{i}-{token}")
               for i, (part, target) in enumerate(zip(labelled, targets))]
    result = dask.delayed(_components, pure=True)(written, resolution, dask_key_name=f"components-{token}")
    return run(result, compute, progress)


def _components(files: list, resolution: Resolution) -> Components:
    return Components(list(files), resolution.count)
