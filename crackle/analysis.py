"""Per-label statistics from compressed streams: voxel counts, centroids, bounding boxes, the sidecar.

The slices' components are labelled from their crack codes and their pixel
statistics gathered in the same pass (no voxel array is built), a block of
slices at a time; per-label results are reductions over the components.
"""

import builtins
from typing import Optional

import numpy as np

from . import codec
from .format.crc import crc32c
from .format.stream import StreamView
from .kernels.surface import surface_mask
from .threads import map_blocks, thread_count
from .operations import astype, codes_alike, remap

_BLOCK_COMPONENTS = 1 << 21  # components whose statistics are held at once (7 int64 each)
_GRAPH_BLOCK_BYTES = 128 << 20  # decoded labels per block of the voxel connectivity graph
# Columns of a statistics table: pixel count, sum of x, y and z, min x, max x, min y, max y, min z, max z.
COUNT, SUM_X, SUM_Y, SUM_Z, MIN_X, MAX_X, MIN_Y, MAX_Y, MIN_Z, MAX_Z = range(10)
# The sidecar's bounding-box columns (crackle-codec's names) and the table columns they hold.
BOX_COLUMNS = (("min_x", MIN_X), ("max_x", MAX_X), ("min_y", MIN_Y), ("max_y", MAX_Y), ("min_z", MIN_Z),
               ("max_z", MAX_Z))


def combine_rows(labels: np.ndarray, rows: np.ndarray) -> tuple:
    """Combine statistics rows that belong to one label: ``(sorted labels, one row per label)``
    (rows as :func:`label_statistics` gives them, labels in any order, repeats allowed)."""
    order = np.argsort(labels, kind="stable")
    labels, rows = labels[order], rows[order]
    starts = np.flatnonzero(np.concatenate([[True], labels[1:] != labels[:-1]])) if labels.size else np.zeros(0, int)
    if not starts.size:
        return labels[:0], rows[:0]
    out = np.empty((starts.size, 10), dtype=np.int64)
    out[:, COUNT : SUM_Z + 1] = np.add.reduceat(rows[:, COUNT : SUM_Z + 1], starts, axis=0)
    for low, high in ((MIN_X, MAX_X), (MIN_Y, MAX_Y), (MIN_Z, MAX_Z)):
        out[:, low] = np.minimum.reduceat(rows[:, low], starts)
        out[:, high] = np.maximum.reduceat(rows[:, high], starts)
    return labels[starts], out


def _block_stats(view: StreamView, z_start: int, z_end: int, parallel: int) -> tuple:
    """``(labels, table)``: a statistics row for each entry of the labels section (and the PINS
    background) over slices ``z_start .. z_end - 1``; entries absent from the range have count 0."""
    section = view.labels
    offsets = section.component_offsets
    total = int(offsets[z_end] - offsets[z_start])
    raw = np.zeros((total, 7), dtype=np.int64)
    raw[:, 3] = raw[:, 5] = np.iinfo(np.int64).max
    raw[:, 4] = raw[:, 6] = -1
    # Look up each component's entry index rather than its label: the reduction needs no search.
    # (uint32, as decompress of a uint32 stream: the two share one compiled kernel)
    entries = np.arange(section.unique.size + 1, dtype=np.uint32 if section.unique.size < 2**32 - 1 else np.uint64)
    ids = codec._run_kernel(view, z_start, z_end, parallel, None, True, stats=raw,
                            values=(entries[:-1], entries[-1]))[0].astype(np.intp)
    z = np.repeat(np.arange(z_start, z_end), np.diff(offsets[z_start : z_end + 1]))
    table = np.zeros((entries.size, 10), dtype=np.int64)
    table[:, [MIN_X, MIN_Y, MIN_Z]] = np.iinfo(np.int64).max
    table[:, [MAX_X, MAX_Y, MAX_Z]] = -1
    for column, values in ((COUNT, raw[:, 0]), (SUM_X, raw[:, 1]), (SUM_Y, raw[:, 2]), (SUM_Z, z * raw[:, 0])):
        np.add.at(table[:, column], ids, values)
    for column, values in ((MIN_X, raw[:, 3]), (MIN_Y, raw[:, 5]), (MIN_Z, z)):
        np.minimum.at(table[:, column], ids, values)
    for column, values in ((MAX_X, raw[:, 4]), (MAX_Y, raw[:, 6]), (MAX_Z, z)):
        np.maximum.at(table[:, column], ids, values)
    background = getattr(section, "background", 0)
    labels = np.append(section.unique, section.unique.dtype.type(background))
    present = table[:, COUNT] > 0
    return labels[present], table[present]


