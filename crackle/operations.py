"""Operations on compressed streams that change label values, dtype or memory order.

None of these decodes the crack codes (the voxel geometry stays as it is):
they rewrite the labels section, and the header, and copy the rest. The one
exception is a PINS stream whose new labels are signed (the format's pins are
unsigned): its components' labels are worked out slice by slice, which reads
the crack codes, and the result has FLAT labels.

Every function accepts a bytes-like stream or a CrackleArray and returns bytes
(format v1; a format-v0 input gets its slice checksums computed).
"""

import builtins
import operator

import numpy as np

from . import codec
from .format.assemble import assemble
from .format.header import CrackleHeader, LabelFormat
from .format.label_writer import (
    flat_section, flat_section_keyed, flat_section_unmerged, pins_section, pins_section_from_records,
)
from .format.labels import FlatLabels
from .format.stream import StreamView


def copy_header(head: CrackleHeader) -> CrackleHeader:
    """A modifiable copy of ``head``."""
    return CrackleHeader.frombytes(head.tobytes())


def rebuild(view: StreamView, head: CrackleHeader, labels_section: bytes) -> bytes:
    """``view``'s stream with a new header and labels section; crack codes, Markov model and slice
    checksums are copied."""
    if head.voxels() == 0:
        return assemble(head, b"", b"", [], np.zeros(0), np.zeros(0))
    layout = view.layout
    codes = view.read(int(layout.code_offsets[0]), int(layout.code_offsets[-1]))
    return assemble(head, labels_section, stored_model(view), [codes], np.diff(layout.code_offsets),
                    codec.slice_checksums(view))


def stored_model(view: StreamView) -> np.ndarray:
    """The stream's Markov model bytes (empty for order 0)."""
    layout = view.layout
    return view.read(layout.model_offset, layout.model_offset + view.header.num_markov_model_bytes)


def _fitting_dtype(low: int, high: int, at_least: np.dtype) -> np.dtype:
    """``at_least`` if it holds ``low .. high``, else the narrowest wider integer dtype that does
    (unsigned when ``low >= 0``)."""
    info = np.iinfo(at_least)
    if info.min <= low and high <= info.max:
        return at_least
    kind = "u" if low >= 0 else "i"
    for width in (1, 2, 4, 8):
        if width < at_least.itemsize:
            continue
        candidate = np.dtype(f"{kind}{width}")
        if np.iinfo(candidate).min <= low and high <= np.iinfo(candidate).max:
            return candidate
    raise ValueError(f"labels from {low} to {high} do not fit any 64-bit integer type")


def _record_widths(section) -> int:
    """The format byte of a PINS section's record field widths."""
    count_w, _, depth_w, cc_w = section.widths
    return (count_w.bit_length() - 1) | (depth_w.bit_length() - 1) << 2 | (cc_w.bit_length() - 1) << 4


def relabel(binary, new_values, dtype: np.dtype, parallel: int = 0, merge: bool = True) -> bytes:
    """The stream with every label ``v`` replaced by ``new_values(v)``, stored as ``dtype``.

    ``new_values`` maps an array of the stream's distinct labels (its dtype) to
    an array of their new labels (any integer dtype whose values ``dtype``
    holds). With ``merge``, labels that become equal merge into one entry of
    a sorted labels section; without, the section keeps its structure and
    only its values change (as crackle-codec's remap: time proportional to
    the number of labels; the header then flags an unsorted or repeating list).
    """
    view = codec.stream_view(binary)
    head = copy_header(view.header)
    dtype = np.dtype(dtype)
    head.data_width, head.signed, head.is_remapped = dtype.itemsize, dtype.kind == "i", False
    if head.voxels() == 0:
        return rebuild(view, head, b"")
    section = view.labels
    counts = np.diff(section.component_offsets)
    if isinstance(section, FlatLabels):
        section.check_keys()
        mapped = np.asarray(new_values(section.unique)).astype(dtype)
        if merge:
            return rebuild(view, head, flat_section_keyed(mapped, section.keys, counts, head))
        labels_section = flat_section_unmerged(mapped, section.keys, counts, head)
        head.is_sorted, head.is_remapped = _order_flags(mapped)
        return rebuild(view, head, labels_section)
    present = np.concatenate([np.array([section.background], dtype=view.header.dtype),
                              section.unique.astype(view.header.dtype)])
    values = np.asarray(new_values(present)).astype(dtype)
    if head.signed:
        component = np.asarray(new_values(codec.component_values(view, parallel=parallel))).astype(dtype)
        head.label_format = LabelFormat.FLAT
        return rebuild(view, head, flat_section(component, counts, head))
    background, mapped = values[0], values[1:]
    foreground = np.unique(mapped[mapped != background])
    if not merge or np.array_equal(foreground, mapped):  # the records stand as they are
        labels_section = pins_section_from_records(background, mapped, counts, _record_widths(section),
                                                   section.records, head)
        head.is_sorted, head.is_remapped = _order_flags(values[1:], background)
        return rebuild(view, head, labels_section)
    owner = np.where(mapped == background, -1, np.searchsorted(foreground, mapped))
    pin_label, pin_index, pin_depth, cc_label, cc_id = view.pin_records
    pin_owner, cc_owner = owner[pin_label], owner[cc_label]
    kept, listed = pin_owner >= 0, cc_owner >= 0
    return rebuild(view, head, pins_section(
        background, foreground, (pin_owner[kept], pin_index[kept], pin_depth[kept]),
        (cc_owner[listed], cc_id[listed]), counts, head,
    ))


