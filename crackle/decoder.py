"""Decoding a z-range of slices on threads: the kernels' buffers, and the loop that runs them.

Threads take blocks of consecutive slices (:func:`crackle.threads.map_blocks`), so they never
share cache lines of the output. A thread works through its block a few slices at a time:
:func:`~crackle.kernels.decode.decode_runs` labels as many slices as its run buffers hold, then
:func:`~crackle.kernels.decode.accumulate_runs` (for statistics) and
:func:`~crackle.kernels.decode.write_runs` (output and checksums; or
:func:`~crackle.kernels.decode.checksum_runs`, checksums only, when nothing is written) read those
runs while they are still in cache. A z-fastest (C-order) output is written as Fortran-order slices
into a scratch and transposed into place a group at a time
(:func:`~crackle.kernels.transpose.transpose_out`, a kernel only such outputs compile). Only these
two writers depend on the output dtype, so a new dtype compiles only them. Markov-coded moves are
decoded ahead, some slices at a time, by their own kernel (:func:`~crackle.kernels.markov.markov_moves`),
which streams without a Markov model never compile.
"""

import builtins
from typing import NamedTuple, Optional

import numpy as np

from .kernels.decode import accumulate_runs, checksum_runs, decode_runs, write_runs
from .kernels.markov import markov_moves
from .kernels.transpose import transpose_out
from .threads import map_blocks

# Runs the buffers hold at least (3 MiB): about 20 slices of a 512 x 512 connectomics volume.
RUNS = 1 << 17
# Slices one decode call takes at most: a multiple of every z-fastest write group (64 // itemsize).
SLICES = 64
# Code bytes whose Markov-coded moves are decoded ahead at a time (at most 8 moves a byte: 2 MiB).
MOVED_CODE = 1 << 18
# What decode_runs gets for moves it reads itself (plain, not Markov-coded).
_NO_MOVES = np.empty(0, dtype=np.uint8)
_NO_ENDS = np.empty(0, dtype=np.int64)


class SliceCodes(NamedTuple):
    """The crack codes of a z-range and what decoding them needs from the rest of the stream."""

    buf: np.ndarray  # uint8: every slice's crack code
    code_offsets: np.ndarray  # int64: slice i spans code_offsets[i] : code_offsets[i + 1]
    sx: int
    sy: int
    permissible: bool
    markov_order: int
    markov_table: np.ndarray
    lut_offsets: np.ndarray  # int64: lut index of each slice's component 0, and the end
    pin_ptr: np.ndarray  # int64: pins crossing slice i are entries pin_ptr[i] : pin_ptr[i + 1]
    pin_xy: np.ndarray  # int64: pixel index (x + sx * y) of each
    max_code_len: int  # longest crack code of the range
    runs_capacity: int  # most runs any slice of the range may hold


