"""Cutting streams along z and stacking them, without decoding the voxels.

Crack codes and slice checksums are per slice, so they are cut and joined as
bytes; the labels section is rebuilt for the slices kept. Stacking streams
whose crack codes are written differently (another Markov model, or the other
crack format) re-encodes those crack codes first (see :func:`zstack`).
"""

from typing import Sequence

import numpy as np

from . import codec
from .encoder import compress
from .format.assemble import assemble, assembled_parts
from .format.header import CrackleHeader, LabelFormat
from .format.label_writer import flat_section, flat_section_keyed, pins_section
from .format.labels import FlatLabels, PinLabels
from .format.stream import StreamView
from .kernels.pooling import mode_pool
from .threads import map_blocks, thread_count
from .operations import copy_header, relabel, stored_model
from .recoding import reencode_like


def _pin_window(view: StreamView, z_start: int, z_end: int) -> tuple:
    """The pins and listed components of a PINS stream that fall in ``z_start .. z_end - 1``, moved
    to start at slice 0: ``(foreground, (owner, index, depth), (owner, component id))``."""
    section = view.labels
    head = view.header
    plane = head.sx * head.sy
    pin_label, pin_index, pin_depth, cc_label, cc_id = view.pin_records
    top = pin_index // plane
    bottom = top + pin_depth
    inside = (bottom >= z_start) & (top < z_end)
    first = np.maximum(top[inside], z_start)
    last = np.minimum(bottom[inside], z_end - 1)
    index = pin_index[inside] % plane + plane * (first - z_start)
    c_start, c_end = int(section.component_offsets[z_start]), int(section.component_offsets[z_end])
    listed = (cc_id >= c_start) & (cc_id < c_end)
    used = np.unique(np.concatenate([pin_label[inside], cc_label[listed]]))
    # The stored list may be unsorted or repeat values (after a remap): sort and merge here.
    foreground, slot = np.unique(section.unique[used], return_inverse=True)
    owner = slot[np.searchsorted(used, pin_label[inside])], slot[np.searchsorted(used, cc_label[listed])]
    return _without_background(section.background, foreground, (owner[0], index, last - first),
                               (owner[1], cc_id[listed] - c_start))


def _without_background(background, foreground: np.ndarray, pins: tuple, ccs: tuple) -> tuple:
    """Drop the records of a foreground label equal to the background (after a remap): its
    components get the background anyway. Returns ``(foreground, pins, ccs)``."""
    keep = foreground != background
    if keep.all():
        return foreground, pins, ccs
    renumber = np.cumsum(keep) - 1
    pins = tuple(a[keep[pins[0]]] for a in (renumber[pins[0]], *pins[1:]))
    ccs = tuple(a[keep[ccs[0]]] for a in (renumber[ccs[0]], *ccs[1:]))
    return foreground[keep], pins, ccs


def zrange(binary, z_start: int, z_end: int) -> bytes:
    """The stream of slices ``z_start .. z_end - 1`` (crack codes copied, labels section rebuilt)."""
    view = codec.stream_view(binary)
    head = copy_header(view.header)
    z_start, z_end = codec._check_z_range(view.header, z_start, z_end)
    head.sz = z_end - z_start
    if head.voxels() == 0:
        return assemble(head, b"", b"", [], np.zeros(0), np.zeros(0))
    section = view.labels
    counts = np.diff(section.component_offsets[z_start : z_end + 1])
    if isinstance(section, FlatLabels):
        labels_section = flat_section(codec.component_values(view, z_start, z_end), counts, head)
    else:
        foreground, pins, ccs = _pin_window(view, z_start, z_end)
        labels_section = pins_section(section.background, foreground, pins, ccs, counts, head)
    codes, offsets = view.crack_codes(z_start, z_end)
    codes = codes[int(offsets[0]) : int(offsets[-1])]
    return assemble(head, labels_section, stored_model(view), [codes], np.diff(offsets),
                    codec.slice_checksums(view, z_start, z_end))


def zsplit(binary, z: int) -> tuple:
    """``(before, middle, after)``: the streams of slices ``[0, z)``, ``[z]`` and ``(z, sz)``."""
    sz = codec.stream_view(binary).header.sz
    if not 0 <= z < sz:
        raise ValueError(f"z={z} is outside the volume's {sz} slices")
    return zrange(binary, 0, z), zrange(binary, z, z + 1), zrange(binary, z + 1, sz)


def zshatter(binary) -> list:
    """One stream per z slice."""
    sz = codec.stream_view(binary).header.sz
    return [zrange(binary, z, z + 1) for z in range(sz)]


