"""Writing labels sections (FLAT and condensed PINS) from per-component values or pin records.

Used by the encoder and by the operations that edit label values without
touching the crack codes.
"""

import numpy as np

from ..kernels.pins import write_pin_records
from .header import CrackleHeader, byte_width, unsigned_dtype

_CHUNK = 1 << 20  # components converted at once, so no temporary as large as the component list exists


def stored_width(values: np.ndarray, signed: bool) -> int:
    """Bytes per stored label: as crackle-codec (from the maximum), widened where negative values
    would not survive (crackle-codec truncates them)."""
    if values.size == 0:
        return 1
    top = int(values.max())
    if not signed:
        return byte_width(top)
    if top < 0:
        return 8  # crackle-codec measures the maximum as unsigned: any negative maximum needs 8 bytes
    width = byte_width(top)
    low = int(values.min())
    while width < 8 and not (-(2 ** (8 * width - 1)) <= low and top < 2 ** (8 * width - 1)):
        width *= 2
    return width


def _counts_bytes(counts: np.ndarray, head: CrackleHeader) -> bytes:
    return counts.astype(unsigned_dtype(head.component_width()).newbyteorder("<")).tobytes()


def _stored_patterns(values: np.ndarray, head: CrackleHeader) -> np.ndarray:
    """Values as stored: unsigned, two's complement truncated to the stored width."""
    stored = unsigned_dtype(head.stored_data_width)
    return (values.astype(np.int64) if head.signed else values).astype(stored, copy=False)


def _flat_bytes(unique: np.ndarray, keys: np.ndarray, counts: np.ndarray, head: CrackleHeader) -> bytes:
    stored = unsigned_dtype(head.stored_data_width).newbyteorder("<")
    return b"".join(
        [
            np.uint64(unique.size).tobytes(),
            memoryview(unique.astype(stored)).cast("B"),
            _counts_bytes(counts, head),
            memoryview(np.ascontiguousarray(keys)).cast("B"),
        ]
    )


def _key_dtype(nunique: int) -> np.dtype:
    return unsigned_dtype(byte_width(nunique)).newbyteorder("<")


def flat_section(values: np.ndarray, counts: np.ndarray, head: CrackleHeader) -> bytes:
    """FLAT labels section from every component's value (slice by slice) and the components per
    slice: unique values (ascending as stored), components per slice, keys.

    Works through the components a chunk at a time, so that no temporary as
    large as the component list (in 8-byte integers) exists. Sets
    ``head.stored_data_width`` (and ``is_sorted``).
    """
    head.stored_data_width = stored_width(values, head.signed)
    head.is_sorted = True
    starts = range(0, values.size, _CHUNK)
    parts = [np.unique(_stored_patterns(values[start : start + _CHUNK], head)) for start in starts]
    unique = np.unique(np.concatenate(parts)) if parts else np.zeros(0, unsigned_dtype(head.stored_data_width))
    keys = np.empty(values.size, dtype=_key_dtype(unique.size))
    for start in starts:
        keys[start : start + _CHUNK] = np.searchsorted(unique, _stored_patterns(values[start : start + _CHUNK], head))
    return _flat_bytes(unique, keys, counts, head)


def flat_section_keyed(values: np.ndarray, keys: np.ndarray, counts: np.ndarray, head: CrackleHeader) -> bytes:
    """FLAT labels section where component ``c`` has value ``values[keys[c]]``.

    Work is proportional to ``values`` when they stay distinct and in stored
    order (the keys are reused as they are), else one pass over ``keys``. Sets
    ``head.stored_data_width`` (and ``is_sorted``).
    """
    head.stored_data_width = stored_width(values, head.signed)
    head.is_sorted = True
    unique, inverse = np.unique(_stored_patterns(values, head), return_inverse=True)
    if unique.size == values.size and np.array_equal(inverse, np.arange(values.size)) \
            and keys.dtype.itemsize == byte_width(unique.size):
        return _flat_bytes(unique, keys, counts, head)
    return _flat_bytes(unique, inverse.astype(_key_dtype(unique.size))[keys], counts, head)


