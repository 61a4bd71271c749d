"""Writing Dask (or numpy, or xarray) volumes as Crackle files on any fsspec store: :func:`to_crackle`.

Each task encodes its z-chunk to a stream of its own; the streams of a file
are joined without decoding (:func:`crackle.writer.joined_parts`) by the
task that writes that file. Files appear whole or not at all: on filesystems
with a rename every file is first written under a hidden temporary name and
the last task renames them all, so a failed job leaves the folder as it was;
on object stores each file is one upload, and the manifest, written last,
lists only the files of a job that completed.
"""

import json
import posixpath

import dask
import fsspec
import numpy as np

from crackle.encoder import compress_as
from crackle.files import atomic_write_on, is_local, packing
from crackle.inputs import as_encodable
from crackle.writer import encode_slab, joined_parts

from .jobs import run
from .stack import MANIFEST
from .volumes import label_volume


def _split_at(chunks: tuple, every: int) -> tuple:
    """z chunk sizes cut further at multiples of ``every`` (file boundaries)."""
    bounds = set(np.cumsum((0,) + chunks).tolist()) | set(range(0, sum(chunks), every))
    edges = sorted(bounds | {sum(chunks)})
    return tuple(b - a for a, b in zip(edges[:-1], edges[1:]))


def _encode(block: np.ndarray, fortran: bool, allow_pins: int):
    """One chunk's stream (plain crack codes, its own crack format) and what joining it needs."""
    return encode_slab(as_encodable(block), None, allow_pins, None, 1, fortran)


def _write(slabs: list, empty: np.ndarray, fortran: bool, fs, path: str, markov_model_order: int,
           allow_pins: int, packed: bool) -> int:
    """Join a file's slabs (``empty``, a volume of no voxels, if there are none) and write them
    atomically to ``path``, gzipped if ``packed``; returns the stream's size."""
    parts = (joined_parts(slabs, markov_model_order, allow_pins, None, 1) if slabs
             else [compress_as(empty, False, fortran=fortran)])
    size = 0
    with atomic_write_on(fs, path) as raw, packing(raw, packed) as handle:
        for piece in parts:
            size += handle.write(piece)
    return size


def _commit(sizes: list, fs, staged: list, final: list, manifest, single: bool):
    """Rename the staged files into place (when staged under temporary names) and write the
    manifest; returns the files' URLs (the file's, if ``single``)."""
    for temporary, path in zip(staged, final):
        if temporary != path:
            fs.mv(temporary, path)
    if manifest is not None:
        manifest = dict(manifest, files=[dict(entry, bytes=size) for entry, size in zip(manifest["files"], sizes)])
        with atomic_write_on(fs, manifest["path"]) as handle:
            handle.write(json.dumps({k: v for k, v in manifest.items() if k != "path"}, indent=1).encode())
    urls = [fs.unstrip_protocol(path) for path in final]
    return urls[0] if single else urls


def to_crackle(array, urlpath: str, z_per_file=None, allow_pins: int = 0, markov_model_order: int = 0,
               storage_options=None, compute: bool = True, progress: bool = False):
    """Write a volume as Crackle file(s), one encoding task per z-chunk.

    Parameters
    ----------
    array : dask.array.Array, numpy.ndarray, xarray.DataArray or Dataset
        Integer labels of shape (sx, sy, sz) or (sx, sy); a DataArray has
        dimensions x, y (and z) in any order; a Dataset one variable (or one
        named ``labels``). Chunks may be irregular; chunks that split x or y
        are joined first. Trailing axes (or DataArray dimensions) of length 1
        are dropped; float labels are converted by value as in
        :func:`crackle.compress` (a Dask float array costs one pass for its minimum).
        A numpy array is not copied: each task encodes a view of a z slab (so
        with ``compute=False``, leave it unchanged until the write runs).
    urlpath : str
        With ``z_per_file=None``, the file to write (gzipped for ``.gz``).
        Otherwise a folder: files ``{z0}-{z1}.ckl`` (zero-padded, so that a
        glob sorts them in z order) and ``manifest.json`` (shape, dtype, each
        file's name, z range and size), which ``open_array(folder)`` reads.
    z_per_file : int, optional
        Slices per file (the last file may have fewer).
    allow_pins, markov_model_order
        As for :func:`crackle.compress`. FLAT output is byte-identical to
        ``crackle.compress`` of the same slices with the same options. PINS
        are found chunk by chunk and kept where every chunk of a file chose
        the same background (else FLAT labels).
    storage_options : dict, optional
        Passed to fsspec.
    compute, progress
        As for :func:`crackle_dask.voxel_counts`.

    Returns
    -------
    str or list of str
        The file's URL, or the files' URLs in z order (a delayed one with
        ``compute=False``; then a failed job can leave the hidden temporary
        files of the tasks that completed, ``.{name}.{token}.partial``).
    """
    given = label_volume(array)
    volume, fortran = given.data.rechunk({0: -1, 1: -1}), given.fortran  # whole xy planes per chunk
    sz = volume.shape[2]
    if z_per_file is not None and not (isinstance(z_per_file, (int, np.integer)) and z_per_file > 0):
        raise ValueError(f"z_per_file must be a positive number of slices, got {z_per_file!r}")
    every = int(z_per_file) if z_per_file else max(sz, 1)
    if sz:
        volume = volume.rechunk({2: _split_at(volume.chunks[2], every)})  # no chunk crosses a file
    fs, root = fsspec.core.url_to_fs(urlpath, **(storage_options or {}))
    token = dask.base.tokenize(volume.name, fortran, urlpath, z_per_file, allow_pins, markov_model_order)
    blocks = volume.to_delayed().reshape(-1) if sz else []
    starts = np.cumsum((0,) + volume.chunks[2])[:-1]
    slabs = [dask.delayed(_encode, pure=True)(block, fortran, allow_pins, dask_key_name=f"encode-{i}-{token}")
             for i, block in enumerate(blocks)]
    if z_per_file is None:
        ranges, final, manifest = [(0, sz)], [root], None
    else:
        fs.makedirs(root, exist_ok=True)
        width = len(str(sz))
        ranges = [(z, min(z + every, sz)) for z in range(0, sz, every)]
        final = [posixpath.join(root, f"{a:0{width}d}-{b:0{width}d}.ckl") for a, b in ranges]
        manifest = {"path": posixpath.join(root, MANIFEST), "format": "crackle-stack", "version": 1,
                    "shape": list(volume.shape), "dtype": volume.dtype.str,
                    "files": [{"name": posixpath.basename(p), "z": [a, b]} for p, (a, b) in zip(final, ranges)]}
    staged = [posixpath.join(posixpath.dirname(p), f".{posixpath.basename(p)}.{token[:12]}.partial")
              if is_local(fs) else p for p in final]
    empty = np.zeros(volume.shape[:2] + (0,), dtype=volume.dtype)
    sizes = [dask.delayed(_write, pure=True)([s for s, z in zip(slabs, starts) if a <= z < b], empty, fortran, fs, path,
                                             markov_model_order, allow_pins, final[i].endswith(".gz"),
                                             dask_key_name=f"write-{i}-{token}")
             for i, ((a, b), path) in enumerate(zip(ranges, staged))]
    result = dask.delayed(_commit, pure=True)(sizes, fs, staged, final, manifest, z_per_file is None,
                                              dask_key_name=f"commit-{token}")
    if not compute:
        return result
    try:
        return run(result, True, progress)
    except BaseException:
        for path in staged:  # files staged by the tasks that completed before the failure
            if path not in final and fs.exists(path):
                fs.rm(path)
        raise