def _as_view(image) -> StreamView:
    if isinstance(image, np.ndarray):
        return codec.stream_view(compress(image))
    return codec.stream_view(image)


def _same_codes(views: list) -> bool:
    """Whether all crack codes are written alike (crack format, Markov order and model)."""
    first = views[0]
    return all(
        v.header.crack_format == first.header.crack_format
        and v.header.markov_model_order == first.header.markov_model_order
        and np.array_equal(stored_model(v), stored_model(first))
        for v in views[1:]
    )


def zstack(images: Sequence) -> bytes:
    """Stack volumes along z into one stream.

    Parameters
    ----------
    images : sequence of numpy arrays, CrackleArrays or bytes-like streams
        All of the same sx and sy (arrays are compressed first). The result's
        dtype holds every part's (numpy's promotion rules).

    Returns
    -------
    bytes
        FLAT labels, unless every part has PINS labels with the same
        background (then PINS). Parts with another Markov model or crack
        format than the first have their crack codes re-encoded (see
        :func:`reencode`); otherwise crack codes are copied.
    """
    return b"".join(stacked_parts([_as_view(image) for image in images]))


def stacked_parts(views: list):
    """:func:`zstack` of streams as an iterator of its pieces (see ``assembled_parts``).

    The labels section is built first; each part's crack codes are read only
    when the iterator reaches them, so a stack of files can be written while
    holding one file's crack codes at a time.
    """
    if not views:
        raise ValueError("zstack needs at least one volume")
    first = views[0].header
    for view in views[1:]:
        if (view.header.sx, view.header.sy) != (first.sx, first.sy):
            raise ValueError(f"cannot stack a {view.header.sx} x {view.header.sy} volume on a "
                             f"{first.sx} x {first.sy} one: x and y must match")
    dtype = np.result_type(*[v.header.dtype for v in views])
    views = [v if v.header.dtype == dtype else codec.stream_view(relabel(v, lambda x: x.astype(dtype), dtype))
             for v in views]
    sz = sum(v.header.sz for v in views)
    views = [v for v in views if v.header.voxels()] or views[:1]
    if not _same_codes(views):
        views = reencode_like(views)
    head = copy_header(views[0].header)
    head.sz = sz
    head.data_width, head.signed = dtype.itemsize, dtype.kind == "i"
    if head.voxels() == 0:
        return assembled_parts(head, b"", b"", [], np.zeros(0), np.zeros(0))
    counts = np.concatenate([np.diff(v.labels.component_offsets) for v in views])
    sections = [v.labels for v in views]
    if all(isinstance(s, PinLabels) for s in sections) and len({int(s.background) for s in sections}) == 1:
        labels_section = _stacked_pins(views, counts, head)
    elif all(isinstance(s, FlatLabels) for s in sections):
        for section in sections:
            section.check_keys()
        starts = np.cumsum([0] + [s.unique.size for s in sections])
        keys = np.concatenate([s.keys.astype(np.int64) + start for s, start in zip(sections, starts)])
        values = np.concatenate([s.unique.astype(dtype) for s in sections])
        labels_section = flat_section_keyed(values, keys, counts, head)
    else:
        head.label_format = LabelFormat.FLAT
        labels_section = flat_section(np.concatenate([codec.component_values(v) for v in views]), counts, head)
    lengths = np.concatenate([np.diff(v.layout.code_offsets) for v in views])
    crcs = np.concatenate([codec.slice_checksums(v) for v in views])
    return assembled_parts(head, labels_section, stored_model(views[0]), map(_all_codes, views), lengths, crcs)


def _all_codes(view: StreamView) -> np.ndarray:
    """Every slice's crack codes, as stored."""
    layout = view.layout
    return view.read(int(layout.code_offsets[0]), int(layout.code_offsets[-1]))


def _stacked_pins(views: list, counts: np.ndarray, head: CrackleHeader) -> bytes:
    """Merged PINS records of streams with one background, pins and components moved down in z."""
    foreground = np.unique(np.concatenate([v.labels.unique for v in views]))
    pins, ccs = [], []
    z, components = 0, 0
    for view in views:
        pin_label, pin_index, pin_depth, cc_label, cc_id = view.pin_records
        remap = np.searchsorted(foreground, view.labels.unique)
        pins.append((remap[pin_label], pin_index + z * head.sx * head.sy, pin_depth))
        ccs.append((remap[cc_label], cc_id + components))
        z += view.header.sz
        components += int(view.labels.component_offsets[-1])
    background = views[0].labels.background
    foreground, pins, ccs = _without_background(
        background, foreground, tuple(np.concatenate([p[i] for p in pins]) for i in range(3)),
        tuple(np.concatenate([c[i] for c in ccs]) for i in range(2)))
    return pins_section(background, foreground, pins, ccs, counts, head)


