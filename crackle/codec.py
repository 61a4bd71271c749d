"""Decoding and label queries: check the stream, pick dtypes, call the kernels.

Every function that takes a stream accepts any bytes-like object or a
:class:`crackle.CrackleArray`. Label queries (``labels``, ``num_labels``,
``min``, ``max``, ``contains``, ``contains_range``) read only the header and
the labels section.
"""

import builtins
from typing import Optional

import numpy as np

from .decoder import SliceCodes, decode_slices
from .errors import ChecksumError, FormatError
from .format.header import CrackFormat, CrackleHeader, unsigned_dtype
from .format.labels import FlatLabels
from .format.stream import MemoryStream, StreamView
from .kernels import status
from .kernels.pins import pins_by_slice
from .threads import thread_count


def stream_view(binary) -> StreamView:
    """The parsed view of ``binary``: a bytes-like object, a CrackleArray (which keeps its own, so
    parsing happens once) or a StreamView."""
    view = getattr(binary, "stream_view", None)
    if isinstance(view, StreamView):
        return view
    if isinstance(binary, StreamView):
        return binary
    if isinstance(binary, (str, np.ndarray)) and not (
        isinstance(binary, np.ndarray) and binary.dtype == np.uint8 and binary.ndim == 1
    ):
        raise TypeError(f"expected a Crackle stream (bytes-like or CrackleArray), got {type(binary).__name__}")
    return MemoryStream(binary)


def header(binary, ignore_crc_check: bool = False) -> CrackleHeader:
    """Decode the header of a Crackle stream.

    Parameters
    ----------
    binary : bytes-like or CrackleArray
    ignore_crc_check : bool
        Do not compare the header crc8.

    Returns
    -------
    CrackleHeader
    """
    if ignore_crc_check:
        view = getattr(binary, "stream_view", binary)
        head = view.read(0, min(view.size, 29)) if isinstance(view, StreamView) else binary
        return CrackleHeader.frombytes(np.frombuffer(head, dtype=np.uint8), ignore_crc_check=True)
    return stream_view(binary).header


def nbytes(binary) -> int:
    """Size in bytes of the decompressed array."""
    return header(binary).nbytes


def _representable(value, dtype: np.dtype) -> bool:
    info = np.iinfo(dtype)
    try:
        return info.min <= int(value) <= info.max
    except (TypeError, ValueError, OverflowError):
        return False


def _plain_sorted(view: StreamView) -> bool:
    """True if the stored unique list is ascending and duplicate-free as decoded values."""
    head = view.header
    narrowing = head.stored_data_width > head.data_width
    return head.is_sorted and not head.is_remapped and not head.signed and not narrowing


def labels(binary) -> np.ndarray:
    """Sorted unique label values of the volume.

    Reads only the header and the start of the labels section. Unlike
    crackle-codec 0.55, the result is exact for uint64 labels above 2**53 in
    PINS streams and has the stream's signed dtype for signed data.
    """
    view = stream_view(binary)
    head = view.header
    if head.voxels() == 0:
        return np.zeros(0, dtype=head.dtype)
    unique, background = view.unique
    if not _plain_sorted(view):
        extra = [] if background is None else [background]
        return np.unique(np.concatenate([unique, np.array(extra, dtype=head.dtype)]))
    if background is None:
        return unique
    at = int(np.searchsorted(unique, unique.dtype.type(background)))
    if at < unique.size and unique[at] == background:
        return unique
    return np.insert(unique, at, background)


def num_labels(binary) -> int:
    """Number of distinct label values (reads only the labels section)."""
    view = stream_view(binary)
    head = view.header
    if head.voxels() == 0:
        return 0
    if not _plain_sorted(view):
        return labels(view).size
    unique, background = view.unique
    return unique.size + (0 if background is None else 1)


