"""Slice decoding driver: crack codes -> components -> label lookup -> output and crc32c.

One call decodes a run of consecutive z slices on the calling thread; callers
run contiguous blocks of slices on several threads (:mod:`crackle.threads`),
so threads never share cache lines of the output. For each slice it:

1. parses the chain-start index and the moves, and walks the chains into
   connectivity bitsets (:mod:`.crack_code`);
2. labels the components on runs (:mod:`.ccl`) and checks their number
   against the labels section;
3. applies the pins that cross the slice to the lookup table;
4. writes ``lut[first_component + component]`` over every run and, if asked,
   computes the slice's crc32c over the component ids as little-endian u32.
"""

import numpy as np

from . import status
from .bits import crc32c_u32, crc32c_u64
from .ccl import label_runs, run_at
from .crack_code import read_chain_starts, read_moves_plain, walk_chains
from .jit import kernel
from .markov import read_moves_markov


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


@kernel(internal=True)
def _write_slice(run_start, run_end, row_first, labels, sx, sy, lut, lut_base, out, base, s0, s1, write, checksum):
    """Write one slice's values through ``lut`` and return the crc32c of its component ids.

    The crc runs over each run's id repeated, two pixels per 64-bit crc32
    instruction; its latency hides behind the memory-bound fills.
    """
    crc = np.uint32(0xFFFFFFFF)
    half = False
    held = np.uint64(0)
    # Packed rows: a run's spill lands on the next run or row of the slice, written after it.
    limit = base + sx * sy - 15 if s0 == 1 and s1 == sx else 0
    for y in range(sy):
        row = base + y * s1
        for r in range(row_first[y], row_first[y + 1]):
            x0 = run_start[r]
            x1 = run_end[r]
            component = labels[r]
            if write:
                value = lut[lut_base + component]
                if s0 == 1:
                    _fill(out, row + x0, row + x1, value, limit)
                else:
                    for x in range(x0, x1):
                        out[row + x * s0] = value
            if checksum:
                n = x1 - x0
                word = np.uint64(component) & np.uint64(0xFFFFFFFF)
                if half:
                    crc = crc32c_u64(crc, held | (word << np.uint64(32)))
                    n -= 1
                    half = False
                pair = word | (word << np.uint64(32))
                for _ in range(n >> 1):
                    crc = crc32c_u64(crc, pair)
                if n & 1:
                    half = True
                    held = word
    if half:
        crc = crc32c_u32(crc, np.uint32(held))
    return crc ^ np.uint32(0xFFFFFFFF)


@kernel(internal=True)
def _transpose_out(scratch, n, sx, sy, out, base, s0, s1):
    """Write ``n`` Fortran-order slices from ``scratch`` into consecutive z of a z-fastest output.

    Blocks of 16 x by the n slices go through a small tile, so reads take
    whole cache lines of each scratch slice and writes whole cache lines of z.
    """
    pixels = sx * sy
    tile = np.empty((16, n), dtype=scratch.dtype)
    for y in range(sy):
        for x0 in range(0, sx, 16):
            width = min(16, sx - x0)
            row = x0 + sx * y
            for k in range(n):
                src = k * pixels + row
                for j in range(width):
                    tile[j, k] = scratch[src + j]
            for j in range(width):
                at = base + (x0 + j) * s0 + y * s1
                for k in range(n):
                    out[at + k] = tile[j, k]


@kernel(inline=True)
def _decode_slice(
    buf, start, end, sx, sy, permissible, markov_order, markov_table,
    conn, nwords, moves, starts, stack,
    run_start, run_end, row_first, parent, labels,
):
    """Decode one slice's crack code into runs and component labels.

    Returns ``(status, component_count)``.
    """
    nstarts, payload, code = read_chain_starts(buf, start, end, sx, sy, starts)
    if code != status.OK:
        return code, 0
    if markov_order > 0:
        nmoves = read_moves_markov(buf, payload, end, markov_table, markov_order, moves)
    else:
        nmoves = read_moves_plain(buf, payload, end, moves)
    conn[:] = np.uint64(0) if permissible else np.uint64(0xFFFFFFFFFFFFFFFF)
    code = walk_chains(moves, nmoves, starts, nstarts, sx, sy, permissible, conn, nwords, stack)
    if code != status.OK:
        return code, 0
    count = label_runs(conn, nwords, sx, sy, run_start, run_end, row_first, parent, labels)
    if count < 0:
        return status.MOVE_OUT_OF_RANGE, 0
    return status.OK, count