def repeat_slice(binary, times: int) -> bytes:
    """A one-slice stream repeated ``times`` times along z."""
    view = codec.stream_view(binary)
    if view.header.sz != 1:
        raise ValueError("repeat_slice needs a one-slice stream")
    return zstack([view] * times) if times else zrange(view, 0, 0)


def full(shape, fill_value: int, dtype=None, order: str = "C") -> bytes:
    """A stream of ``shape`` (2 or 3 dimensions) in which every voxel is ``fill_value``; arguments as
    ``numpy.full`` (``dtype`` None: that of ``numpy.asarray(fill_value)``)."""
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (2, 3) or any(n < 0 for n in shape):
        raise ValueError(f"shape must have 2 or 3 non-negative dimensions, got {shape}")
    if order not in ("C", "F"):
        raise ValueError(f'order must be "C" or "F", got {order!r}')
    dtype = np.asarray(fill_value).dtype if dtype is None else np.dtype(dtype)
    sx, sy, sz = shape + (1,) * (3 - len(shape))
    plane = np.full((sx, sy, 1), fill_value, dtype=dtype, order=order)
    return repeat_slice(compress(plane), sz)


def zeros(shape, dtype=None, order: str = "C") -> bytes:
    """A stream of ``shape`` filled with 0 (``dtype`` None: int64)."""
    return full(shape, 0, dtype, order)


def ones(shape, dtype=None, order: str = "C") -> bytes:
    """A stream of ``shape`` filled with 1 (``dtype`` None: int64)."""
    return full(shape, 1, dtype, order)


def recompress(binary, parallel: int = 0) -> bytes:
    """Decode and compress again, a block of slices (about 256 MiB decoded) at a time.

    After a :func:`remap` or :func:`mask`, neighbouring components may hold
    the same label; recompressing merges them (smaller crack codes). Keeps the
    Markov order, and allows pins if the stream has them.
    """
    view = codec.stream_view(binary)
    head = view.header
    if head.voxels() == 0:
        return bytes(view.read(0, view.size))
    pins = int(head.label_format != LabelFormat.FLAT)
    step = max(1, (256 << 20) // (head.sx * head.sy * head.data_width))
    parts = [
        compress(codec.decompress_range(view, z, min(z + step, head.sz), parallel), allow_pins=pins,
                 markov_model_order=head.markov_model_order, parallel=parallel)
        for z in range(0, head.sz, step)
    ]
    return zstack(parts)


def pooled_2x2x1(arr: np.ndarray, sparse: bool = False, order: str = "F", parallel: int = 0) -> np.ndarray:
    """A decoded (x, y, z) array downsampled as :func:`mode_pooling_2x2x1` downsamples a stream:
    (ceil(x / 2), ceil(y / 2), z), in memory ``order``, on ``parallel`` threads (0: all cores)."""
    out = np.empty((-(-arr.shape[0] // 2), -(-arr.shape[1] // 2), arr.shape[2]), dtype=arr.dtype, order=order)
    if out.size:
        threads, sz = thread_count(parallel), arr.shape[2]
        step = -(-sz // threads)
        map_blocks(lambda b: mode_pool(arr, bool(sparse), out, b * step, min(sz, (b + 1) * step)), -(-sz // step),
                   threads)
    return out


def mode_pooling_2x2x1(binary, sparse: bool = False, parallel: int = 0) -> bytes:
    """Downsample x and y by 2 with the mode of each 2x2 block, a block of slices at a time.

    Ties and blocks cut by the edge are decided as crackle-codec decides them.
    With ``sparse``, background (0) does not count towards the mode. The
    result keeps the dtype, memory order, Markov order and (if any) pins.
    """
    view = codec.stream_view(binary)
    head = view.header
    sx, sy = -(-head.sx // 2), -(-head.sy // 2)
    order = "F" if head.fortran_order else "C"
    if head.voxels() == 0:
        return compress(np.zeros((sx, sy, head.sz), dtype=head.dtype, order=order))
    step = max(1, (256 << 20) // (head.sx * head.sy * head.data_width))
    parts = []
    for z in range(0, head.sz, step):
        slab = codec.decompress_range(view, z, min(z + step, head.sz), parallel)
        pooled = pooled_2x2x1(slab, sparse, order, parallel)
        parts.append(compress(pooled, allow_pins=int(head.label_format != LabelFormat.FLAT),
                              markov_model_order=head.markov_model_order, parallel=parallel))
    return zstack(parts)