def _extremes(binary) -> tuple:
    """(smallest, largest) label, from the ends of the sorted stored list and the background."""
    view = stream_view(binary)
    if view.header.voxels() == 0:
        raise ValueError("a zero-voxel volume has no labels")
    if _plain_sorted(view):
        unique, background = view.unique
        ends = [int(v) for v in unique[:1]] + [int(v) for v in unique[-1:]]
        ends += [] if background is None else [int(background)]
    else:
        values = labels(view)
        ends = [int(values[0]), int(values[-1])] if values.size else []
    if not ends:
        raise FormatError("the labels section of a non-empty volume lists no labels")
    return builtins.min(ends), builtins.max(ends)


def min(binary) -> int:
    """Smallest label value (reads only the labels section)."""
    return _extremes(binary)[0]


def max(binary) -> int:
    """Largest label value (reads only the labels section)."""
    return _extremes(binary)[1]


def contains(binary, label: int) -> bool:
    """True if ``label`` occurs in the volume (binary search in the labels section)."""
    view = stream_view(binary)
    if not _representable(label, view.header.dtype) or view.header.voxels() == 0:
        return False
    if _plain_sorted(view):
        values, background = view.unique
        if background is not None and int(background) == int(label):
            return True
    else:
        values = labels(view)
    i = int(np.searchsorted(values, values.dtype.type(label)))
    return i < values.size and int(values[i]) == int(label)


def contains_range(binary, low: int, high: int) -> np.ndarray:
    """Labels ``v`` of the volume with ``low <= v < high``, ascending."""
    values = labels(binary)
    info = np.iinfo(values.dtype)
    lo = builtins.max(int(low), info.min)
    hi = builtins.min(int(high), info.max + 1)
    if lo >= hi:
        return values[:0]
    start = np.searchsorted(values, values.dtype.type(lo), side="left")
    stop = values.size if hi > info.max else np.searchsorted(values, values.dtype.type(hi), side="left")
    return values[start:stop]


def labels_for_z_range(binary, z_start: int, z_end: int) -> np.ndarray:
    """Sorted unique labels present in slices ``z_start .. z_end - 1``.

    FLAT streams answer from the labels section alone. PINS streams (which
    crackle-codec does not support here) need the components of the range, so
    their crack codes are decoded, without building the voxel array.
    """
    return np.unique(component_values(binary, z_start, z_end))


def component_values(binary, z_start: Optional[int] = None, z_end: Optional[int] = None,
                     parallel: int = 0) -> np.ndarray:
    """The label of every 4-connected component of slices ``z_start .. z_end - 1``, slice by slice
    in component-id order (what a FLAT labels section stores as keys).

    FLAT streams answer from the labels section; PINS streams label the
    slices' components (their crack codes are decoded, not the voxels).
    """
    view = stream_view(binary)
    head = view.header
    z_start, z_end = _check_z_range(head, z_start, z_end)
    if head.voxels() == 0 or z_start == z_end:
        return np.zeros(0, dtype=head.dtype)
    section = view.labels
    if isinstance(section, FlatLabels):
        c_start, c_end = int(section.component_offsets[z_start]), int(section.component_offsets[z_end])
        return section.lookup(c_start, c_end, section.unique)
    lut, _, _ = _run_kernel(view, z_start, z_end, parallel, None, True)
    return lut.view(head.dtype)


def slice_checksums(binary, z_start: Optional[int] = None, z_end: Optional[int] = None,
                    parallel: int = 0) -> np.ndarray:
    """crc32c of the component ids of slices ``z_start .. z_end - 1`` (default: all): stored in
    format v1, computed (by labelling those slices' components) for format v0."""
    view = stream_view(binary)
    head = view.header
    z_start, z_end = _check_z_range(head, z_start, z_end)
    if head.voxels() == 0:
        return np.zeros(z_end - z_start, dtype=np.uint32)
    if head.format_version == 1:
        return np.array(view.slice_crcs(z_start, z_end), dtype=np.uint32)
    return _run_kernel(view, z_start, z_end, parallel, None, False, checksums=True)[2]