def label_statistics(binary, label: Optional[int] = None, parallel: int = 0) -> tuple:
    """``(labels, table)``: every label (or only ``label``) and its statistics row (columns
    :data:`COUNT` ... :data:`MAX_Z`), in ascending label order.

    With ``label``, only the slices that may hold it are labelled.
    """
    view = codec.stream_view(binary)
    head = view.header
    if head.voxels() == 0:
        return np.zeros(0, dtype=head.dtype), np.zeros((0, 10), dtype=np.int64)
    z_start, z_end = 0, head.sz
    if label is not None:
        if not codec.contains(view, label):
            raise ValueError(f"label {label} is not in the volume")
        z_start, z_end, _ = codec._label_slices(view, label)
    offsets = view.labels.component_offsets
    labels, table = np.zeros(0, dtype=head.dtype), np.zeros((0, 10), dtype=np.int64)
    z = z_start
    while z < z_end:
        stop = builtins.max(z + 1, int(np.searchsorted(offsets, offsets[z] + _BLOCK_COMPONENTS, side="right")) - 1)
        stop = builtins.min(stop, z_end)
        values, rows = _block_stats(view, z, stop, parallel)  # one row per label (or repeated label)
        if label is not None:
            keep = values == values.dtype.type(label)
            values, rows = values[keep], rows[keep]
        labels, table = combine_rows(np.concatenate([labels, values]), np.concatenate([table, rows]))
        z = stop
    return labels, table


def voxel_counts(binary, label: Optional[int] = None, parallel: int = 0):
    """Voxels of each label as ``{label: count}``, or the count of ``label`` (ValueError if absent)."""
    return counts_from(*label_statistics(binary, label, parallel), label)


def centroids(binary, label: Optional[int] = None, parallel: int = 0):
    """Mean voxel position of each label as ``{label: array([x, y, z])}``, or that of ``label``."""
    return centroids_from(*label_statistics(binary, label, parallel), label)


def bounding_boxes(binary, label: Optional[int] = None, parallel: int = 0, no_slice_conversion: bool = False):
    """Axis-aligned bounding box of each label (or of ``label`` alone).

    As ``(slice(xmin, xmax + 1), slice(ymin, ymax + 1), slice(zmin, zmax + 1))``,
    or with ``no_slice_conversion`` as ``array([xmin, ymin, zmin, xmax, ymax,
    zmax], uint32)``. (crackle-codec gives a one-label volume the box
    ``0 .. sx`` rather than ``0 .. sx - 1``; this is exact.)
    """
    return boxes_from(*label_statistics(binary, label, parallel), label, no_slice_conversion)


def _pick(found: dict, label):
    """``found[label]``, or all of ``found`` when no label is asked for."""
    return found[int(label)] if label is not None else found


def counts_from(labels: np.ndarray, table: np.ndarray, label=None):
    """:func:`voxel_counts` from a statistics table (see :func:`label_statistics`)."""
    return _pick(dict(zip(labels.tolist(), table[:, COUNT].tolist())), label)


def centroids_from(labels: np.ndarray, table: np.ndarray, label=None):
    """:func:`centroids` from a statistics table."""
    means = table[:, SUM_X : SUM_Z + 1] / table[:, COUNT : COUNT + 1]
    return _pick({int(v): means[i] for i, v in enumerate(labels)}, label)


def coordinate_dtype(values: np.ndarray) -> np.dtype:
    """uint32, as crackle-codec gives coordinates, unless ``values`` need more: int64 (a
    precomputed layer's voxel coordinates can be negative, or past 2**32)."""
    fits = values.size == 0 or (values.min() >= 0 and values.max() < 2**32)
    return np.dtype(np.uint32 if fits else np.int64)


