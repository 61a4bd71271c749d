"""Crack code encoding of one slice: crack graph -> chains -> chain-start index + moves.

The crack graph holds the cracks between pixels of different labels
(IMPERMISSIBLE) or of equal labels (PERMISSIBLE), as a bitmask per vertex:
bit 0 right (x + 1), bit 1 left, bit 2 down (y + 1), bit 3 up. Chains are
walked exactly as crackle-codec walks them (lowest edge bit first, branch
and terminate symbols, re-rooting of a leading branch, removal of branches
whose second arm came out empty), so that streams are byte-identical.
"""

import numpy as np

from .bits import cttz
from .crack_code import DOWN, DX, DY, LEFT, RIGHT, UP
from .integers import byte_width, put_uint, read_uint
from .jit import kernel

BRANCH, TERMINATE, SKIP = 4, 5, 6
_EDGE_RIGHT, _EDGE_LEFT, _EDGE_DOWN, _EDGE_UP = 1, 2, 4, 8

# For each edge mask (0-15): the move taken first (lowest edge bit: right, left, down, up),
# that edge's bit, and the neighbour's bit for the same edge.
_FIRST_MOVE = np.array([0, RIGHT, LEFT, RIGHT, DOWN, RIGHT, LEFT, RIGHT,
                        UP, RIGHT, LEFT, RIGHT, DOWN, RIGHT, LEFT, RIGHT], dtype=np.int64)
_MOVE_BIT = np.array([_EDGE_UP, _EDGE_RIGHT, _EDGE_DOWN, _EDGE_LEFT], dtype=np.uint8)
_BACK_BIT = np.array([_EDGE_DOWN, _EDGE_LEFT, _EDGE_UP, _EDGE_RIGHT], dtype=np.uint8)


@kernel(inline=True)
def _add_cracks(conn, row, sx, flip, skip_first, adjacency, vertex, near_bit, step, far_bit):
    """For each crack bit of one bitset row, join vertex ``vertex + x`` to ``vertex + x + step``."""
    last = (sx - 1) >> 6
    edges = 0
    for k in range(last + 1):
        bits = conn[row + k] ^ flip
        if k == 0 and skip_first:
            bits &= ~np.uint64(1)
        if k == last and sx & 63:
            bits &= (np.uint64(1) << np.uint64(sx & 63)) - np.uint64(1)
        while bits:
            v = vertex + 64 * k + np.int64(cttz(bits))
            bits &= bits - np.uint64(1)
            adjacency[v] |= near_bit
            adjacency[v + step] |= far_bit
            edges += 1
    return edges


@kernel
def build_crack_graph(conn, nwords, sx, sy, permissible, adjacency):
    """Fill ``adjacency`` ((sx + 1) * (sy + 1) vertices) from pixel connectivity bitsets.

    ``conn`` is laid out as :mod:`.crack_code` describes (xconn rows, then yconn
    rows) with bits set between equal pixels. Returns the number of edges.
    """
    adjacency[:] = 0
    width = sx + 1
    flip = np.uint64(0) if permissible else np.uint64(0xFFFFFFFFFFFFFFFF)
    edges = 0
    for y in range(sy):
        # Crack left of pixel (x, y), 1 <= x <= sx - 1: vertex (x, y) down to (x, y + 1).
        edges += _add_cracks(conn, y * nwords, sx, flip, np.bool_(True), adjacency, width * y, np.int64(_EDGE_DOWN),
                             width, np.int64(_EDGE_UP))
    for y in range(1, sy):
        # Crack above pixel (x, y), 1 <= y <= sy - 1: vertex (x, y) right to (x + 1, y).
        edges += _add_cracks(conn, (sy + y) * nwords, sx, flip, np.bool_(False), adjacency, width * y,
                             np.int64(_EDGE_RIGHT), np.int64(1), np.int64(_EDGE_LEFT))
    return edges


@kernel(inline=True)
def _reroot(symbols, begin, start, width):
    """Re-root a chain that opens with a branch whose first arm holds only moves.

    The arm is reversed (opposite moves in reverse order) so the chain starts
    where the arm ended; the branch and the arm's terminate become skips.
    Returns the chain's start vertex.
    """
    if symbols[begin] != BRANCH:
        return start
    end = begin + 1
    while symbols[end] != TERMINATE:
        if symbols[end] == BRANCH:
            return start
        end += 1
    node = start
    for p in range(begin + 1, end):
        node += DX[symbols[p]] + width * DY[symbols[p]]
    i = begin + 1
    j = end - 1
    while i < j:
        first = symbols[i]
        symbols[i] = symbols[j] ^ 2
        symbols[j] = first ^ 2
        i += 1
        j -= 1
    if i == j:
        symbols[i] ^= 2
    symbols[begin] = SKIP
    symbols[end] = SKIP
    return node


@kernel(inline=True)
def _drop_empty_branches(symbols, begin, end, pending, moves_after):
    """Skip each branch (and the terminate closing its second arm) whose second arm has no moves."""
    depth = 0
    current = -1
    for p in range(begin, end):
        symbol = symbols[p]
        if symbol == BRANCH:
            pending[depth] = p
            depth += 1
            moves_after[p] = 0
        elif symbol == TERMINATE:
            if current >= 0 and moves_after[current] == 0:
                symbols[current] = SKIP
                symbols[p] = SKIP
            if depth > 0:
                depth -= 1
                current = pending[depth]
            else:
                current = -1
        elif current >= 0 and symbol != SKIP:
            moves_after[current] += 1


