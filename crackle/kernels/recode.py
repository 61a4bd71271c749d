"""Rewriting crack codes between Markov models: any slice's moves back to plain 2-bit form."""

import numpy as np

from . import status
from .crack_code import read_chain_starts, read_moves_plain
from .jit import kernel
from .markov import read_moves_markov

_NONE = -1


@kernel(internal=True)
def chain_extent(moves, n, nchains):
    """Codepoints that the first ``nchains`` chains use (the rest is padding); -1 if they run past
    the ``n`` decoded. ``moves`` are undifferenced codepoints (0 up, 1 right, 2 down, 3 left)."""
    if nchains == 0:
        return 0
    done = 0
    depth = 1
    last = _NONE
    for i in range(n):
        m = moves[i]
        if last != _NONE and m == (last ^ 2):
            # A move and its opposite: branch if the second is DOWN or RIGHT, else terminate.
            depth += 1 if (m == 2 or m == 1) else -1
            last = _NONE
            if depth == 0:
                done += 1
                if done == nchains:
                    return i + 1
                depth = 1
        else:
            last = m
    return -1


@kernel
def to_plain(buf, code_offsets, sx, sy, order, table, max_code_len, out, ends, ncodepoints):
    """Write every slice's crack code with plain 2-bit moves (as the encoder makes them) into
    ``out``; slice z ends at ``ends[z]`` and holds ``ncodepoints[z]`` moves.

    ``out`` needs ``2 * len + 1`` bytes per slice. Returns ``(status, slice)``.
    """
    starts = np.empty(max(1, min(max_code_len, (sx + 1) * (sy + 1))), dtype=np.int64)
    moves = np.empty(8 * max_code_len + 8, dtype=np.uint8)
    pos = 0
    for z in range(code_offsets.size - 1):
        start, end = code_offsets[z], code_offsets[z + 1]
        nstarts, payload, code = read_chain_starts(buf, start, end, sx, sy, starts)
        if code != status.OK:
            return code, z
        for i in range(start, payload):
            out[pos] = buf[i]
            pos += 1
        if order > 0:
            n = read_moves_markov(buf, payload, end, table, order, moves)
        else:
            n = read_moves_plain(buf, payload, end, moves)
        used = chain_extent(moves, n, nstarts)
        if used < 0:
            return status.CHAINS_TRUNCATED, z
        nbytes = (used + 3) // 4
        out[pos : pos + nbytes] = 0
        previous = 0
        for i in range(used):
            bits = ((np.int64(moves[i]) - previous) & 3) << (2 * (i % 4))
            out[pos + i // 4] = out[pos + i // 4] | np.uint8(bits)
            previous = np.int64(moves[i])
        pos += nbytes
        ends[z] = pos
        ncodepoints[z] = used
    return status.OK, code_offsets.size - 1
