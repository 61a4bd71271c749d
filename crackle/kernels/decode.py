"""Slice decoding: crack codes -> components (runs) -> label lookup -> output and crc32c.

Decoding is split in two kernels so that only the small second one depends on
the output dtype (each dtype compiles it, not the decoder), and a third for
statistics that only statistics compile. Callers (:mod:`crackle.decoder`) run
them in turns over a few slices at a time, whose runs stay in cache:

1. :func:`decode_runs` parses each slice's chain-start index and moves, walks
   the chains into connectivity bitsets (:mod:`.crack_code`), labels the
   components on runs (:mod:`.ccl`), checks their number against the labels
   section, and finds the component that each pin crossing the slice sets;
2. :func:`write_runs` applies those pins to the lookup table and writes
   ``lut[first_component + component]`` over every run and, if asked,
   computes the slice's crc32c over the component ids as little-endian u32
   from the runs (:mod:`.checksum`; :func:`checksum_runs` computes only the
   crc32c, for callers that write nothing);
3. :func:`accumulate_runs` adds runs to per-component statistics.
"""

import numpy as np

from . import status
from .ccl import label_runs, run_at
from .checksum import next_row, row_weights, run_term, slice_crc
from .crack_code import read_chain_starts, read_moves_plain, walk_chains
from .jit import kernel


@kernel(inline=True)
def _fill(out, start, stop, value, limit):
    """``out[start:stop] = value`` (a non-empty run). When ``stop <= limit`` it stores 16 values at a
    time, so up to 15 past ``stop`` too: the caller allows that only where later runs write again.

    Runs are short (about 20 voxels in connectomics data), and a fixed-width store avoids the
    mispredicted loop exit that a fill of exactly the run's length costs: twice as fast.
    """
    if stop <= limit:
        at = np.uint64(start)
        while True:
            for k in range(16):
                out[at + np.uint64(k)] = value
            at += np.uint64(16)
            if at >= np.uint64(stop):
                break
    else:
        out[start:stop] = value


@kernel(inline=True)
def _write_slice(run_start, run_end, row_first, labels, sx, sy, lut, lut_base, out, base, checksum, weights, shift):
    """Write one slice's values through ``lut`` as Fortran-order rows at ``out[base:]`` and return
    the crc32c of its component ids (if ``checksum``; ``weights, shift = row_weights(sx)``)."""
    register = np.uint64(0xFFFFFFFF)
    # A run's spill lands on the next run or row of the slice, written after it.
    limit = base + sx * sy - 15
    for y in range(sy):
        row = base + y * sx
        row_sum = np.uint64(0)
        for r in range(row_first[y], row_first[y + 1]):
            x0 = run_start[r]
            x1 = run_end[r]
            component = labels[r]
            _fill(out, row + x0, row + x1, lut[lut_base + component], limit)
            if checksum:
                row_sum ^= run_term(component, x0, x1, weights)
        if checksum:
            register = next_row(register, shift, row_sum)
    return np.uint32(register) ^ np.uint32(0xFFFFFFFF)


@kernel(inline=True)
def _decode_slice(
    buf, start, end, sx, sy, permissible, moved, move_ends, m,
    conn, nwords, moves, starts, stack,
    run_start, run_end, row_first, parent, labels,
):
    """Decode one slice's crack code into runs and component labels; its moves are
    ``moved[move_ends[m] : move_ends[m + 1]]`` when ``moved`` is not empty (Markov-coded), else read here.

    Returns ``(status, component_count)``; the count is -1 when the slice has
    more runs than ``run_start`` holds.
    """
    nstarts, payload, code = read_chain_starts(buf, start, end, sx, sy, starts)
    if code != status.OK:
        return code, 0
    if moved.size:
        moves = moved[move_ends[m] : move_ends[m + 1]]
        nmoves = move_ends[m + 1] - move_ends[m]
    else:
        nmoves = read_moves_plain(buf, payload, end, moves)
    conn[:] = np.uint64(0) if permissible else np.uint64(0xFFFFFFFFFFFFFFFF)
    code = walk_chains(moves, nmoves, starts, nstarts, sx, sy, permissible, conn, nwords, stack)
    if code != status.OK:
        return code, 0
    return status.OK, label_runs(conn, nwords, sx, sy, run_start, run_end, row_first, parent, labels)