def boxes_from(labels: np.ndarray, table: np.ndarray, label=None, no_slice_conversion: bool = False):
    """:func:`bounding_boxes` from a statistics table."""
    corners = table[:, [MIN_X, MIN_Y, MIN_Z, MAX_X, MAX_Y, MAX_Z]]
    corners = corners.astype(coordinate_dtype(corners))
    if no_slice_conversion:
        boxes = {int(v): corners[i] for i, v in enumerate(labels)}
    else:
        boxes = {int(v): tuple(slice(int(c[k]), int(c[k + 3]) + 1) for k in range(3)) for v, c in zip(labels, corners)}
    return _pick(boxes, label)


def to_parquet(binary, parallel: int = 0):
    """Voxel counts and bounding boxes as a ``pyarrow.Table``, with crackle-codec's sidecar schema
    (and, in the schema's metadata, :func:`stream_fingerprint` under :data:`FINGERPRINT_KEY`).

    Columns: label (the stream's dtype), voxel_count (uint32, uint64 for
    volumes of 2^32 voxels or more), min_x, max_x, min_y, max_y and, for more
    than one slice, min_z, max_z (uint16, uint32 when a side exceeds 65535).
    """
    import pyarrow as pa

    head = codec.header(binary)
    labels, table = label_statistics(binary, None, parallel)
    count_dtype = np.uint64 if head.voxels() > np.iinfo(np.uint32).max else np.uint32
    box_dtype = np.uint16 if builtins.max(head.sx, head.sy, head.sz) <= np.iinfo(np.uint16).max else np.uint32
    columns = {"label": labels.astype(head.dtype), "voxel_count": table[:, COUNT].astype(count_dtype)}
    for name, column in BOX_COLUMNS if head.sz > 1 else BOX_COLUMNS[:4]:
        columns[name] = table[:, column].astype(box_dtype)
    schema = pa.schema([pa.field(name, pa.from_numpy_dtype(values.dtype)) for name, values in columns.items()],
                       metadata={FINGERPRINT_KEY: stream_fingerprint(binary)})
    return pa.table(columns, schema=schema)


FINGERPRINT_KEY = b"crackle:stream"  # sidecar metadata naming the stream described (other readers ignore it)


def stream_fingerprint(binary) -> str:
    """What identifies a stream for its sidecar: its length and the crc32c of its header, crack
    index and labels section (read from the start of the stream: no crack codes are read)."""
    view = codec.stream_view(binary)
    head = view.header
    known = builtins.min(view.size, head.header_bytes + head.grid_index_bytes + head.num_label_bytes)
    return f"{view.size}:{crc32c(view.read(0, known)):08x}"


def write_sidecar(binary, path, parallel: int = 0, fs=None) -> None:
    """Write :func:`to_parquet`'s table to ``path`` (zstd-compressed), atomically; ``path`` is on
    the fsspec filesystem ``fs`` if given, else a local path or URL."""
    import pyarrow.parquet as pq

    from .files import atomic_write, atomic_write_on  # files builds on the array module, which builds on this one

    table = to_parquet(binary, parallel)
    with atomic_write(path) if fs is None else atomic_write_on(fs, path) as handle:
        pq.write_table(table, handle, compression="zstd")


def sidecar_path(path) -> str:
    """The sidecar of a Crackle file: ``x.ckl`` and ``x.ckl.gz`` -> ``x.ckl.meta.parquet``."""
    path = str(path)
    return (path[:-3] if path.endswith(".gz") else path) + ".meta.parquet"


def edge_labels(binary, parallel: int = 0) -> set:
    """Labels with a voxel on a face of the volume (x, y or z at its first or last index)."""
    head = codec.header(binary)
    labels, table = label_statistics(binary, None, parallel)
    touching = ((table[:, MIN_X] == 0) | (table[:, MAX_X] == head.sx - 1) | (table[:, MIN_Y] == 0)
                | (table[:, MAX_Y] == head.sy - 1) | (table[:, MIN_Z] == 0) | (table[:, MAX_Z] == head.sz - 1))
    return set(labels[touching].tolist())


