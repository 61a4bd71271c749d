"""Pin records of the condensed-pins labels section.

Each record (one per label, in order) holds: P pins as difference-coded
linear indices ``x + sx * (y + sy * z)`` and their depths, then M
difference-coded global component ids.
"""

import numpy as np

from . import status
from .integers import load_uint, put_uint, read_uint
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


@kernel(inline=True)
def _misses(index, depth, sxy, z_start, z_end):
    """Whether the pin with top voxel ``index`` and ``depth`` misses slices ``z_start .. z_end - 1``
    (decided without a division)."""
    depth = min(max(depth, 0), z_end)
    return index >= z_end * sxy or index + depth * sxy < z_start * sxy


@kernel(internal=True)
def _slice_span(index, depth, sxy, z_start, z_end):
    """Slices ``z0 .. z1 - 1`` of the range that a pin crosses (``z0 >= z1``: none)."""
    depth = min(max(depth, 0), z_end)  # (as _misses takes it: no overflow below)
    if _misses(index, depth, sxy, z_start, z_end):
        return z_end, z_start
    first = index // sxy
    return max(first, z_start), min(first + depth + 1, z_end)


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


@kernel
def read_pin_records(rec, nlabels, count_width, index_width, depth_width, cc_width, voxels, total_components,
                     sxy, z_start, z_end, c_start, c_end):
    """Parse the pin records, keeping the pins that cross slices ``z_start .. z_end - 1`` and the
    component ids in ``c_start .. c_end - 1``; every record is checked either way.

    Returns ``(status, pin_label, pin_index, pin_depth, cc_label, cc_id)``;
    labels are indices into the section's unique list. A pass over the counts
    checks the records' lengths and sizes the arrays.
    """
    code, npins, nccs = _count_records(rec, nlabels, count_width, index_width, depth_width, cc_width)
    # Room for every item: pages that no kept item touches are never faulted in.
    pin_label = np.empty(npins, dtype=np.int64)
    pin_index = np.empty(npins, dtype=np.int64)
    pin_depth = np.empty(npins, dtype=np.int64)
    cc_label = np.empty(nccs, dtype=np.int64)
    cc_id = np.empty(nccs, dtype=np.int64)
    kept_pins = np.int64(0)  # (not literal zeros: callees compile once)
    kept_ccs = np.int64(0)
    pos = np.int64(0)
    for label in range(nlabels if code == status.OK else 0):
        n = np.int64(read_uint(rec, pos, count_width))
        pos += count_width
        depths = pos + n * index_width
        index = np.uint64(0)
        for j in range(n):
            index += load_uint(rec, pos + j * index_width, index_width)
            if index >= np.uint64(voxels):
                code = status.PIN_OUT_OF_RANGE
                break
            depth = np.int64(load_uint(rec, depths + j * depth_width, depth_width))
            if not _misses(np.int64(index), depth, sxy, z_start, z_end):
                pin_label[kept_pins] = label
                pin_index[kept_pins] = np.int64(index)
                pin_depth[kept_pins] = depth
                kept_pins += 1
        pos = depths + n * depth_width
        if code != status.OK:
            break

        n = np.int64(read_uint(rec, pos, count_width))
        pos += count_width
        cc = np.uint64(0)
        for j in range(n):
            cc += load_uint(rec, pos + j * cc_width, cc_width)
            if cc >= np.uint64(total_components):
                code = status.CC_OUT_OF_RANGE
                break
            if cc >= np.uint64(c_start) and cc < np.uint64(c_end):
                cc_label[kept_ccs] = label
                cc_id[kept_ccs] = np.int64(cc)
                kept_ccs += 1
        pos += n * cc_width
        if code != status.OK:
            break
    if code != status.OK:
        kept_pins = kept_ccs = 0
    return (code, pin_label[:kept_pins], pin_index[:kept_pins], pin_depth[:kept_pins],
            cc_label[:kept_ccs], cc_id[:kept_ccs])


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
        z0, z1 = _slice_span(pin_index[p], pin_depth[p], sxy, z_start, z_end)
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
        z0, z1 = _slice_span(pin_index[p], pin_depth[p], sxy, z_start, z_end)
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
