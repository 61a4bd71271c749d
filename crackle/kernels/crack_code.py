"""Crack code decoding: chain-start index, plain move symbols, chain walking (Markov: :mod:`.markov`).

A slice's crack code becomes two bitsets of pixel connectivity with
``nwords = sx // 64 + 1`` uint64 words per row (room for bits 0..sx):

* ``xconn[y * nwords ...]`` bit x (rows 0..sy-1) is set when pixel (x, y) is
  connected to (x - 1, y);
* ``yconn[y * nwords ...]`` bit x (rows 0..sy) is set when pixel (x, y) is
  connected to (x, y - 1).

Bits for cracks on the image border (x = 0 or sx, y = 0 or sy) exist so that
walking needs no test for them; labelling ignores them. IMPERMISSIBLE codes
trace the cracks between different labels, so the bitsets start full and every
crack walked clears a bit; PERMISSIBLE codes trace the cracks between equal
labels, so the bitsets start empty and walking sets bits.
"""

import numpy as np

from . import status
from .integers import byte_width, read_uint
from .jit import kernel

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3

@kernel(internal=True)
def read_chain_starts(buf, start, end, sx, sy, starts):
    """Parse the chain-start index of the crack code in ``buf[start:end]``.

    Fills ``starts`` with start vertex ids ``x + (sx + 1) * y`` and returns
    ``(count, payload_offset, status)``. Valid streams start at most one chain
    per vertex, so more starts than ``starts`` holds is an error.
    """
    if end - start < 4:
        return 0, start, status.INDEX_TRUNCATED
    index_size = read_uint(buf, start, np.int64(4))
    pos = start + 4
    if index_size > np.uint64(end - pos):
        return 0, start, status.INDEX_TRUNCATED
    index_end = pos + np.int64(index_size)
    xw = byte_width(sx + 1)
    yw = byte_width(sy + 1)
    if pos + yw > index_end:
        return 0, start, status.INDEX_TRUNCATED
    num_rows = read_uint(buf, pos, yw)
    pos += yw
    count = 0
    y = np.uint64(0)
    for _ in range(num_rows):
        if pos + yw + xw > index_end:
            return 0, start, status.INDEX_TRUNCATED
        y += read_uint(buf, pos, yw)
        pos += yw
        if y > np.uint64(sy):
            return 0, start, status.START_OUT_OF_RANGE
        num_x = read_uint(buf, pos, xw)
        pos += xw
        if num_x > np.uint64((index_end - pos) // xw):
            return 0, start, status.INDEX_TRUNCATED
        x = np.uint64(0)
        for _ in range(num_x):
            x += read_uint(buf, pos, xw)
            pos += xw
            if x > np.uint64(sx) or count >= starts.size:
                return 0, start, status.START_OUT_OF_RANGE
            starts[count] = np.int64(x) + (sx + 1) * np.int64(y)
            count += 1
    return count, index_end, status.OK


@kernel(inline=True)
def read_moves_plain(buf, start, end, moves):
    """Unpack 2-bit difference-coded symbols and undo the differences.

    ``moves`` needs capacity ``4 * (end - start)``; returns the number written.
    """
    n = 0
    acc = 0
    for i in range(start, end):
        byte = buf[i]
        for k in range(4):
            acc = (acc + ((byte >> (2 * k)) & 3)) & 3
            moves[n] = acc
            n += 1
    return n


# Per move (UP, RIGHT, DOWN, LEFT): vertex step, and which crack bit it walks,
# as (bitset, row offset from y, column offset from x); bitset 0 is xconn, 1 is yconn.
DX = np.array([0, 1, 0, -1], dtype=np.int64)
DY = np.array([-1, 0, 1, 0], dtype=np.int64)
_CRACK_SET = np.array([0, 1, 0, 1], dtype=np.int64)
_CRACK_ROW = np.array([-1, 0, 0, 0], dtype=np.int64)
_CRACK_COL = np.array([0, 0, 0, -1], dtype=np.int64)


@kernel(internal=True)
def walk_chains(moves, nmoves, starts, nstarts, sx, sy, permissible, conn, nwords, stack):
    """Walk every chain, marking the cracks it follows in ``conn``.

    ``conn`` holds xconn (``sy * nwords`` words) followed by yconn
    (``(sy + 1) * nwords`` words). A move immediately followed by its opposite
    is a control pair: DOWN-UP or RIGHT-LEFT terminates (pops the branch
    stack), UP-DOWN or LEFT-RIGHT branches (pushes the current vertex). A chain
    ends when every branch it opened has terminated. Returns a status code.
    """
    row_len = sx + 1
    set_offset = sy * nwords
    pos = 0
    for i in range(nstarts):
        x = starts[i] % row_len
        y = starts[i] // row_len
        open_branches = 1
        depth = 0
        pending = -1
        while open_branches > 0:
            if pos >= nmoves:
                return status.CHAINS_TRUNCATED
            move = np.int64(moves[pos])
            pos += 1
            if move == (pending ^ 2):
                pending = -1
                if move == UP or move == LEFT:
                    open_branches -= 1
                    if depth > 0:
                        depth -= 1
                        x = stack[depth] % row_len
                        y = stack[depth] // row_len
                else:
                    if depth >= stack.size:
                        return status.TOO_MANY_BRANCHES
                    open_branches += 1
                    stack[depth] = x + row_len * y
                    depth += 1
                continue
            if pending >= 0:
                col = x + _CRACK_COL[pending]
                index = _CRACK_SET[pending] * set_offset + (y + _CRACK_ROW[pending]) * nwords + (col >> 6)
                x += DX[pending]
                y += DY[pending]
                if np.uint64(x) > np.uint64(sx) or np.uint64(y) > np.uint64(sy):
                    return status.MOVE_OUT_OF_RANGE
                bit = np.uint64(1) << np.uint64(col & 63)
                if permissible:
                    conn[index] |= bit
                else:
                    conn[index] &= ~bit
            pending = move
    return status.OK