def _order_flags(values: np.ndarray, background=None) -> tuple:
    """``(is_sorted, is_remapped)`` header flags for a stored label list: ascending, and whether a
    value may repeat (in the list or as the background)."""
    ascending = bool(np.all(values[1:] > values[:-1]))
    repeats = not ascending and np.unique(values).size < values.size
    if background is not None:
        repeats = repeats or bool(np.any(values == background))
    return ascending, repeats


def _mapping_arrays(mapping: dict, dtype: np.dtype) -> tuple:
    """``(keys, values)`` of ``mapping``, sorted by key: keys in ``dtype`` (keys it cannot hold are
    dropped: no label equals them), values as an integer array (object if no dtype holds them all)."""
    keys = np.array(list(mapping.keys()))
    values = np.array(list(mapping.values()))
    if keys.dtype.kind not in "ui" or values.dtype.kind not in "uiO":
        keys = np.array([int(k) for k in mapping.keys()], dtype=object)
        values = np.array([int(v) for v in mapping.values()], dtype=object)
    info = np.iinfo(dtype)
    inside = (keys >= info.min) & (keys <= info.max) if keys.size else np.zeros(0, dtype=bool)
    keys, values = keys[inside].astype(dtype), values[inside]
    order = np.argsort(keys, kind="stable")
    return keys[order], values[order]


def lookup(keys: np.ndarray, wanted: np.ndarray) -> tuple:
    """``(at, found)``: where each of ``wanted`` is in the sorted array ``keys`` (an index
    within ``keys`` even when absent) and whether it is there."""
    if not keys.size:
        return np.zeros(np.shape(wanted), dtype=np.intp), np.zeros(np.shape(wanted), dtype=bool)
    at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    return at, keys[at] == wanted


def remap(binary, mapping: dict, preserve_missing_labels: bool = False, in_place: bool = False,
          parallel: int = 0) -> bytes:
    """Replace labels through ``mapping`` (old label -> new label) without decoding the voxels.

    Parameters
    ----------
    binary : bytes-like or CrackleArray
    mapping : dict
    preserve_missing_labels : bool
        Keep labels that ``mapping`` does not list; otherwise they raise KeyError.
    in_place : bool
        Accepted for compatibility: the input is never modified (crackle-codec
        may write into it, even into ``bytes``); the new stream is returned.
    parallel : int
        Threads for labelling a PINS stream's components (signed results only).

    Returns
    -------
    bytes
        The dtype widens (unsigned if no label is negative) when new labels do
        not fit the old one. As crackle-codec's, the labels section keeps its
        structure (time proportional to the number of labels): labels mapped
        to one value stay separate entries, and the header flags the list as
        unsorted. Every function reads such streams; :func:`recompress`
        merges the components that became equal.
    """
    view = codec.stream_view(binary)
    head = view.header
    keys, values = _mapping_arrays(mapping, head.dtype)
    if head.voxels() == 0:
        return relabel(view, lambda v: v, head.dtype)
    unique, background = view.unique
    present = unique if background is None else np.append(unique, unique.dtype.type(background))

    at, found = lookup(keys, present)
    if not preserve_missing_labels and not found.all():
        raise KeyError(f"label {int(present[~found][0])} is not in the mapping (preserve_missing_labels=False)")
    extremes = [int(a.min()) for a in (values[at[found]], present[~found]) if a.size]
    extremes += [int(a.max()) for a in (values[at[found]], present[~found]) if a.size]
    dtype = _fitting_dtype(builtins.min(extremes, default=0), builtins.max(extremes, default=0), head.dtype)
    targets = values.astype(dtype) if values.dtype != object else np.array(values.tolist(), dtype=dtype)

    def new_values(labels: np.ndarray) -> np.ndarray:
        at, found = lookup(keys, labels)
        out = labels.astype(dtype)
        out[found] = targets[at[found]]
        return out

    return relabel(view, new_values, dtype, parallel, merge=False)