def flat_section_unmerged(values: np.ndarray, keys: np.ndarray, counts: np.ndarray, head: CrackleHeader) -> bytes:
    """FLAT labels section where component ``c`` has value ``values[keys[c]]``, with ``values``
    stored as they are (unsorted or repeating values allowed; the caller sets the header's flags).
    Sets ``head.stored_data_width``."""
    head.stored_data_width = stored_width(values, head.signed)
    return _flat_bytes(_stored_patterns(values, head), keys, counts, head)


def pins_section(background, foreground: np.ndarray, pins: tuple, ccs: tuple, counts: np.ndarray,
                 head: CrackleHeader) -> bytes:
    """Condensed PINS labels section of an unsigned volume.

    Parameters
    ----------
    background : int
        Value of every component no record claims.
    foreground : array
        The other labels, sorted ascending, unique.
    pins : tuple of int64 arrays
        ``(owner, index, depth)``: index into ``foreground``, linear Fortran
        index of the top voxel and depth of every pin (any order).
    ccs : tuple of int64 arrays
        ``(owner, global component id)`` of every listed component (any order;
        repeated pairs are written once).
    counts : array
        Components per slice.

    Sets ``head.stored_data_width`` (and ``is_sorted``).
    """
    pin_owner, pin_index, depth = pins
    order = np.lexsort((pin_index, pin_owner))
    pin_owner, pin_index, depth = pin_owner[order], pin_index[order], depth[order]
    cc_owner, cc_ids = np.asarray(ccs[0], dtype=np.int64), np.asarray(ccs[1], dtype=np.int64)
    order = np.lexsort((cc_ids, cc_owner))
    cc_owner, cc_ids = cc_owner[order], cc_ids[order]
    fresh = np.ones(cc_ids.size, dtype=bool)
    fresh[1:] = (cc_owner[1:] != cc_owner[:-1]) | (cc_ids[1:] != cc_ids[:-1])
    cc_owner, cc_ids = cc_owner[fresh], cc_ids[fresh]
    pin_ptr = np.searchsorted(pin_owner, np.arange(foreground.size + 1))
    cc_ptr = np.searchsorted(cc_owner, np.arange(foreground.size + 1))
    count_width = byte_width(int(max(np.diff(pin_ptr).max(initial=0), np.diff(cc_ptr).max(initial=0))))
    index_width = head.pin_index_width()
    depth_width = byte_width(int(depth.max(initial=0)))
    cc_width = byte_width(int(counts.sum()))
    records = np.empty(
        2 * count_width * foreground.size + pin_index.size * (index_width + depth_width) + cc_ids.size * cc_width,
        dtype=np.uint8,
    )
    written = write_pin_records(pin_ptr, pin_index, depth, cc_ptr, cc_ids,
                                count_width, index_width, depth_width, cc_width, records)
    assert written == records.size
    widths = (count_width.bit_length() - 1) | (depth_width.bit_length() - 1) << 2 | (cc_width.bit_length() - 1) << 4
    return pins_section_from_records(background, foreground, counts, widths, records, head)


def pins_section_from_records(background, foreground: np.ndarray, counts: np.ndarray, widths: int, records,
                              head: CrackleHeader) -> bytes:
    """Condensed PINS labels section around records already written (``widths``: the format byte).

    Sets ``head.stored_data_width`` (and ``is_sorted``).
    """
    head.stored_data_width = byte_width(max(int(background), int(foreground.max(initial=0))))
    head.is_sorted = True
    stored = unsigned_dtype(head.stored_data_width).newbyteorder("<")
    return b"".join(
        [
            np.array([background], dtype=stored).tobytes(),
            np.uint64(foreground.size).tobytes(),
            foreground.astype(stored).tobytes(),
            _counts_bytes(counts, head),
            bytes([widths]),
            memoryview(records).cast("B"),
        ]
    )
