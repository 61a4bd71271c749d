"""Whole-volume statistics, piece by piece on the workers: Crackle files stacked in z, or the
chunks of a precomputed layer (a 3-D grid).

A z stack is the grid case with one chunk in x and y: every job names what it
does with one file and with some chunks, and :func:`volume_tasks` makes one
task per piece, knowing where each piece starts (a file starts where the one
below ends; a chunk where its place in the grid and the layer's
``voxel_offset`` put it). A task reads its compressed pieces (or a file's
fresh ``.ckl.meta.parquet`` sidecar) and returns one statistics row per label,
moved to the volume's coordinates; rows are combined by a tree reduction.
Only per-label rows ever travel: no task and not the client holds voxels of
more than one piece, and for Crackle pieces no voxel array is built at all
(see :mod:`crackle.analysis`).
"""

import builtins
import datetime
from dataclasses import dataclass
from functools import partial

import dask
import numpy as np

from crackle import codec
from crackle.analysis import (
    BOX_COLUMNS, COUNT, FINGERPRINT_KEY, MAX_X, MAX_Y, MAX_Z, MIN_X, SUM_X, SUM_Z, boxes_from, centroids_from,
    combine_rows, coordinate_dtype, counts_from, label_statistics, sidecar_path, stream_fingerprint,
)
from crackle.errors import FormatError

from .jobs import SPLIT_EVERY, run, tree_reduce
from .precomputed.layer import Layer, is_layer
from .stack import file_paths, named, open_stream, stack_headers

CHUNKS_PER_TASK = 8  # chunks of a layer one task reads (in one batch of requests)


@dataclass
class Part:
    """Per-label statistics of some pieces of a volume, in the volume's coordinates."""

    dtype: np.dtype
    labels: np.ndarray  # sorted, unique
    table: np.ndarray  # (labels, 10) int64 rows, columns as crackle.analysis.COUNT ... MAX_Z


class LabelDict(dict):
    """A ``dict`` of per-label results.

    A subclass only so that ``dask.distributed`` moves it pickled in one piece:
    it serializes a plain dict item by item, which takes seconds for 100,000
    labels (6 s against 0.04 s measured).
    """