def mask(binary, labels: list, value: int = 0, in_place: bool = False, parallel: int = 0) -> bytes:
    """Replace each label in ``labels`` with ``value`` (see :func:`remap` for ``in_place``)."""
    return remap(binary, {label: value for label in labels}, preserve_missing_labels=True,
                 in_place=in_place, parallel=parallel)


def mask_except(binary, labels: list, value: int = 0, in_place: bool = False, parallel: int = 0) -> bytes:
    """Replace every label not in ``labels`` with ``value`` (see :func:`remap` for ``in_place``)."""
    keep = {int(label) for label in labels}
    mapping = {int(label): (int(label) if int(label) in keep else value) for label in codec.labels(binary)}
    return remap(binary, mapping, in_place=in_place, parallel=parallel)


_CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")


def astype(binary, dtype, order: str = "K", casting: str = "unsafe") -> bytes:
    """The stream as another integer ``dtype``, as ``numpy.ndarray.astype`` would convert its voxels.

    Parameters
    ----------
    dtype : integer dtype
        Signed dtypes are accepted (crackle-codec raises TypeError).
    order : {"K", "A", "C", "F"}
        Memory order of the decoded array; "K" and "A" keep the stream's.
    casting : {"no", "equiv", "safe", "same_kind", "unsafe"}
        As numpy's, applied to the labels present: "safe" accepts any dtype
        that holds every label; "unsafe" wraps values as numpy does.

    Raises
    ------
    TypeError
        The conversion is not allowed under ``casting``.
    """
    view = codec.stream_view(binary)
    head = view.header
    dtype = np.dtype(dtype)
    if dtype.kind not in "ui":
        raise TypeError(f"Crackle streams hold integers, not {dtype}")
    if casting not in _CASTINGS:
        raise ValueError(f"casting must be one of {_CASTINGS}, got {casting!r}")
    if order not in ("K", "A", "C", "F"):
        raise ValueError(f'order must be "K", "A", "C" or "F", got {order!r}')
    if casting in ("no", "equiv") and dtype != head.dtype:
        raise TypeError(f"cannot cast {head.dtype} to {dtype} under casting={casting!r}")
    if casting == "same_kind" and not np.can_cast(head.dtype, dtype, "same_kind"):
        raise TypeError(f"cannot cast {head.dtype} to {dtype} under casting='same_kind'")
    if casting == "safe" and head.voxels():
        low, high = codec.min(view), codec.max(view)
        info = np.iinfo(dtype)
        if not info.min <= low <= high <= info.max:
            raise TypeError(f"{dtype} cannot hold the labels {low} .. {high} (casting='safe')")
    result = relabel(view, lambda values: values.astype(dtype), dtype)
    if order in ("C", "F") and (order == "F") != head.fortran_order:
        result = _with_order(result, order == "F")
    return result


def refit(binary) -> bytes:
    """The stream as the narrowest integer dtype that holds its labels (unsigned unless one is
    negative)."""
    view = codec.stream_view(binary)
    head = view.header
    if head.voxels() == 0:
        return astype(view, np.uint8)
    low, high = codec.min(view), codec.max(view)
    return astype(view, _fitting_dtype(low, high, np.dtype("i1") if low < 0 else np.dtype("u1")))


