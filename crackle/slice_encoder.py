"""Encoding a block of slices: the kernels' buffers, and the loop that runs them slice by slice.

Each step of a slice is its own kernel, called from here: a kernel that called the others would
compile them all again inside itself (Numba links every callee into its caller), which cost more
than two seconds of a first ``compress``, while a call from Python costs about a microsecond.
Buffers are sized by what each slice needs, before the step that fills them, and grow as needed.
"""

import numpy as np

from .kernels.ccl import label_runs
from .kernels.chains import build_crack_graph, chain_codepoints, extract_chains, pack_codepoints, write_chain_index
from .kernels.encode import component_voxels


def _room(buffer: np.ndarray, needed: int, keep: int = 0) -> np.ndarray:
    """``buffer``, or a larger one holding at least ``needed`` items (its first ``keep`` copied)."""
    if needed <= buffer.size:
        return buffer
    bigger = np.empty(max(needed, 2 * buffer.size), dtype=buffer.dtype)
    bigger[:keep] = buffer[:keep]
    return bigger


def encode_slices(conn_all: np.ndarray, sx: int, sy: int, nz: int, permissible: bool, steps: tuple) -> tuple:
    """Encode slices ``0 .. nz - 1`` from their connectivity bitsets (see
    :func:`~crackle.kernels.encode.block_connectivity`).

    Returns ``(codes, code_ends, ncodepoints, counts, voxels, crcs)``: the concatenated crack codes
    (chain-start index and 2-bit difference-coded codepoints) with the end offset of each slice's,
    each slice's number of codepoints, its number of components, a voxel of every component (slice
    by slice, in id order: ``x * steps[0] + y * steps[1] + z * steps[2]``, its index in the block's
    memory, where the component's value is) and the crc32c of each slice's component ids.
    """
    pixels = sx * sy
    nwords = sx // 64 + 1
    per_slice = (2 * sy + 1) * nwords
    row_first = np.empty(sy + 1, dtype=np.int64)
    adjacency = np.empty((sx + 1) * (sy + 1), dtype=np.uint8)
    runs = [np.empty(min(pixels, 4 * sy + 1024), dtype=np.int64) for _ in range(4)]
    symbols = np.empty(0, dtype=np.uint8)
    codepoints = np.empty(0, dtype=np.uint8)
    moves_after, stack, starts, bounds = (np.empty(0, dtype=np.int64) for _ in range(4))

    codes = np.empty(max(64, nz * 64), dtype=np.uint8)
    code_ends, ncodepoints, counts = (np.empty(nz, dtype=np.int64) for _ in range(3))
    voxels = np.empty(max(16, nz * 16), dtype=np.int64)
    crcs = np.empty(nz, dtype=np.uint32)
    nvalues = at = 0
    for z in range(nz):
        conn = conn_all[z * per_slice : (z + 1) * per_slice]
        count = label_runs(conn, nwords, sx, sy, runs[0], runs[1], row_first, runs[2], runs[3])
        while count < 0:
            runs = [np.empty(min(pixels, 2 * runs[0].size), dtype=np.int64) for _ in range(4)]
            count = label_runs(conn, nwords, sx, sy, runs[0], runs[1], row_first, runs[2], runs[3])
        counts[z] = count
        voxels = _room(voxels, nvalues + count, nvalues)
        crcs[z] = component_voxels(runs[0], runs[1], row_first, runs[3], sx, sy, z * steps[2], *steps[:2], voxels,
                                   nvalues)
        nvalues += count

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
        codes = _room(codes, at + 12 + 24 * nchains + (n + 3) // 4, at)
        at = write_chain_index(starts, nchains, sx, sy, codes, at)
        at = pack_codepoints(codepoints, n, codes, at)
        code_ends[z] = at
    return codes[:at].copy(), code_ends, ncodepoints, counts, voxels[:nvalues].copy(), crcs