def _check_z_range(head: CrackleHeader, z_start, z_end) -> tuple:
    z_start = 0 if z_start is None else int(z_start)
    z_end = head.sz if z_end is None else int(z_end)
    if not (0 <= z_start <= z_end <= head.sz):
        raise ValueError(f"z range [{z_start}, {z_end}) is outside the volume's 0..{head.sz}")
    return z_start, z_end


def _lookup_table(view: StreamView, z_start: int, z_end: int, values: np.ndarray, background):
    """Output value of each component of the range, and the pins that cross it.

    ``values`` is parallel to the section's unique list and already in the
    kernel's unsigned output dtype; ``background`` likewise for PINS.
    Returns ``(lut, pin_ptr, pin_xy, pin_val)``.
    """
    section = view.labels
    c_start = int(section.component_offsets[z_start])
    c_end = int(section.component_offsets[z_end])
    if isinstance(section, FlatLabels):
        lut = section.lookup(c_start, c_end, values)
        no_pins = np.zeros(z_end - z_start + 1, dtype=np.int64)
        return lut, no_pins, no_pins[:0], np.zeros(0, dtype=values.dtype)

    pin_label, pin_index, pin_depth, cc_label, cc_id = view.pin_records_of(z_start, z_end)
    lut = np.full(c_end - c_start, background, dtype=values.dtype)
    inside = (cc_id >= c_start) & (cc_id < c_end)
    lut[cc_id[inside] - c_start] = values[cc_label[inside]]
    head = view.header
    sxy = head.sx * head.sy
    code, ptr, xy, which = pins_by_slice(pin_index, pin_depth, sxy, z_start, z_end, sxy * (z_end - z_start))
    if code != status.OK:
        raise FormatError("labels section: pins overlap (they cover more voxels than the volume has)")
    return lut, ptr, xy, values[pin_label[which]]


def _kernel_values(view: StreamView, label, out_dtype: np.dtype):
    """Per-unique-label output values (and the background's) in the kernel's unsigned dtype."""
    section = view.labels
    unsigned = unsigned_dtype(out_dtype.itemsize)
    background = getattr(section, "background", 0)
    if label is None:
        values = section.unique.view(unsigned)
        background = np.array([background], dtype=out_dtype).view(unsigned)[0]
        return values, background
    if _representable(label, section.unique.dtype):
        hits = section.unique == section.unique.dtype.type(label)
    else:
        hits = np.zeros(section.unique.size, dtype=bool)
    return hits.view(np.uint8), np.uint8(int(background) == int(label))