class _Images:
    """An iterable with a length: what :func:`each` returns."""

    def __init__(self, count: int, generate):
        self._count, self._generate = count, generate

    def __len__(self) -> int:
        return self._count

    def __iter__(self):
        return self._generate()


def each(binary, parallel: int = 0, crop: bool = True, labels=None, multi: bool = False):
    """Iterate over ``(label, binary image)`` for every label (or those of ``labels`` present).

    With ``crop``, each image is cut to the label's bounding box; otherwise it
    has the volume's shape (only the slices holding the label are decoded
    either way). With ``multi``, yields ``(label, value, image)`` where
    ``image`` renders up to 255 labels at once as values 1-255 (0 elsewhere),
    one decode per 255 labels.
    """
    view = codec.stream_view(binary)
    present = codec.labels(view)
    wanted = None if labels is None else {int(v) for v in labels}
    chosen = [int(v) for v in present if wanted is None or int(v) in wanted]
    order = "F" if view.header.fortran_order else "C"

    def single():
        boxes = bounding_boxes(view, parallel=parallel, no_slice_conversion=True) if crop else None
        for label in chosen:
            if crop:
                box = boxes[label]
                image = codec.decompress_range(view, int(box[2]), int(box[5]) + 1, parallel, label=label)
                yield label, np.asarray(image[box[0] : box[3] + 1, box[1] : box[4] + 1], order=order)
            else:
                yield label, codec.decompress(view, label=label, parallel=parallel)

    def batches():
        for start in range(0, len(chosen), 255):
            subset = chosen[start : start + 255]
            mapping = dict.fromkeys(present.tolist(), 0)
            mapping.update({label: i + 1 for i, label in enumerate(subset)})
            rendered = astype(remap(view, mapping, parallel=parallel), np.uint8)
            image = codec.decompress(rendered, parallel=parallel)
            for label in subset:
                yield label, mapping[label], image

    return _Images(len(chosen), batches if multi else single)