def renumber(binary, start: int = 0, parallel: int = 0) -> tuple:
    """Number the labels ``start, start + 1, ...`` in ascending order, in the narrowest dtype.

    Returns
    -------
    (bytes, dict)
        The stream and the mapping old label -> new label.
    """
    labels = codec.labels(binary)
    mapping = {int(label): int(start) + i for i, label in enumerate(labels)}
    return refit(remap(binary, mapping, parallel=parallel)), mapping


def _scalar_op(binary, scalar: int, op) -> bytes:
    """Apply ``op(labels, scalar)`` with numpy's rules (the result keeps the stream's dtype; a
    scalar it cannot hold raises OverflowError; results wrap around)."""
    view = codec.stream_view(binary)
    dtype = view.header.dtype
    with np.errstate(over="ignore"):
        probe = op(np.zeros(1, dtype=dtype) + 1, scalar)
    if probe.dtype.kind not in "ui":
        raise TypeError(f"the result of this operation is {probe.dtype}, not an integer")

    def new_values(values: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return op(values, scalar)

    return relabel(view, new_values, probe.dtype)


def add_scalar(binary, scalar: int) -> bytes:
    """Every label plus ``scalar`` (wrapping around in the stream's dtype, as numpy does)."""
    return _scalar_op(binary, scalar, operator.add)


def subtract_scalar(binary, scalar: int) -> bytes:
    """Every label minus ``scalar`` (wrapping around in the stream's dtype, as numpy does)."""
    return _scalar_op(binary, scalar, operator.sub)


def multiply_scalar(binary, scalar: int) -> bytes:
    """Every label times ``scalar`` (wrapping around in the stream's dtype, as numpy does)."""
    return _scalar_op(binary, scalar, operator.mul)


def floordiv_scalar(binary, scalar: int) -> bytes:
    """Every label floor-divided by ``scalar``; ZeroDivisionError for 0."""
    if scalar == 0:
        raise ZeroDivisionError("cannot divide labels by zero")
    return _scalar_op(binary, scalar, operator.floordiv)


def _with_order(binary, fortran: bool) -> bytes:
    view = codec.stream_view(binary)
    head = copy_header(view.header)
    head.fortran_order = fortran
    if head.format_version == 0:
        return rebuild(view, head, bytes(view.labels_bytes))
    data = bytearray(view.read(0, view.size))
    data[: head.header_bytes] = head.tobytes()
    return bytes(data)


def asfortranarray(binary) -> bytes:
    """The stream marked to decode in Fortran order (only the header changes)."""
    return _with_order(binary, True)


def ascontiguousarray(binary) -> bytes:
    """The stream marked to decode in C order (only the header changes)."""
    return _with_order(binary, False)




def codes_alike(a: StreamView, b: StreamView) -> bool:
    """Whether two streams hold the same crack codes (so the same components in every slice)."""
    if (a.header.crack_format, a.header.markov_model_order) != (b.header.crack_format, b.header.markov_model_order):
        return False
    if not np.array_equal(a.layout.code_offsets - a.layout.code_offsets[0],
                          b.layout.code_offsets - b.layout.code_offsets[0]):
        return False
    if not np.array_equal(stored_model(a), stored_model(b)):
        return False
    codes_a, offsets_a = a.crack_codes(0, a.header.sz)
    codes_b, offsets_b = b.crack_codes(0, b.header.sz)
    return np.array_equal(codes_a[int(offsets_a[0]) : int(offsets_a[-1])], codes_b[int(offsets_b[0]) : int(offsets_b[-1])])


def array_equal(binary1, binary2, parallel: int = 0) -> bool:
    """Whether two streams decode to the same shape and values, whatever their encoding.

    Streams with the same crack codes are compared by their components' labels
    alone; others are decoded a block of slices at a time.
    """
    a, b = codec.stream_view(binary1), codec.stream_view(binary2)
    if a.header.shape != b.header.shape:
        return False
    if a.header.voxels() == 0:
        return True
    if codes_alike(a, b):
        return bool(np.array_equal(codec.component_values(a, parallel=parallel),
                                   codec.component_values(b, parallel=parallel)))
    head = a.header
    step = max(1, (64 << 20) // (head.sx * head.sy * 8))
    for z in range(0, head.sz, step):
        end = builtins.min(z + step, head.sz)
        if not np.array_equal(codec.decompress_range(a, z, end, parallel),
                              codec.decompress_range(b, z, end, parallel)):
            return False
    return True