@kernel
def extract_chains(adjacency, sx, sy, symbols, starts, bounds, stack, moves_after):
    """Walk the crack graph into chains of symbols (moves 0-3, BRANCH, TERMINATE, SKIP).

    Consumes ``adjacency``. Chain i has start vertex ``starts[i]`` and symbols
    ``symbols[bounds[i] : bounds[i + 1]]``. Returns the number of chains.
    """
    width = sx + 1
    nvertices = width * (sy + 1)
    start = 0
    nsymbols = np.int64(0)  # (not a literal 0: callees compile once)
    nchains = 0
    bounds[0] = 0
    while True:
        while start < nvertices and adjacency[start] == 0:
            if start & 7 == 0 and start + 8 <= nvertices and read_uint(adjacency, start, 8) == 0:
                start += 8
            else:
                start += 1
        if start >= nvertices:
            break
        node = start
        begin = nsymbols
        open_branches = 1
        depth = 0
        while adjacency[node] != 0 or depth > 0:
            edges = adjacency[node]
            if edges == 0:
                symbols[nsymbols] = TERMINATE
                nsymbols += 1
                open_branches -= 1
                depth -= 1
                node = stack[depth]
                continue
            if edges & (edges - 1):
                symbols[nsymbols] = BRANCH
                nsymbols += 1
                stack[depth] = node
                depth += 1
                open_branches += 1
            move = _FIRST_MOVE[edges]
            adjacency[node] = edges & ~_MOVE_BIT[move]
            node += DX[move] + width * DY[move]
            adjacency[node] &= ~_BACK_BIT[move]
            symbols[nsymbols] = move
            nsymbols += 1
        for _ in range(open_branches):
            symbols[nsymbols] = TERMINATE
            nsymbols += 1
        starts[nchains] = _reroot(symbols, begin, start, width)
        _drop_empty_branches(symbols, begin, nsymbols, stack, moves_after)
        nchains += 1
        bounds[nchains] = nsymbols
    return nchains


@kernel(inline=True)
def _stable_order(keys, n):
    """The indices that sort ``keys[:n]`` stably: a bottom-up merge sort, one pass when the keys
    are already in order (as chain starts are, but for re-rooted chains). Written out because
    ``np.argsort(kind="mergesort")`` costs a second to compile."""
    order = np.empty(n, dtype=np.int64)
    ascending = True
    for i in range(n):
        order[i] = i
        if i and keys[i] < keys[i - 1]:
            ascending = False
    if ascending:
        return order
    other = np.empty(n, dtype=np.int64)
    width = 1
    while width < n:
        for low in range(0, n, 2 * width):
            middle, high = min(low + width, n), min(low + 2 * width, n)
            i, j = low, middle
            for k in range(low, high):
                if j < high and (i >= middle or keys[order[j]] < keys[order[i]]):
                    other[k] = order[j]
                    j += 1
                else:
                    other[k] = order[i]
                    i += 1
        order, other = other, order
        width *= 2
    return order


@kernel
def chain_codepoints(symbols, starts, bounds, nchains, codepoints):
    """Turn chains (in ascending start order) into difference-coded codepoints.

    Branch is UP, DOWN (LEFT, RIGHT after a DOWN or at a chain's start);
    terminate is DOWN, UP (RIGHT, LEFT after an UP or at a chain's start).
    Returns the number of codepoints and sorts ``starts`` in place.
    """
    order = _stable_order(starts, nchains)
    n = 0
    previous_any = 0
    for c in range(nchains):
        chain = order[c]
        begin = bounds[chain]
        previous = -1
        for p in range(begin, bounds[chain + 1]):
            symbol = symbols[p]
            if symbol == SKIP:
                continue
            if symbol < BRANCH:
                first, second = symbol, -1
            elif symbol == BRANCH:
                if p == begin or previous == DOWN:
                    first, second = LEFT, RIGHT
                else:
                    first, second = UP, DOWN
            else:
                if p == begin or previous == UP:
                    first, second = RIGHT, LEFT
                else:
                    first, second = DOWN, UP
            codepoints[n] = (first - previous_any) & 3
            n += 1
            previous_any = first
            previous = first
            if second >= 0:
                codepoints[n] = (second - previous_any) & 3
                n += 1
                previous_any = second
                previous = second
    ordered = np.empty(nchains, dtype=np.int64)
    for c in range(nchains):
        ordered[c] = starts[order[c]]
    for c in range(nchains):
        starts[c] = ordered[c]
    return n


@kernel
def write_chain_index(starts, nchains, sx, sy, out, pos):
    """Write the u32 index size and the chain-start index at ``out[pos:]``; returns the end offset."""
    width = sx + 1
    xw = byte_width(sx + 1)
    yw = byte_width(sy + 1)
    body = pos + 4
    nrows = np.int64(0)
    for c in range(nchains):
        if c == 0 or starts[c] // width != starts[c - 1] // width:
            nrows += 1
    at = put_uint(out, body, nrows, yw)
    previous_row = 0
    c = 0
    while c < nchains:
        row = starts[c] // width
        count = 1
        while c + count < nchains and starts[c + count] // width == row:
            count += 1
        at = put_uint(out, at, row - previous_row, yw)
        at = put_uint(out, at, count, xw)
        previous_x = 0
        for k in range(c, c + count):
            x = starts[k] % width
            at = put_uint(out, at, x - previous_x, xw)
            previous_x = x
        previous_row = row
        c += count
    put_uint(out, pos, at - body, np.int64(4))
    return at


@kernel
def pack_codepoints(codepoints, n, out, pos):
    """Pack difference-coded codepoints four per byte, least significant first; returns the end offset."""
    nbytes = (n + 3) >> 2
    for i in range(nbytes):
        byte = 0
        for k in range(4):
            j = 4 * i + k
            if j < n:
                byte |= codepoints[j] << (2 * k)
        out[pos + i] = byte
    return pos + nbytes
