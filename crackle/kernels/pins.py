"""Pin records of the condensed-pins labels section.

Each record (one per label, in order) holds: P pins as difference-coded
linear indices ``x + sx * (y + sy * z)`` and their depths, then M
difference-coded global component ids.
"""

import numpy as np

from . import status
from .integers import put_uint, read_uint
from .jit import kernel


@kernel(internal=True)
def _read_count(rec, pos, count_width, item_width):
    """A record's item count and the position after it; -1 if that many items would overrun ``rec``."""
    if pos + count_width > rec.size:
        return -1, pos
    count = read_uint(rec, pos, count_width)
    pos += count_width
    if count > np.uint64((rec.size - pos) // item_width):
        return -1, pos
    return np.int64(count), pos


@kernel(internal=True)
def _read_ascending(rec, pos, n, width, limit, out, at):
    """Undo the difference coding of ``n`` values into ``out[at:]``; False if one reaches ``limit``."""
    value = np.uint64(0)
    for j in range(n):
        value += read_uint(rec, pos + j * width, width)
        if value >= np.uint64(limit):
            return False
        out[at + j] = np.int64(value)
    return True


@kernel(inline=True)
def _count_records(rec, nlabels, count_width, index_width, depth_width, cc_width):
    """Walk the records by their counts alone; returns ``(status, pins, components)``."""
    pos = np.int64(0)  # (not literal zeros: callees compile once)
    npins = np.int64(0)
    nccs = np.int64(0)
    for _ in range(nlabels):
        n, pos = _read_count(rec, pos, count_width, index_width + depth_width)
        if n < 0:
            return status.RECORDS_TRUNCATED, 0, 0
        pos += n * (index_width + depth_width)
        npins += n
        n, pos = _read_count(rec, pos, count_width, cc_width)
        if n < 0:
            return status.RECORDS_TRUNCATED, 0, 0
        pos += n * cc_width
        nccs += n
    if pos != rec.size:
        return status.RECORDS_TRAILING, 0, 0
    return status.OK, npins, nccs


@kernel(inline=True)
def _fill_records(rec, nlabels, count_width, index_width, depth_width, cc_width, voxels,
                  total_components, pin_label, pin_index, pin_depth, cc_label, cc_id):
    """Store every record (their counts already checked by :func:`_count_records`); returns the status."""
    pos = np.int64(0)  # (not literal zeros: callees compile once)
    npins = np.int64(0)
    nccs = np.int64(0)
    for label in range(nlabels):
        n = np.int64(read_uint(rec, pos, count_width))
        pos += count_width
        if not _read_ascending(rec, pos, n, index_width, voxels, pin_index, npins):
            return status.PIN_OUT_OF_RANGE
        depths = pos + n * index_width
        for j in range(n):
            pin_label[npins + j] = label
            pin_depth[npins + j] = np.int64(read_uint(rec, depths + j * depth_width, depth_width))
        pos += n * (index_width + depth_width)
        npins += n

        n = np.int64(read_uint(rec, pos, count_width))
        pos += count_width
        if not _read_ascending(rec, pos, n, cc_width, total_components, cc_id, nccs):
            return status.CC_OUT_OF_RANGE
        cc_label[nccs : nccs + n] = label
        pos += n * cc_width
        nccs += n
    return status.OK


@kernel
def read_pin_records(rec, nlabels, count_width, index_width, depth_width, cc_width, voxels, total_components):
    """Parse every pin record: a pass over the counts sizes the arrays, a second fills them.

    Returns ``(status, pin_label, pin_index, pin_depth, cc_label, cc_id)``;
    labels are indices into the section's unique list.
    """
    code, npins, nccs = _count_records(rec, nlabels, count_width, index_width, depth_width, cc_width)
    pin_label = np.empty(npins, dtype=np.int64)
    pin_index = np.empty(npins, dtype=np.int64)
    pin_depth = np.empty(npins, dtype=np.int64)
    cc_label = np.empty(nccs, dtype=np.int64)
    cc_id = np.empty(nccs, dtype=np.int64)
    if code == status.OK:
        code = _fill_records(rec, nlabels, count_width, index_width, depth_width, cc_width, voxels,
                             total_components, pin_label, pin_index, pin_depth, cc_label, cc_id)
    return code, pin_label, pin_index, pin_depth, cc_label, cc_id


@kernel(internal=True)
def _slice_span(pin_index, pin_depth, p, sxy, z_start, z_end):
    """Slices ``z0 .. z1 - 1`` of the range that pin ``p`` crosses (``z0 >= z1``: none)."""
    index = pin_index[p]
    depth = min(max(pin_depth[p], 0), z_end)
    if index >= z_end * sxy or index + depth * sxy < z_start * sxy:
        return z_end, z_start  # (outside the range: decided without a division)
    first = index // sxy
    return max(first, z_start), min(first + depth + 1, z_end)


@kernel
def pins_by_slice(pin_index, pin_depth, sxy, z_start, z_end, limit):
    """Group the pins crossing slices ``z_start .. z_end - 1`` by slice.

    Returns ``(status, ptr, xy, pin)``: the (pin, slice) pairs of slice i are
    ``ptr[i] : ptr[i + 1]``, with the pixel index ``x + sx * y`` and the pin's
    position in the input; within a slice, pins keep their input order. Pins
    of a valid stream never share a voxel, so more than ``limit`` pairs (the
    voxels of the range) is an error and nothing more is allocated.
    """
    nz = z_end - z_start
    starts_here = np.zeros(nz + 1, dtype=np.int64)
    for p in range(pin_index.size):
        z0, z1 = _slice_span(pin_index, pin_depth, p, sxy, z_start, z_end)
        if z0 < z1:
            starts_here[z0 - z_start] += 1
            starts_here[z1 - z_start] -= 1
    ptr = np.zeros(nz + 1, dtype=np.int64)
    crossing = 0
    for i in range(nz):
        crossing += starts_here[i]
        ptr[i + 1] = ptr[i] + crossing
    if ptr[nz] > limit:
        empty = np.empty(0, dtype=np.int64)
        return status.PIN_OUT_OF_RANGE, ptr, empty, empty
    xy = np.empty(ptr[nz], dtype=np.int64)
    pin = np.empty(ptr[nz], dtype=np.int64)
    fill = ptr[:-1].copy()
    for p in range(pin_index.size):
        z0, z1 = _slice_span(pin_index, pin_depth, p, sxy, z_start, z_end)
        for z in range(z0, z1):
            e = fill[z - z_start]
            xy[e] = pin_index[p] % sxy
            pin[e] = p
            fill[z - z_start] += 1
    return status.OK, ptr, xy, pin


@kernel
def write_pin_records(pin_ptr, pin_index, pin_depth, cc_ptr, cc_id, count_width, index_width, depth_width,
                      cc_width, out):
    """Write one record per label: label i owns pins ``pin_ptr[i] : pin_ptr[i + 1]`` (ascending
    index) and component ids ``cc_ptr[i] : cc_ptr[i + 1]`` (ascending). Returns the bytes written."""
    pos = 0
    for label in range(pin_ptr.size - 1):
        first, last = pin_ptr[label], pin_ptr[label + 1]
        pos = put_uint(out, pos, last - first, count_width)
        previous = 0
        for p in range(first, last):
            pos = put_uint(out, pos, pin_index[p] - previous, index_width)
            previous = pin_index[p]
        for p in range(first, last):
            pos = put_uint(out, pos, pin_depth[p], depth_width)
        first, last = cc_ptr[label], cc_ptr[label + 1]
        pos = put_uint(out, pos, last - first, count_width)
        previous = 0
        for c in range(first, last):
            pos = put_uint(out, pos, cc_id[c] - previous, cc_width)
            previous = cc_id[c]
    return pos