def decode_slices(
    c: SliceCodes, lut: np.ndarray, pin_val: np.ndarray, out: Optional[np.ndarray], base: int, strides: tuple,
    checksum: bool, threads: int, statuses: np.ndarray, crcs: np.ndarray, stats: Optional[np.ndarray] = None,
) -> None:
    """Decode every slice of the range ``c`` on up to ``threads`` threads.

    Voxel (x, y) of slice i gets ``lut[lut_offsets[i] + component]`` (after the slice's pins set
    theirs to ``pin_val``), at ``out[base + i * s2 + y * s1 + x * s0]`` for ``strides`` (s0, s1, s2)
    in items of the flat ``out``, Fortran (``s0 == 1``) or C order (``s2 == 1``); with ``out`` None
    nothing is written, but the pins are still applied to ``lut``. ``statuses[i]`` gets slice i's
    status code and, with ``checksum``, ``crcs[i]`` the crc32c of its component ids. ``stats``
    (int64, a row of 7 per lut index), when given, accumulates each component's pixel count, sums
    of x and y, and x and y extent.
    """
    nz = c.code_offsets.size - 1
    s0 = strides[0]
    # Small blocks balance the threads; in C order, a block spans whole cache lines of z.
    line = 1 if s0 == 1 else 64 // lut.itemsize
    block = nz if threads == 1 else builtins.max(line, -(-nz // (8 * threads)))
    group = builtins.min(SLICES, 64 // lut.itemsize) if out is not None and s0 != 1 else 0
    pin_target = np.empty(c.pin_xy.size, dtype=np.int64)

    def work(b: int) -> None:
        first, last = b * block, builtins.min((b + 1) * block, nz)
        scratch = _scratch(c)
        runs = _runs(c, last - first)
        transposed = np.empty(builtins.min(group, last - first) * c.sx * c.sy, dtype=lut.dtype)
        moved, move_ends, moved_first, moved_last = _NO_MOVES, _NO_ENDS, first, first if c.markov_order else last
        while first < last:
            if c.markov_order and first >= moved_last:
                moved_first, moved_last, moved, move_ends = _markov_moves(c, first, last)
            stop = decode_runs(
                c.buf, c.code_offsets, c.sx, c.sy, c.permissible, moved, move_ends, moved_first,
                c.lut_offsets, c.pin_ptr, c.pin_xy, first, moved_last, c.runs_capacity, *scratch, *runs, pin_target,
                statuses,
            )
            if stats is not None:
                accumulate_runs(*runs, c.sy, first, stop, statuses, c.lut_offsets, stats)
            if out is not None:
                written = (statuses, lut, c.lut_offsets, c.pin_ptr, pin_target, pin_val)
                _write(c, runs, first, stop, written, out, base, strides, checksum, transposed, crcs)
            elif checksum:
                checksum_runs(*runs, c.sx, c.sy, first, stop, statuses, crcs)
            first = stop

    map_blocks(work, -(-nz // block), threads)
    if out is None and not statuses.any():
        lut[pin_target] = pin_val  # (write_runs applies them as it writes; later pins of a voxel win)


def _write(c: SliceCodes, runs: tuple, first: int, stop: int, written: tuple, out: np.ndarray, base: int,
           strides: tuple, checksum: bool, transposed: np.ndarray, crcs: np.ndarray) -> None:
    """Write slices ``first .. stop - 1``, labelled in the last turn, through their lookup tables
    (``written``: statuses, lut, lut offsets, pins and their targets and values): straight into a
    Fortran-order ``out``; into a z-fastest one as Fortran-order slices in ``transposed``, a group
    of them at a time, then :func:`~crackle.kernels.transpose.transpose_out`."""
    s0, s1, s2 = strides
    if s0 == 1:
        write_runs(*runs, c.sx, c.sy, first, first, stop, *written, out, base, s2, checksum, crcs)
        return
    pixels = c.sx * c.sy
    group = transposed.size // pixels
    for start in range(first, stop, group):
        end = builtins.min(start + group, stop)
        write_runs(*runs, c.sx, c.sy, first, start, end, *written, transposed, -start * pixels, pixels, checksum, crcs)
        transpose_out(transposed, end - start, c.sx, c.sy, out, base + start * s2, s0, s1)


def _markov_moves(c: SliceCodes, first: int, last: int) -> tuple:
    """``(first, end, moved, move_ends)``: the Markov-coded moves of slices ``first .. end - 1``
    (see :func:`~crackle.kernels.markov.markov_moves`), as many slices before ``last`` as
    :data:`MOVED_CODE` code bytes hold, and at least one."""
    offsets = c.code_offsets
    end = int(np.searchsorted(offsets, offsets[first] + MOVED_CODE, side="right")) - 1
    end = builtins.min(last, builtins.max(first + 1, end))
    moved = np.empty(8 * int(offsets[end] - offsets[first]) + 8, dtype=np.uint8)  # (never empty)
    move_ends = np.empty(end - first + 1, dtype=np.int64)
    markov_moves(c.buf, offsets, first, end, c.markov_table, c.markov_order, moved, move_ends)
    return first, end, moved, move_ends


def _scratch(c: SliceCodes) -> tuple:
    """``(conn, moves, starts, stack, parent)``: decode_runs's working space for one slice."""
    nwords = c.sx // 64 + 1
    vertices = (c.sx + 1) * (c.sy + 1)
    return (
        np.empty((2 * c.sy + 1) * nwords, dtype=np.uint64),
        np.empty(8 * c.max_code_len, dtype=np.uint8),
        np.empty(builtins.min(c.max_code_len, vertices), dtype=np.int64),
        np.empty(builtins.min(4 * c.max_code_len, 3 * vertices), dtype=np.int64),
        np.empty(c.runs_capacity, dtype=np.int64),
    )


def _runs(c: SliceCodes, slices: int) -> tuple:
    """``(run_start, run_end, labels, rows, bases)``: the runs of the slices one decode call labels,
    for a block of ``slices`` slices."""
    size = builtins.max(c.runs_capacity, builtins.min(RUNS, slices * c.runs_capacity))
    slices = builtins.min(SLICES, slices)
    return (
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.int64),
        np.empty((slices, c.sy + 1), dtype=np.int64),
        np.empty(slices, dtype=np.int64),
    )
