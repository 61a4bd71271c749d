"""Slice encoding: pixels -> connectivity -> components (ids, values, crc32c) and crack codes.

The volume arrives as a flat Fortran-ordered array of unsigned integers
(signed data is viewed as unsigned of the same width: only equality
matters here). Components are labelled by the same run-based code the decoder
uses (:func:`.ccl.label_runs`), so both number them identically.
"""

import numpy as np

from .ccl import label_runs
from .chains import build_crack_graph, chain_codepoints, extract_chains, pack_codepoints, write_chain_index
from .decode import slice_crc
from .jit import kernel


@kernel
def count_equal(after, before):
    """Number of positions where ``after`` equals ``before`` (arrays of one size)."""
    count = 0
    for i in range(after.size):
        count += np.int64(after[i] == before[i])
    return count


@kernel(inline=True)
def _compare(after, before, equal):
    for i in range(after.size):
        equal[i] = after[i] == before[i]


@kernel(internal=True)
def _pack_row(equal, sx, conn, at):
    """Pack ``equal[0:sx]`` (bytes 0/1) into bits at ``conn[at:]``, eight pixels per multiply."""
    nfull = sx >> 3
    lanes = equal[: 8 * nfull].view(np.uint64)
    for k in range(sx // 64 + 1):
        conn[at + k] = 0
    for j in range(nfull):
        # Gather the low bit of each byte into the top byte (bytes are 0 or 1).
        byte = (lanes[j] * np.uint64(0x0102040810204080)) >> np.uint64(56)
        conn[at + (j >> 3)] |= byte << np.uint64(8 * (j & 7))
    for x in range(8 * nfull, sx):
        conn[at + (x >> 6)] |= np.uint64(equal[x]) << np.uint64(x & 63)


@kernel(internal=True)
def pixel_connectivity(flat, base, sx, sy, conn, nwords, equal):
    """Connectivity bitsets (see :mod:`.crack_code`) with a bit set between equal neighbours.

    ``equal`` is a byte scratch row of at least ``sx + 8`` entries; comparing
    into it first lets the compiler vectorise the comparisons.
    """
    conn[sy * nwords : (sy + 1) * nwords] = 0
    for y in range(sy):
        row = base + y * sx
        equal[0] = 0
        _compare(flat[row + 1 : row + sx], flat[row : row + sx - 1], equal[1:])
        _pack_row(equal, sx, conn, y * nwords)
        if y > 0:
            _compare(flat[row : row + sx], flat[row - sx : row], equal)
            _pack_row(equal, sx, conn, (sy + y) * nwords)


@kernel(inline=True)
def _grow(buffer, needed):
    """``buffer``, or a larger copy of it holding at least ``needed`` items."""
    if needed <= buffer.size:
        return buffer
    bigger = np.empty(max(needed, 2 * buffer.size), dtype=buffer.dtype)
    for i in range(buffer.size):  # (a loop: slice assignment compiles Numba's shape-error formatting)
        bigger[i] = buffer[i]
    return bigger


@kernel(inline=True)
def _room(scratch, needed):
    """``scratch``, or a larger uninitialised one holding at least ``needed`` items."""
    if needed <= scratch.size:
        return scratch
    return np.empty(max(needed, 2 * scratch.size), dtype=scratch.dtype)


@kernel
def block_connectivity(flat, sx, sy, nz, conn):
    """The connectivity bitsets of slices ``0 .. nz - 1`` of ``flat`` (Fortran order), slice z's at
    ``conn[z * n : (z + 1) * n]`` with ``n = (2 * sy + 1) * (sx // 64 + 1)``: the only step of
    encoding that depends on the input's dtype, so that :func:`encode_slices` compiles once."""
    nwords = sx // 64 + 1
    per_slice = (2 * sy + 1) * nwords
    equal = np.empty(sx + 8, dtype=np.uint8)
    for z in range(nz):
        pixel_connectivity(flat, z * sx * sy, sx, sy, conn[z * per_slice : (z + 1) * per_slice], nwords, equal)


@kernel
def encode_slices(conn_all, sx, sy, nz, permissible, checksum):
    """Encode slices ``0 .. nz - 1`` from their connectivity bitsets (see :func:`block_connectivity`).

    Returns ``(codes, code_ends, ncodepoints, counts, firsts, crcs)``: the
    concatenated crack codes (chain-start index and 2-bit difference-coded
    codepoints) with the end offset of each slice's, each slice's number of
    codepoints, its number of components, the first voxel of every component
    (its index in the block, slice by slice, in id order: the component's value
    is the block's value there) and the crc32c of each slice's component ids.

    Scratch buffers start small and grow to what the busiest slice needs.
    """
    pixels = sx * sy
    nwords = sx // 64 + 1
    per_slice = (2 * sy + 1) * nwords
    row_first = np.empty(sy + 1, dtype=np.int64)
    adjacency = np.empty((sx + 1) * (sy + 1), dtype=np.uint8)
    runs = min(pixels, 4 * sy + 1024)
    run_start = np.empty(runs, dtype=np.int64)
    run_end = np.empty(runs, dtype=np.int64)
    parent = np.empty(runs, dtype=np.int64)
    labels = np.empty(runs, dtype=np.int64)
    symbols = np.empty(0, dtype=np.uint8)
    stack = np.empty(0, dtype=np.int64)
    moves_after = np.empty(0, dtype=np.int64)
    starts = np.empty(0, dtype=np.int64)
    bounds = np.empty(0, dtype=np.int64)
    codepoints = np.empty(0, dtype=np.uint8)

    codes = np.empty(max(64, nz * 64), dtype=np.uint8)
    code_ends = np.empty(nz, dtype=np.int64)
    ncodepoints = np.empty(nz, dtype=np.int64)
    counts = np.empty(nz, dtype=np.int64)
    firsts = np.empty(max(16, nz * 16), dtype=np.int64)
    crcs = np.zeros(nz, dtype=np.uint32)
    nvalues = np.int64(0)  # (not literal zeros: callees compile once)
    at = np.int64(0)
    for z in range(nz):
        conn = conn_all[z * per_slice : (z + 1) * per_slice]
        count = label_runs(conn, nwords, sx, sy, run_start, run_end, row_first, parent, labels)
        while count < 0:
            runs = min(pixels, 2 * run_start.size)
            run_start = np.empty(runs, dtype=np.int64)
            run_end = np.empty(runs, dtype=np.int64)
            parent = np.empty(runs, dtype=np.int64)
            labels = np.empty(runs, dtype=np.int64)
            count = label_runs(conn, nwords, sx, sy, run_start, run_end, row_first, parent, labels)
        counts[z] = count
        firsts = _grow(firsts, nvalues + count)
        base = z * pixels
        for y in range(sy):
            for r in range(row_first[y], row_first[y + 1]):
                firsts[nvalues + labels[r]] = base + y * sx + run_start[r]
        nvalues += count
        if checksum:
            crcs[z] = slice_crc(run_start, run_end, labels, row_first[sy])

        # Symbols: at most one move per edge, a branch per edge and a terminate per branch or chain.
        edges = build_crack_graph(conn, nwords, sx, sy, permissible, adjacency)
        symbols = _room(symbols, 4 * edges + 4)
        moves_after = _room(moves_after, 4 * edges + 4)
        codepoints = _room(codepoints, 8 * edges + 8)
        stack = _room(stack, edges + 2)
        starts = _room(starts, edges + 2)
        bounds = _room(bounds, edges + 3)
        nchains = extract_chains(adjacency, sx, sy, symbols, starts, bounds, stack, moves_after)
        n = chain_codepoints(symbols, starts, bounds, nchains, codepoints)
        ncodepoints[z] = n
        index_bound = 12 + 24 * nchains
        codes = _grow(codes, at + index_bound + (n + 3) // 4)
        at = write_chain_index(starts, nchains, sx, sy, codes, at)
        at = pack_codepoints(codepoints, n, codes, at)
        code_ends[z] = at
    return codes[:at].copy(), code_ends, ncodepoints, counts, firsts[:nvalues].copy(), crcs