@kernel(internal=True)
def _accumulate(run_start, run_end, row_first, labels, sy, lut_base, stats):
    """Add one slice's runs to its components' rows of ``stats`` (see :func:`decode_block`)."""
    for y in range(sy):
        for r in range(row_first[y], row_first[y + 1]):
            x0 = run_start[r]
            x1 = run_end[r]
            n = x1 - x0
            row = lut_base + labels[r]
            stats[row, 0] += n
            stats[row, 1] += (x0 + x1 - 1) * n // 2
            stats[row, 2] += y * n
            stats[row, 3] = min(stats[row, 3], x0)
            stats[row, 4] = max(stats[row, 4], x1 - 1)
            stats[row, 5] = min(stats[row, 5], y)
            stats[row, 6] = max(stats[row, 6], y)


@kernel
def decode_block(
    buf, code_offsets, sx, sy, permissible, markov_order, markov_table,
    lut_offsets, lut, pin_ptr, pin_xy, pin_val,
    out, base, s0, s1, s2, write, checksum,
    max_code_len, runs_capacity, first, last, statuses, crcs, stats,
):
    """Decode slices ``first .. last - 1`` of a z-range on the calling thread.

    Parameters
    ----------
    buf : uint8 array
        Holds every crack code; slice i spans ``code_offsets[i] : code_offsets[i + 1]``
        (checked by the caller to lie inside ``buf``).
    lut_offsets : int64 array
        ``lut_offsets[i]`` is the lut index of slice i's component 0; slice i
        must have exactly ``lut_offsets[i + 1] - lut_offsets[i]`` components.
    lut : array
        Output value of every component of the range (updated by pins).
    pin_ptr, pin_xy, pin_val : arrays
        Pins crossing slice i are entries ``pin_ptr[i] : pin_ptr[i + 1]``, at
        pixel index ``pin_xy`` (x + sx * y) with value ``pin_val``.
    out : array
        Flat output; voxel (x, y, i) goes to ``out[base + i * s2 + y * s1 + x * s0]``.
    write, checksum : bool
        Whether to write ``out`` and compute ``crcs``.
    max_code_len, runs_capacity : int
        Longest crack code of the range; most runs any slice may hold.
    statuses, crcs : arrays
        Per-slice status code and crc32c of the component ids.
    stats : int64 array (components of the range, 7) or (0, 7)
        When it has rows: each component's pixel count, sum of x, sum of y,
        min x, max x, min y, max y are accumulated into its row (lut index).
    """
    nwords = sx // 64 + 1
    vertices = (sx + 1) * (sy + 1)
    conn = np.empty((2 * sy + 1) * nwords, dtype=np.uint64)
    moves = np.empty(8 * max_code_len, dtype=np.uint8)
    starts = np.empty(min(max_code_len, vertices), dtype=np.int64)
    stack = np.empty(min(4 * max_code_len, 3 * vertices), dtype=np.int64)
    run_start = np.empty(runs_capacity, dtype=np.int64)
    run_end = np.empty(runs_capacity, dtype=np.int64)
    parent = np.empty(runs_capacity, dtype=np.int64)
    labels = np.empty(runs_capacity, dtype=np.int64)
    row_first = np.empty(sy + 1, dtype=np.int64)
    # Output with z fastest (C order): slices go to a Fortran-order scratch first and are written out
    # a cache line of z at a time, instead of one scattered write per voxel.
    pixels = sx * sy
    lines = write and s2 == 1 and last - first > 1
    group = max(1, 64 // out.itemsize) if lines else 1
    scratch = np.empty(group * pixels if lines else 0, dtype=out.dtype)
    for i in range(first, last):
        code, count = _decode_slice(
            buf, code_offsets[i], code_offsets[i + 1], sx, sy, permissible,
            markov_order, markov_table, conn, nwords, moves, starts, stack,
            run_start, run_end, row_first, parent, labels,
        )
        if code == status.OK and count != lut_offsets[i + 1] - lut_offsets[i]:
            code = status.COMPONENT_COUNT
        statuses[i] = code
        if code != status.OK:
            continue
        lut_base = lut_offsets[i]
        for e in range(pin_ptr[i], pin_ptr[i + 1]):
            xy = pin_xy[e]
            r = run_at(run_start, row_first, xy % sx, xy // sx)
            lut[lut_base + labels[r]] = pin_val[e]
        if stats.shape[0]:
            _accumulate(run_start, run_end, row_first, labels, sy, lut_base, stats)
        if lines:
            k = (i - first) % group
            crcs[i] = _write_slice(
                run_start, run_end, row_first, labels, sx, sy, lut, lut_base, scratch, k * pixels, np.int64(1), sx,
                write, checksum,
            )
            if k == group - 1 or i == last - 1:
                _transpose_out(scratch, k + 1, sx, sy, out, base + (i - k) * s2, s0, s1)
        else:
            crcs[i] = _write_slice(
                run_start, run_end, row_first, labels, sx, sy, lut, lut_base, out, base + i * s2, s0, s1, write,
                checksum,
            )