def voxel_connectivity_graph(binary, connectivity: int = 6, parallel: int = 0) -> np.ndarray:
    """Which neighbours of each voxel hold the same label, as crackle-codec's uint8 bitset.

    Bits (least significant first): +x, -x, +y, -y, and for ``connectivity=6``
    also +z, -z. A direction that leaves the volume has its bit set, as in
    ``cc3d.voxel_connectivity_graph``, the library that defines the convention
    (equal to it for 6, and slice by slice for 4). crackle-codec instead sets
    the in-plane edge bits only when the stream's crack format is
    IMPERMISSIBLE, so the same array can give it different graphs; inside
    the volume the bits agree. Decodes a block of slices at a time into the
    (sx, sy, sz) Fortran-order result.
    """
    if connectivity not in (4, 6):
        raise ValueError(f"connectivity must be 4 or 6, got {connectivity!r}")
    view = codec.stream_view(binary)
    sx, sy, sz = view.header.shape
    graph = np.zeros((sx, sy, sz), dtype=np.uint8, order="F")
    step = builtins.max(1, _GRAPH_BLOCK_BYTES // builtins.max(1, sx * sy * view.header.data_width))
    for z0 in range(0, sz, step):
        z1 = builtins.min(z0 + step, sz)
        low, high = builtins.max(0, z0 - 1), builtins.min(sz, z1 + 1)
        labels = codec.decompress_range(view, low, high, parallel, order="F")
        bits = graph[:, :, z0:z1]
        axes = ((0, 1, 2), (1, 4, 8)) + (((2, 16, 32),) if connectivity == 6 else ())
        for axis, forward, backward in axes:
            same = np.diff(labels, axis=axis) == 0  # voxel i and i + 1 along the axis
            if axis < 2:
                same = same[:, :, z0 - low : z1 - low]
                ahead, behind = [slice(None)] * 3, [slice(None)] * 3
                ahead[axis], behind[axis] = slice(None, -1), slice(1, None)
                bits[tuple(ahead)] |= same * np.uint8(forward)
                bits[tuple(behind)] |= same * np.uint8(backward)
            else:
                # same[..., k] compares slices low + k and low + k + 1.
                up = same[:, :, z0 - low : z0 - low + (z1 - z0)]
                bits[:, :, : up.shape[2]] |= up * np.uint8(forward)
                first = 1 if z0 == 0 else 0  # slice 0 has nothing below
                down = same[:, :, z0 - low - 1 + first : z1 - low - 1]
                bits[:, :, first : first + down.shape[2]] |= down * np.uint8(backward)
    _set_outward_bits(graph, connectivity)
    return graph


def _set_outward_bits(graph: np.ndarray, connectivity: int) -> None:
    """Set the bits of the directions that leave the volume (cc3d's convention)."""
    if graph.size == 0:
        return
    graph[-1, :, :] |= np.uint8(1)
    graph[0, :, :] |= np.uint8(2)
    graph[:, -1, :] |= np.uint8(4)
    graph[:, 0, :] |= np.uint8(8)
    if connectivity == 6:
        graph[:, :, -1] |= np.uint8(16)
        graph[:, :, 0] |= np.uint8(32)


def contacts(binary, anisotropy=(1.0, 1.0, 1.0), parallel: int = 0) -> dict:
    """Contact area between every two labels that touch across a voxel face (6-connected), as
    ``{(smaller label, larger label): area}``; faces are ``anisotropy``-scaled (an x face has area
    wy * wz). Background (0) is left out, as in crackle-codec. Decodes a block of slices at a time."""
    wx, wy, wz = (float(w) for w in anisotropy)
    view = codec.stream_view(binary)
    sx, sy, sz = view.header.shape
    present = codec.labels(view)
    keys, areas = [], []
    step = builtins.max(1, _GRAPH_BLOCK_BYTES // builtins.max(1, sx * sy * view.header.data_width))
    for z0 in range(0, sz, step):
        z1 = builtins.min(z0 + step, sz)
        labels = codec.decompress_range(view, builtins.max(0, z0 - 1), z1, parallel, order="F")
        here = labels[:, :, 1:] if z0 > 0 else labels  # this block's slices (with the one before, for z)
        pairs = [(here[1:], here[:-1], wy * wz), (here[:, 1:], here[:, :-1], wx * wz)]
        if labels.shape[2] > 1:
            pairs.append((labels[:, :, 1:], labels[:, :, :-1], wx * wy))
        for first, second, area in pairs:
            touching = (first != second) & (first != 0) & (second != 0)
            a = np.searchsorted(present, first[touching])
            b = np.searchsorted(present, second[touching])
            keys.append(np.minimum(a, b).astype(np.int64) * present.size + np.maximum(a, b))
            areas.append(np.full(keys[-1].size, area))
    if not keys:
        return {}
    unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    totals = np.bincount(inverse, weights=np.concatenate(areas), minlength=unique.size)
    low, high = present[unique // present.size], present[unique % present.size]
    return {(int(a), int(b)): float(t) for a, b, t in zip(low, high, totals)}


def component_map(component_binary, parent_binary, parallel: int = 0) -> dict:
    """``{component label: parent label}`` for two volumes of one shape where each label of the
    first lies within one label of the second (e.g. connected components and their source).

    Streams with the same crack codes (as :func:`crackle.connected_components` writes) are compared
    component by component; others are decoded a block of slices at a time.
    """
    child, parent = codec.stream_view(component_binary), codec.stream_view(parent_binary)
    if child.header.shape != parent.header.shape:
        raise ValueError(f"shapes differ: {child.header.shape} and {parent.header.shape}")
    if child.header.voxels() == 0:
        return {}
    if codes_alike(child, parent):
        pairs = [(codec.component_values(child, parallel=parallel),
                  codec.component_values(parent, parallel=parallel))]
    else:
        sx, sy, sz = child.header.shape
        step = builtins.max(1, _GRAPH_BLOCK_BYTES // (sx * sy * 8))
        pairs = []
        for z in range(0, sz, step):
            end = builtins.min(z + step, sz)
            pairs.append((codec.decompress_range(child, z, end, parallel, order="F").reshape(-1, order="F"),
                          codec.decompress_range(parent, z, end, parallel, order="F").reshape(-1, order="F")))
    found = {}
    for ours, theirs in pairs:
        keys, first = np.unique(ours, return_index=True)
        found.update(zip(keys.tolist(), theirs[first].tolist()))
    return found


def scattered_points(binary, points, parallel: int = 0) -> np.ndarray:
    """The labels at ``points`` (an (N, 3) array of x, y, z inside the volume), decoding only the
    slices that hold them, a block of neighbouring slices at a time."""
    points = np.asarray(points)
    view = codec.stream_view(binary)
    sx, sy, sz = view.header.shape
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must be an (N, 3) array, got shape {points.shape}")
    if points.size and ((points < 0).any() or (points >= np.array([sx, sy, sz])).any()):
        raise ValueError("points must lie inside the volume")
    values = np.zeros(points.shape[0], dtype=view.header.dtype)
    zs = np.unique(points[:, 2]).astype(np.int64)
    step = builtins.max(1, _GRAPH_BLOCK_BYTES // builtins.max(1, sx * sy * view.header.data_width))
    i = 0
    while i < zs.size:
        # A block of nearby slices: starts at a slice that holds points, spans at most ``step``.
        z0 = int(zs[i])
        j = int(np.searchsorted(zs, z0 + step))
        z1 = int(zs[j - 1]) + 1
        block = codec.decompress_range(view, z0, z1, parallel)
        inside = (points[:, 2] >= z0) & (points[:, 2] < z1)
        where = points[inside]
        values[inside] = block[where[:, 0], where[:, 1], where[:, 2] - z0]
        i = j
    return values


def select_enclosed_points(binary, label: int, points, parallel: int = 0) -> np.ndarray:
    """Which of ``points`` ((N, 3) x, y, z) lie in ``label``; points outside the volume are False.
    Only the slices that may hold the label and a point are decoded."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must be an (N, 3) array, got shape {points.shape}")
    view = codec.stream_view(binary)
    shape = np.array(view.header.shape)
    selected = np.all((points >= 0) & (points < shape), axis=1)
    if not selected.any() or not codec.contains(view, label):
        return np.zeros(points.shape[0], dtype=bool)
    z_start, z_end, _ = codec._label_slices(view, label)
    selected &= (points[:, 2] >= z_start) & (points[:, 2] < z_end)
    hits = np.flatnonzero(selected)
    selected[hits] = scattered_points(view, points[hits], parallel) == view.header.dtype.type(label)
    return selected


def _coordinates(flat: np.ndarray, sx: int, sy: int, z0: int, dtype) -> np.ndarray:
    """(N, 3) x, y, z of Fortran-order indices ``flat`` into slices starting at ``z0``."""
    points = np.empty((flat.size, 3), dtype=dtype)
    points[:, 0] = flat % sx
    points[:, 1] = flat // sx % sy
    points[:, 2] = flat // (sx * sy) + z0
    return points


def point_cloud(binary, label=None, parallel: int = 0, z_start: int = -1, z_end: int = -1,
                skip_background: bool = True):
    """Surface voxels of each label, as (N, 3) arrays of x, y, z sorted by z, then y, then x.

    A voxel is on the surface when one of its 8 in-plane or 2 z neighbours has another label
    or lies outside the volume (crackle-codec's points, which it lists with repeats and in the
    order it walks them). Coordinates are uint16 (uint32 when a side exceeds 65535).

    Parameters
    ----------
    label : int, list of int, or None
        One label (returns its array; ValueError if absent), several (a dict), or all (a dict;
        ``skip_background`` leaves out 0).
    z_start, z_end : int
        Only slices ``z_start .. z_end - 1`` (-1: the labels' own z range, or the volume's).
    """
    view = codec.stream_view(binary)
    sx, sy, sz = view.header.shape
    single = isinstance(label, (int, np.integer))
    wanted = None if label is None else [int(label)] if single else [int(v) for v in label]
    for value in wanted or []:
        if not codec.contains(view, value):
            raise ValueError(f"label {value} is not in the volume")
    first, last = 0, sz
    if wanted is not None and (z_start == -1 or z_end == -1) and sz:
        ranges = [codec._label_slices(view, value)[:2] for value in wanted]
        first, last = builtins.min(r[0] for r in ranges), builtins.max(r[1] for r in ranges)
    first = first if z_start == -1 else builtins.max(0, int(z_start))
    last = last if z_end == -1 else builtins.min(sz, int(z_end))
    coordinate = np.uint16 if builtins.max(sx, sy, sz) <= np.iinfo(np.uint16).max else np.uint32
    found = {}
    step = builtins.max(1, _GRAPH_BLOCK_BYTES // builtins.max(1, sx * sy * view.header.data_width))
    for z0 in range(first, last, step):
        z1 = builtins.min(z0 + step, last)
        low, high = builtins.max(0, z0 - 1), builtins.min(sz, z1 + 1)
        # One label: its binary image is enough (its surface is where a neighbour is not it).
        block = codec.decompress_range(view, low, high, parallel, label=int(label) if single else None, order="F")
        surface = np.empty((sx, sy, z1 - z0), dtype=bool, order="F")
        n, threads = z1 - z0, thread_count(parallel)
        part = -(-n // threads)
        map_blocks(lambda b: surface_mask(block, z0 - low, z1 - low, z0 == 0, z1 == sz, surface, b * part,
                                          builtins.min(n, (b + 1) * part)), -(-n // part), threads)
        here = block[:, :, z0 - low : z1 - low]
        if single:
            surface &= here
        elif wanted is not None:
            surface &= np.isin(here, np.array(wanted, dtype=here.dtype))
        elif skip_background:
            surface &= here != 0
        flat = np.flatnonzero(surface.reshape(-1, order="F"))  # Fortran order: z, then y, then x
        if single:
            found.setdefault(int(label), []).append(_coordinates(flat, sx, sy, z0, coordinate))
            continue
        values = here.reshape(-1, order="F")[flat]
        order = np.argsort(values, kind="stable")
        values, points = values[order], _coordinates(flat[order], sx, sy, z0, coordinate)
        cuts = np.flatnonzero(np.diff(values)) + 1
        for value, part in zip(values[np.concatenate([[0], cuts])].tolist() if values.size else [],
                               np.split(points, cuts)):
            found.setdefault(value, []).append(part)
    clouds = {value: np.concatenate(parts) for value, parts in found.items()}
    if single:
        return clouds.get(int(label), np.zeros((0, 3), dtype=coordinate))
    return clouds


def signed_distance_to_boundary(binary, label: int, points, anisotropy=(1.0, 1.0, 1.0), parallel: int = 0,
                                z_chunk: int = 100, progress: bool = False) -> np.ndarray:
    """Distance from each of ``points`` ((N, 3) x, y, z) to the surface of ``label``: negative
    inside the label, positive outside, infinite if the label is absent (crackle-codec's rule:
    the nearest surface voxel, ``anisotropy``-scaled, plus the smallest voxel side inside).

    The surface is gathered ``z_chunk`` slices at a time into a k-d tree (pykdtree, as
    crackle-codec), so memory grows with a chunk's surface, not the volume.
    """
    from pykdtree.kdtree import KDTree  # optional: a well-kept k-d tree, the one crackle-codec uses

    points = np.asarray(points)
    radii = np.full(points.shape[0], np.inf, dtype=np.float32)
    view = codec.stream_view(binary)
    if not codec.contains(view, label):
        return radii
    inside = select_enclosed_points(view, label, points, parallel)
    scale = np.asarray(anisotropy, dtype=np.float32)
    scaled = (points * scale).astype(np.float32)
    sz = view.header.sz
    starts = range(0, sz, builtins.max(1, builtins.min(int(z_chunk), sz)))
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="signed distance to boundary", unit="chunk")
    for z in starts:
        surface = point_cloud(view, label=label, parallel=parallel, z_start=builtins.max(z - 1, 0),
                              z_end=builtins.min(z + int(z_chunk), sz))
        if surface.size == 0:
            continue
        nearest, _ = KDTree(surface.astype(np.float32) * scale).query(scaled, k=1)
        radii = np.minimum(radii, nearest.astype(np.float32))
    radii[inside] += scale.min()  # the surface voxels are inside: a point on them is a voxel deep
    radii[inside] *= -1
    return radii