@kernel
def decode_runs(
    buf, code_offsets, sx, sy, permissible, moved, move_ends, moved_first, lut_offsets, pin_ptr, pin_xy,
    first, last, runs_capacity, conn, moves, starts, stack, parent,
    run_start, run_end, labels, rows, bases, pin_target, statuses,
):
    """Decode slices ``first ..`` of a z-range into runs, up to ``last - 1`` or until the run buffers
    are full; returns the slice after the last one decoded (at least ``first + 1``).

    Parameters
    ----------
    buf : uint8 array
        Holds every crack code; slice i spans ``code_offsets[i] : code_offsets[i + 1]``
        (checked by the caller to lie inside ``buf``).
    moved, move_ends, moved_first : arrays and int
        For Markov-coded moves, decoded beforehand (:func:`.markov.markov_moves`): slice i's are
        ``moved[move_ends[i - moved_first] : move_ends[i - moved_first + 1]]``. Empty ``moved``:
        plain moves, read here.
    lut_offsets : int64 array
        ``lut_offsets[i]`` is the lut index of slice i's component 0; slice i
        must have exactly ``lut_offsets[i + 1] - lut_offsets[i]`` components.
    pin_ptr, pin_xy : int64 arrays
        Pins crossing slice i are entries ``pin_ptr[i] : pin_ptr[i + 1]``, at
        pixel index ``pin_xy`` (x + sx * y).
    runs_capacity : int
        Most runs any slice of the range may hold (``parent`` holds that many;
        the run buffers at least that many).
    conn, moves, starts, stack, parent : arrays
        Scratch, sized by the caller (:func:`crackle.decoder._scratch`).
    run_start, run_end, labels, rows, bases : int64 arrays
        Out: slice ``first + k``'s runs are entries ``bases[k] + rows[k, y] ..
        bases[k] + rows[k, y + 1]`` of ``run_start``, ``run_end`` (x extent) and
        ``labels`` (component id in the slice) for each row y; ``rows`` has a
        row per slice a call may decode.
    pin_target : int64 array
        Out: the lut index each pin of a decoded slice sets.
    statuses : int32 array
        Out: each decoded slice's status code.
    """
    nwords = sx // 64 + 1
    used = 0
    for i in range(first, min(last, first + rows.shape[0])):
        k = i - first
        room = min(run_start.size - used, runs_capacity)
        if k > 0 and room < runs_capacity and 2 * rows[k - 1, sy] > room:
            return i  # the next call decodes it with empty buffers
        bases[k] = used
        row_first = rows[k]
        code, count = _decode_slice(
            buf, code_offsets[i], code_offsets[i + 1], sx, sy, permissible, moved, move_ends, i - moved_first,
            conn, nwords, moves, starts, stack,
            run_start[used : used + room], run_end[used : used + room], row_first, parent, labels[used : used + room],
        )
        if count < 0:
            if room < runs_capacity:
                return i
            code = status.MOVE_OUT_OF_RANGE
        elif code == status.OK and count != lut_offsets[i + 1] - lut_offsets[i]:
            code = status.COMPONENT_COUNT
        statuses[i] = code
        if code != status.OK:
            row_first[sy] = 0
            continue
        for e in range(pin_ptr[i], pin_ptr[i + 1]):
            xy = pin_xy[e]
            r = run_at(run_start[used:], row_first, xy % sx, xy // sx)
            pin_target[e] = lut_offsets[i] + labels[used + r]
        used += row_first[sy]
    return min(last, first + rows.shape[0])


@kernel
def write_runs(
    run_start, run_end, labels, rows, bases, sx, sy, first, start, stop, statuses,
    lut, lut_offsets, pin_ptr, pin_target, pin_val, out, base, s2, checksum, crcs,
):
    """Write slices ``start .. stop - 1`` of those that :func:`decode_runs` decoded from slice
    ``first`` on, and compute their crc32c.

    Each slice first applies its pins to ``lut`` (``lut[pin_target[e]] = pin_val[e]``); voxel (x, y)
    of slice i then gets ``lut[lut_offsets[i] + component]``, in Fortran order at
    ``out[base + i * s2 + x + sx * y]``; ``checksum`` says whether to compute ``crcs[i]``. Slices
    whose status is not OK are skipped. (A z-fastest output is written through a Fortran-order
    scratch and :func:`.transpose.transpose_out`, which only such outputs compile.)
    """
    weights, shift = row_weights(sx)
    for i in range(start, stop):
        k = i - first
        if statuses[i] != status.OK:
            continue
        for e in range(pin_ptr[i], pin_ptr[i + 1]):
            lut[pin_target[e]] = pin_val[e]
        at = bases[k]
        crcs[i] = _write_slice(
            run_start[at:], run_end[at:], rows[k], labels[at:], sx, sy, lut, lut_offsets[i], out, base + i * s2, checksum,
            weights, shift,
        )


@kernel
def checksum_runs(run_start, run_end, labels, rows, bases, sx, sy, first, stop, statuses, crcs):
    """``crcs[i]``: the crc32c of the component ids of slice i, for slices ``first .. stop - 1``
    decoded by :func:`decode_runs` (the checksums of :func:`write_runs`, writing nothing)."""
    weights, shift = row_weights(sx)
    for i in range(first, stop):
        if statuses[i] == status.OK:
            k = i - first
            at = bases[k]
            crcs[i] = slice_crc(run_start[at:], run_end[at:], labels[at:], rows[k], sy, weights, shift)


@kernel
def accumulate_runs(run_start, run_end, labels, rows, bases, sy, first, stop, statuses, lut_offsets, stats):
    """Add the runs of slices ``first .. stop - 1`` (see :func:`decode_runs`) to their components' rows
    of ``stats`` (int64, a row per lut index): pixel count, sum of x, sum of y, min x, max x, min y, max y."""
    for i in range(first, stop):
        if statuses[i] != status.OK:
            continue
        k = i - first
        at = bases[k]
        for y in range(sy):
            for r in range(at + rows[k, y], at + rows[k, y + 1]):
                x0 = run_start[r]
                x1 = run_end[r]
                n = x1 - x0
                row = lut_offsets[i] + labels[r]
                stats[row, 0] += n
                stats[row, 1] += (x0 + x1 - 1) * n // 2
                stats[row, 2] += y * n
                stats[row, 3] = min(stats[row, 3], x0)
                stats[row, 4] = max(stats[row, 4], x1 - 1)
                stats[row, 5] = min(stats[row, 5], y)
                stats[row, 6] = max(stats[row, 6], y)