def _modified(info: dict):
    """A file's modification time in seconds from an fsspec ``info`` dict, or None if it has none."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "mtime_ns"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        if isinstance(value, str):
            try:
                return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
        return float(value) / (1e9 if key == "mtime_ns" else 1)
    return None


def _from_sidecar(fs, path: str, stream):
    """``(labels, table)`` (sums left at 0) from the file's sidecar, or None when there is none or
    it is stale. A sidecar written here names the stream it describes (its length and the crc32c
    of its header, index and labels); one without that name (crackle-codec's) must be at least
    as new as the file and list exactly its labels and voxel total."""
    import pyarrow.parquet as pq

    side = sidecar_path(path)
    try:
        side_info = fs.info(side)
    except FileNotFoundError:
        return None
    with fs.open(side, "rb") as handle:
        sidecar = pq.read_table(handle)
    named = (sidecar.schema.metadata or {}).get(FINGERPRINT_KEY)
    if named is not None and named.decode() != stream_fingerprint(stream):
        return None
    if named is None:
        side_time, file_time = _modified(side_info), _modified(fs.info(path))
        if side_time is not None and file_time is not None and side_time < file_time:
            return None
    head = stream.header
    labels = sidecar.column("label").to_numpy()
    table = np.zeros((labels.size, 10), dtype=np.int64)
    for name, column in (("voxel_count", COUNT), *BOX_COLUMNS):
        if name in sidecar.column_names:  # (no z columns for a one-slice file)
            table[:, column] = sidecar.column(name).to_numpy()
    fits = (table[:, [MAX_X, MAX_Y, MAX_Z]] < [head.sx, head.sy, head.sz]).all()
    if not (fits and np.array_equal(labels, codec.labels(stream))
            and int(table[:, COUNT].sum()) == head.voxels()):
        return None
    return labels.astype(head.dtype), table


def shifted(table: np.ndarray, origin) -> np.ndarray:
    """Statistics rows of a piece moved to the volume's coordinates: the piece starts at ``origin``."""
    table = table.copy()
    for axis, offset in enumerate(origin):
        table[:, SUM_X + axis] += int(offset) * table[:, COUNT]
        table[:, [MIN_X + 2 * axis, MAX_X + 2 * axis]] += int(offset)
    return table


def file_part(fs, path: str, origin, label=None, sidecar: bool = False) -> Part:
    """Statistics of one file of a stack that starts at ``origin`` (of ``label`` alone if given);
    from its sidecar when ``sidecar`` and the sidecar is fresh (then the coordinate sums are not
    filled in)."""
    stream = open_stream(fs, path)
    head = stream.header
    found = _from_sidecar(fs, path, stream) if sidecar else None
    try:
        if found is not None:
            labels, table = found
        elif label is None or codec.contains(stream, label):
            labels, table = label_statistics(stream, label, parallel=1)
        else:
            labels, table = np.zeros(0, dtype=head.dtype), np.zeros((0, 10), dtype=np.int64)
    except FormatError as err:
        raise named(err, path) from err
    if label is not None and labels.size:
        keep = labels == labels.dtype.type(label)
        labels, table = labels[keep], table[keep]
    return Part(head.dtype, labels, shifted(table, origin))


def chunks_part(layer, mip: int, points: list, label=None, fill_missing: bool = False) -> Part:
    """Statistics of some chunks of a precomputed layer, in the layer's voxel coordinates. Crackle
    chunks are read from their crack codes (no voxel array); other encodings are decoded. A
    missing chunk (with ``fill_missing``) is background: label 0."""
    scale = layer.info.scale(mip)
    labels, tables = [], []
    for point, payload in layer.payloads(mip, points, fill_missing).items():
        start, _ = scale.chunk_box(point)
        origin = [a + o for a, o in zip(start, scale.voxel_offset)]
        found, table = chunk_statistics(layer, scale, point, payload, label)
        labels.append(found)
        tables.append(shifted(table, origin))
    merged, table = combine_rows(np.concatenate(labels), np.concatenate(tables))
    return Part(layer.info.dtype, merged.astype(layer.info.dtype), table)


def chunk_statistics(layer, scale, point, payload, label=None) -> tuple:
    """``(labels, table)`` of one chunk in its own coordinates (see :meth:`Layer.stream`)."""
    stream = layer.stream(scale, point, payload)
    try:
        if label is not None and not codec.contains(stream, label):
            return np.zeros(0, dtype=layer.info.dtype), np.zeros((0, 10), dtype=np.int64)
        labels, table = label_statistics(stream, label, parallel=1)
    except FormatError as err:
        raise named(err, layer.where(scale, point)) from err
    if label is not None:
        keep = labels == labels.dtype.type(label)
        labels, table = labels[keep], table[keep]
    return labels, table


def combine_parts(*parts: Part) -> Part:
    """Parts of one volume (their rows already in its coordinates) as one."""
    merged, table = combine_rows(np.concatenate([p.labels for p in parts]), np.concatenate([p.table for p in parts]))
    return Part(parts[0].dtype, merged.astype(parts[0].dtype), table)


def volume_tasks(urlpath, task, storage_options=None, mip: int = 0, fill_missing: bool = False,
                 chunks_per_task: int = CHUNKS_PER_TASK, **kwargs) -> list:
    """One delayed ``task`` per piece of a volume: ``file_task(fs, path, origin, **kwargs)`` per file
    of a stack (each file starts where the one below ends: the client reads every file's header,
    in one batch per filesystem), or ``chunks_task(layer, mip, points, fill_missing=..., **kwargs)``
    per ``chunks_per_task`` chunks of a precomputed layer (at ``mip``).

    ``task`` is a pair ``(file_task, chunks_task)``: a z stack is the grid case with one chunk in x
    and y, so every job states only what it does with one piece.
    """
    file_task, chunks_task = task
    if isinstance(urlpath, str) and is_layer(urlpath):
        layer = Layer.open(urlpath, storage_options)
        scale = layer.info.scale(mip)
        points = scale.points_in((0, 0, 0), scale.size)
        return [dask.delayed(chunks_task, pure=True)(layer, mip, points[i : i + chunks_per_task],
                                                     fill_missing=fill_missing, **kwargs)
                for i in range(0, len(points), chunks_per_task)]
    files = stack_headers(file_paths(urlpath, storage_options))
    origins = np.cumsum([0] + [head.sz for _, _, head in files[:-1]]).tolist()
    return [dask.delayed(file_task, pure=True)(fs, path, (0, 0, z), **kwargs)
            for (fs, path, _), z in zip(files, origins)]


def stack_statistics(urlpath, label=None, storage_options=None, sidecars: bool = False,
                     split_every: int = SPLIT_EVERY, mip: int = 0, fill_missing: bool = False):
    """A delayed :class:`Part` for a whole volume (files or layer): a task per piece, combined in a tree."""
    parts = volume_tasks(urlpath, (partial(file_part, sidecar=sidecars), chunks_part), storage_options, mip,
                         fill_missing, label=label)
    return tree_reduce(parts, combine_parts, split_every)


def _finish(result: Part, what: str, label, no_slice_conversion: bool = False):
    """A combined :class:`Part` as the single-machine functions of crackle.analysis give it."""
    if label is not None and not result.labels.size:
        raise ValueError(f"label {label} is not in the volume")
    if what == "counts":
        found = counts_from(result.labels, result.table, label)
    elif what == "centroids":
        found = centroids_from(result.labels, result.table, label)
    else:
        found = boxes_from(result.labels, result.table, label, no_slice_conversion)
    return found if label is not None else LabelDict(found)


def _reduction(what: str, urlpath, label, storage_options, use_sidecars, split_every, compute, progress, mip,
               fill_missing, **kwargs):
    total = stack_statistics(urlpath, label, storage_options, use_sidecars and what != "centroids", split_every,
                             mip, fill_missing)
    return run(dask.delayed(_finish, pure=True)(total, what, label, **kwargs), compute, progress)


_COMMON = """
    Parameters
    ----------
    urlpath : str or list of str
        Crackle files: any fsspec URL or local path, a glob (files stacked
        along z in sorted order), a list, or a folder ``to_crackle`` wrote; all
        files must share sx, sy and dtype. Or a Neuroglancer precomputed layer
        (``precomputed://`` + URL, or a folder holding its ``info``): then
        coordinates are the layer's voxel coordinates (``voxel_offset`` included,
        as cloud-volume reports them).
    label : int, optional
        Only this label (ValueError if the volume does not hold it).
    storage_options : dict, optional
        Passed to fsspec.
    use_sidecars : bool
        Read a file's ``.ckl.meta.parquet`` sidecar instead of its crack codes
        when it is fresh: written here for this very stream (the sidecar names
        it), or, for other sidecars, at least as new as the file and listing
        exactly its labels and voxels. Centroids always read the crack codes.
    split_every : int
        Parts combined per task of the tree reduction.
    compute : bool
        False returns the ``dask.delayed`` result instead (for ``distributed.progress``, or to
        compute several together).
    progress : bool
        Show a progress bar (the distributed one when a client is active).
    mip, fill_missing
        For a layer: the scale, and whether missing chunks count as background (label 0)
        instead of raising ``crackle.FormatError``.
"""


def voxel_counts(urlpath, label=None, storage_options=None, use_sidecars: bool = True,
                 split_every: int = SPLIT_EVERY, compute: bool = True, progress: bool = False, mip: int = 0,
                 fill_missing: bool = False):
    """Voxels of each label of a volume, ``{label: count}`` (or the count of ``label``).
    """
    return _reduction("counts", urlpath, label, storage_options, use_sidecars, split_every, compute, progress, mip,
                      fill_missing)


def centroids(urlpath, label=None, storage_options=None, use_sidecars: bool = True,
              split_every: int = SPLIT_EVERY, compute: bool = True, progress: bool = False, mip: int = 0,
              fill_missing: bool = False):
    """Mean voxel position of each label of a volume, ``{label: array([x, y, z])}`` (for a stack,
    z counted from the bottom of the first file), or that of ``label``.
    """
    return _reduction("centroids", urlpath, label, storage_options, use_sidecars, split_every, compute, progress,
                      mip, fill_missing)


def bounding_boxes(urlpath, label=None, no_slice_conversion: bool = False, storage_options=None,
                   use_sidecars: bool = True, split_every: int = SPLIT_EVERY, compute: bool = True,
                   progress: bool = False, mip: int = 0, fill_missing: bool = False):
    """Bounding box of each label of a volume, as :func:`crackle.bounding_boxes` gives it (slices,
    or ``array([xmin, ymin, zmin, xmax, ymax, zmax])`` with ``no_slice_conversion``).
    """
    return _reduction("boxes", urlpath, label, storage_options, use_sidecars, split_every, compute, progress, mip,
                      fill_missing, no_slice_conversion=no_slice_conversion)


for _function in (voxel_counts, centroids, bounding_boxes):
    _function.__doc__ += _COMMON


def _table(part: Part):
    import pyarrow as pa

    table = part.table
    columns = {"label": part.labels, "voxel_count": table[:, COUNT].astype(np.uint64)}
    for axis, column in zip("xyz", range(SUM_X, SUM_Z + 1)):
        columns[f"centroid_{axis}"] = table[:, column] / np.maximum(table[:, COUNT], 1)
    dtype = coordinate_dtype(table[:, [column for _, column in BOX_COLUMNS]])
    for name, column in BOX_COLUMNS:
        columns[name] = table[:, column].astype(dtype)
    return pa.table(columns)


def statistics(urlpath, storage_options=None, split_every: int = SPLIT_EVERY, compute: bool = True,
               progress: bool = False, mip: int = 0, fill_missing: bool = False):
    """Every label of a volume with its voxel count, centroid and bounding box, as a
    ``pyarrow.Table`` (columns label, voxel_count, centroid_x/y/z, min_x, max_x, min_y, max_y,
    min_z, max_z; ``.to_pandas()`` for a DataFrame). Arguments as :func:`voxel_counts`.
    """
    total = stack_statistics(urlpath, None, storage_options, False, split_every, mip, fill_missing)
    return run(dask.delayed(_table, pure=True)(total), compute, progress)


def _no_rows(found: np.ndarray) -> Part:
    return Part(found.dtype, found, np.zeros((found.size, 10), dtype=np.int64))


def _file_labels(fs, path: str, origin) -> Part:
    """A file's labels (from its labels section) as a part without statistics."""
    return _no_rows(codec.labels(open_stream(fs, path)))


def _chunk_labels(layer, mip: int, points: list, fill_missing: bool) -> Part:
    """The labels of some chunks of a layer (of Crackle chunks, from their labels sections)."""
    scale = layer.info.scale(mip)
    found = [codec.labels(layer.stream(scale, p, payload))
             for p, payload in layer.payloads(mip, points, fill_missing).items()]
    return _no_rows(np.unique(np.concatenate(found)).astype(layer.info.dtype))


def labels(urlpath, storage_options=None, split_every: int = SPLIT_EVERY, compute: bool = True,
           progress: bool = False, mip: int = 0, fill_missing: bool = False):
    """Sorted distinct labels of a volume, read from each file's (or Crackle chunk's) labels section
    (no crack codes). Arguments as :func:`voxel_counts`."""
    parts = volume_tasks(urlpath, (_file_labels, _chunk_labels), storage_options, mip, fill_missing)
    merged = tree_reduce(parts, combine_parts, split_every)
    return run(dask.delayed(_labels_of, pure=True)(merged), compute, progress)


def _labels_of(part: Part) -> np.ndarray:
    return part.labels


def _file_contains(fs, path: str, origin, label: int) -> bool:
    return codec.contains(open_stream(fs, path), label)


def _chunks_contain(layer, mip: int, points: list, fill_missing: bool, label: int) -> bool:
    scale = layer.info.scale(mip)
    return builtins.any(codec.contains(layer.stream(scale, p, payload), label)
                        for p, payload in layer.payloads(mip, points, fill_missing).items())


def contains(urlpath, label: int, storage_options=None, split_every: int = SPLIT_EVERY, compute: bool = True,
             progress: bool = False, mip: int = 0, fill_missing: bool = False):
    """Whether any piece of a volume holds ``label`` (each file's or Crackle chunk's labels section
    alone is read). Arguments as :func:`voxel_counts`."""
    parts = volume_tasks(urlpath, (_file_contains, _chunks_contain), storage_options, mip, fill_missing, label=label)
    return run(tree_reduce(parts, _any, split_every), compute, progress)


def _any(*found) -> bool:
    return builtins.any(found)