def _run_kernel(view: StreamView, z_start: int, z_end: int, parallel: int, label, verify: bool,
                target=None, out_z: int = 0, checksums: bool = False, stats=None, values=None):
    """Decode slices ``z_start .. z_end - 1``; returns ``(lut, out, crcs)``.

    ``target()`` is called once every check that needs no decoding has passed
    (so a hostile header cannot make us allocate before its sections were
    checked against the stream) and returns a contiguous (sx, sy, n) array;
    the slices are decoded into ``out[:, :, out_z : out_z + z_end - z_start]``.
    Without ``target`` only the lookup table (component -> value, after pins)
    is computed and ``out`` is None. ``crcs`` holds each slice's crc32c of
    its component ids when they were computed (``verify`` on a v1 stream, or
    ``checksums``), else zeros.
    """
    head = view.header
    layout = view.layout
    if verify:
        view.check_labels_crc()
    if values == "components":
        # Each voxel's global component id: the table is the ids themselves, and pins do not apply.
        section = view.labels
        c_start, c_end = int(section.component_offsets[z_start]), int(section.component_offsets[z_end])
        lut = np.arange(c_start, c_end, dtype=np.uint32 if c_end < 2**32 else np.uint64)
        pin_ptr = np.zeros(z_end - z_start + 1, dtype=np.int64)
        pin_xy, pin_val = pin_ptr[:0], lut[:0]
    else:
        if values is None:
            values = _kernel_values(view, label, np.dtype(bool) if label is not None else head.dtype)
        lut, pin_ptr, pin_xy, pin_val = _lookup_table(view, z_start, z_end, *values)
    out = None if target is None else target()
    if out is None:
        flat, base, strides = None, 0, (0, 0, 0)
    else:
        flat = out.reshape(-1, order="A").view(lut.dtype)
        strides = tuple(s // out.itemsize for s in out.strides)
        base = out_z * strides[2]

    lengths = np.diff(layout.code_offsets[z_start : z_end + 1])
    max_code_len = int(lengths.max()) if lengths.size else 0
    pixels = head.sx * head.sy
    if head.crack_format == CrackFormat.PERMISSIBLE:
        # Every pixel starts as its own component and each move links at most
        # one pair (a code byte holds at most 8 moves), so a slice's components
        # bound its pixels: checked here, before run buffers of that size exist.
        counts = np.diff(view.labels.component_offsets[z_start : z_end + 1])
        short = np.flatnonzero(counts < pixels - 8 * lengths)
        if short.size:
            z = z_start + int(short[0])
            raise FormatError(
                f"slice z={z} lists {int(counts[short[0]])} components, but its {int(lengths[short[0]])}-byte "
                f"crack code can link at most {8 * int(lengths[short[0]])} of its {pixels} pixels"
            )
        runs_capacity = pixels
    else:
        runs_capacity = builtins.min(pixels, head.sy + 8 * max_code_len)
    nz = z_end - z_start
    statuses = np.zeros(nz, dtype=np.int32)
    crcs = np.zeros(nz, dtype=np.uint32)
    compare = bool(verify and head.format_version == 1)
    codes, offsets = view.crack_codes(z_start, z_end)
    slices = SliceCodes(
        codes, offsets, head.sx, head.sy, head.crack_format == CrackFormat.PERMISSIBLE,
        head.markov_model_order, view.markov_table,
        view.labels.component_offsets[z_start : z_end + 1] - view.labels.component_offsets[z_start],
        pin_ptr, pin_xy, max_code_len, runs_capacity,
    )
    decode_slices(slices, lut, pin_val, flat, base, strides, compare or checksums,
                  builtins.min(thread_count(parallel), nz), statuses, crcs, stats)
    bad = np.flatnonzero(statuses)
    if bad.size:
        i = int(bad[0])
        raise FormatError(f"crack code of slice z={z_start + i}: {status.MESSAGES[int(statuses[i])]}")
    if compare:
        stored = view.slice_crcs(z_start, z_end)
        wrong = np.flatnonzero(stored != crcs)
        if wrong.size:
            i = int(wrong[0])
            raise ChecksumError(
                f"slice z={z_start + i}: crc32c of its components is {int(crcs[i]):#010x}, "
                f"stream says {int(stored[i]):#010x}"
            )
    return lut, out, crcs


def _empty_output(head: CrackleHeader, nz: int, label, order: Optional[str] = None) -> np.ndarray:
    dtype = bool if label is not None else head.dtype
    if order is None:
        order = "F" if head.fortran_order else "C"
    elif order not in ("C", "F"):
        raise ValueError(f'order must be "C", "F" or None (the stream\'s), got {order!r}')
    return np.empty((head.sx, head.sy, nz), dtype=dtype, order=order)


def decompress_range(
    binary,
    z_start: Optional[int],
    z_end: Optional[int],
    parallel: int = 0,
    label: Optional[int] = None,
    verify: bool = True,
    order: Optional[str] = None,
) -> np.ndarray:
    """Decode slices ``z_start .. z_end - 1`` (None: from the start / to the end).

    Parameters
    ----------
    binary : bytes-like or CrackleArray
    z_start, z_end : int or None
    parallel : int
        Threads to use; 0 means all cores.
    label : int, optional
        Return a boolean image of this label instead of the labels.
    verify : bool
        Check the labels crc32c and each decoded slice's crc32c (format v1).
    order : {None, "C", "F"}
        Memory order of the result; None (crackle-codec's behaviour) keeps the stream's.

    Returns
    -------
    numpy.ndarray
        Shape (sx, sy, z_end - z_start).

    Raises
    ------
    FormatError
        The stream is malformed; ChecksumError names the damaged section or slice.
    """
    view = stream_view(binary)
    head = view.header
    z_start, z_end = _check_z_range(head, z_start, z_end)
    if head.voxels() == 0 or z_start == z_end:
        return _empty_output(head, z_end - z_start, label, order)
    _, out, _ = _run_kernel(view, z_start, z_end, parallel, label, verify,
                         target=lambda: _empty_output(head, z_end - z_start, label, order))
    return out


def _label_slices(view: StreamView, label: int) -> tuple:
    """``(z_start, z_end, exact)``: slices that may hold ``label``, from the labels section.

    The range is exact except for the background of a PINS stream (which
    components it covers depends on the pins), where it is every slice.
    """
    head = view.header
    if head.voxels() == 0 or not contains(view, label):
        return 0, 0, True
    section = view.labels
    hits = section.unique == section.unique.dtype.type(label)
    spans = []
    if isinstance(section, FlatLabels):
        wanted = np.flatnonzero(hits)  # one index, unless a remapped list repeats the label
        keys = section.keys
        ids = np.flatnonzero(keys == wanted[0] if wanted.size == 1 else np.isin(keys, wanted))
    elif int(section.background) == int(label):
        return 0, head.sz, False
    else:
        pin_label, pin_index, pin_depth, cc_label, cc_id = view.pin_records
        ids = cc_id[hits[cc_label]]
        mine = hits[pin_label]
        if mine.any():
            first = pin_index[mine] // (head.sx * head.sy)
            last = np.minimum(first + pin_depth[mine], head.sz - 1)
            spans.append((int(first.min()), int(last.max()) + 1))
    if ids.size:
        offsets = section.component_offsets
        spans.append(
            (
                int(np.searchsorted(offsets, ids.min(), side="right")) - 1,
                int(np.searchsorted(offsets, ids.max(), side="right")),
            )
        )
    if not spans:
        return 0, 0, True
    return builtins.min(lo for lo, _ in spans), builtins.max(hi for _, hi in spans), True


def _occupied(components: np.ndarray, offsets: np.ndarray) -> tuple:
    """``(z_start, z_end)`` of the slices whose components (global ids, ascending) are listed."""
    if components.size == 0:
        return 0, 0
    return (
        int(np.searchsorted(offsets, components[0], side="right")) - 1,
        int(np.searchsorted(offsets, components[-1], side="right")),
    )


def label_z_range(binary, label: int) -> tuple:
    """``(z_start, z_end)``, the exact range of slices that hold ``label``; ``(0, 0)`` if it is absent.

    Reads only the labels section (and, for PINS streams, the pin records),
    except for the background label of a PINS stream, whose slices are found
    from the crack codes (without building the voxel array).
    """
    view = stream_view(binary)
    z_start, z_end, exact = _label_slices(view, label)
    if exact:
        return z_start, z_end
    hits_after_pins, _, _ = _run_kernel(view, 0, view.header.sz, 0, label, True)
    return _occupied(np.flatnonzero(hits_after_pins), view.labels.component_offsets)


def decompress(
    binary,
    label: Optional[int] = None,
    parallel: int = 0,
    crop: bool = False,
    verify: bool = True,
) -> np.ndarray:
    """Decode a Crackle stream into a numpy array.

    Parameters
    ----------
    binary : bytes-like or CrackleArray
    label : int, optional
        Return a boolean image that is True where the volume equals ``label``.
        Only the slices that hold the label are decoded.
    parallel : int
        Threads to use; 0 means all cores.
    crop : bool
        With ``label``: return only the z-range that holds the label (a
        (0, 0, 0) array if it is absent). The range is exact; crackle-codec's
        may include a slice more.
    verify : bool
        Check the labels crc32c and each slice's crc32c (format v1).

    Returns
    -------
    numpy.ndarray
        Shape (sx, sy, sz) (2-D inputs come back with sz = 1), the stream's
        dtype (bool with ``label``) and memory order.

    Raises
    ------
    FormatError
        The stream is malformed; ChecksumError names the damaged section or slice.

    Examples
    --------
    >>> import numpy as np, crackle
    >>> stream = open("volume.ckl", "rb").read()   # doctest: +SKIP
    >>> crackle.decompress(stream)[:, :, 0]       # doctest: +SKIP
    """
    if label is None:
        return decompress_range(binary, None, None, parallel, verify=verify)
    view = stream_view(binary)
    head = view.header
    order = "F" if head.fortran_order else "C"
    z_start, z_end, exact = _label_slices(view, label)
    if z_end == z_start:
        return np.zeros((0, 0, 0) if crop else head.shape, dtype=bool, order=order)
    if crop and exact:
        return decompress_range(view, z_start, z_end, parallel, label=label, verify=verify)
    lut, image, _ = _run_kernel(view, z_start, z_end, parallel, label, verify,
                             target=lambda: np.zeros(head.shape, dtype=bool, order=order), out_z=z_start)
    if crop:
        offsets = view.labels.component_offsets[z_start:] - view.labels.component_offsets[z_start]
        first, last = _occupied(np.flatnonzero(lut), offsets)
        return image[:, :, z_start + first : z_start + last].copy(order=order)
    return image


def check(binary) -> dict:
    """Test a stream for damage, section by section (as crackle-codec's ``check``).

    Returns
    -------
    dict
        ``header``, ``crack_index``, ``labels``: True (checksum matches), False
        (damaged) or None (not checked: format v0 has no such checksum, or an
        earlier section is damaged). ``z``: the list of damaged slices (None if
        not checked).
    """
    report = {"header": None, "crack_index": None, "labels": None, "z": None}
    try:
        view = stream_view(binary)
    except FormatError:
        report["header"] = False
        return report
    report["header"] = True
    head = view.header
    try:
        view.layout
    except FormatError:
        report["crack_index"] = False
        return report
    report["crack_index"] = True
    if head.format_version == 0:
        return report
    try:
        view.check_labels_crc()
        view.labels
        report["labels"] = True
    except FormatError:
        report["labels"] = False
        return report
    report["z"] = []
    try:
        _run_kernel(view, 0, head.sz, 0, None, True)  # all slices at once when intact
    except FormatError:
        for z in range(head.sz):
            try:
                _run_kernel(view, z, z + 1, 1, None, True)
            except FormatError:
                report["z"].append(z)
    return report


def components(binary) -> dict:
    """The stream's sections as uint8 arrays (as crackle-codec's): ``header``, ``z_index`` (the
    crack index), ``labels``, ``crack_codes`` (Markov model included) and ``crcs`` (labels and
    slice checksums; empty for format v0)."""
    view = stream_view(binary)
    head, layout = view.header, view.layout
    if head.voxels() == 0:
        empty = np.zeros(0, dtype=np.uint8)
        return {"header": view.read(0, view.size), "z_index": empty, "labels": empty, "crack_codes": empty,
                "crcs": empty}
    labels_end = layout.labels_offset + head.num_label_bytes
    return {
        "header": view.read(0, head.header_bytes),
        "z_index": view.read(head.header_bytes, layout.labels_offset),
        "labels": view.read(layout.labels_offset, labels_end),
        "crack_codes": view.read(labels_end, layout.codes_end),
        "crcs": view.read(layout.codes_end, view.size),
    }


def component_lengths(binary) -> dict:
    """Bytes in each of the sections :func:`components` returns."""
    return {name: len(part) for name, part in components(binary).items()}


def reencode(binary, markov_model_order: int, parallel: int = 0) -> bytes:
    """See :func:`crackle.reencode` (also reachable here, as in crackle-codec)."""
    from .recoding import reencode as recode  # recoding builds on this module

    return recode(binary, markov_model_order, parallel)
