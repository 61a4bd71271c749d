"""Slice encoding kernels: pixels -> connectivity bitsets; labelled components -> a voxel of each
and the crc32c of their ids. (:mod:`.chains` turns the bitsets into crack codes;
:mod:`crackle.slice_encoder` runs the steps slice by slice.)

The volume arrives as a flat array of unsigned integers, in Fortran order or
with z fastest (a C-order volume's slab), signed data viewed as unsigned of
the same width (only equality matters here). Components are labelled by the
same run-based code the decoder uses (:func:`.ccl.label_runs`), so both number
them identically.
"""

import numpy as np

from .checksum import row_weights, slice_crc
from .integers import read_uint
from .jit import kernel


@kernel
def count_equal(after, before):
    """Number of positions where ``after`` equals ``before`` (arrays of one size)."""
    count = 0
    for i in range(after.size):
        count += np.int64(after[i] == before[i])
    return count


@kernel
def count_equal_z_runs(flat, s0, s1, x_start, x_stop, sy, nz):
    """Number of equal x neighbours, (x, y, z) and (x + 1, y, z) for x in ``x_start .. x_stop - 1``,
    of a block whose z axis is contiguous (see :func:`zfast_connectivity`)."""
    count = 0
    for x in range(x_start, x_stop):
        for y in range(sy):
            at = x * s0 + y * s1
            here = flat[at : at + nz]
            right = flat[at + s0 : at + s0 + nz]
            for z in range(nz):
                count += np.int64(here[z] == right[z])
    return count


@kernel(inline=True)
def _compare(after, before, equal):
    for i in range(after.size):
        equal[i] = after[i] == before[i]


@kernel(internal=True)
def _pack_row(equal, sx, conn, at):
    """Pack ``equal[0:sx]`` (bytes 0/1) into bits at ``conn[at:]``, eight pixels per multiply."""
    nfull = sx >> 3
    for k in range(sx // 64 + 1):
        conn[at + k] = 0
    for j in range(nfull):
        # Gather the low bit of each byte into the top byte (bytes are 0 or 1).
        byte = (read_uint(equal, 8 * j, 8) * np.uint64(0x0102040810204080)) >> np.uint64(56)
        conn[at + (j >> 3)] |= byte << np.uint64(8 * (j & 7))
    for x in range(8 * nfull, sx):
        conn[at + (x >> 6)] |= np.uint64(equal[x]) << np.uint64(x & 63)


@kernel
def block_connectivity(flat, base, sx, sy, nz, conn):
    """Connectivity bitsets (see :mod:`.crack_code`), a bit set between equal neighbours, of the
    ``nz`` slices at ``flat[base:]`` (Fortran order); slice z's at ``conn[z * n : (z + 1) * n]``
    with ``n = (2 * sy + 1) * (sx // 64 + 1)``. The only step of encoding that depends on the
    input's dtype (see :mod:`crackle.slice_encoder`).

    Each row is compared into a byte row first, which lets the compiler vectorise the comparisons.
    """
    nwords = sx // 64 + 1
    per_slice = (2 * sy + 1) * nwords
    equal = np.empty(sx + 8, dtype=np.uint8)
    for z in range(nz):
        at = z * per_slice
        conn[at + sy * nwords : at + (sy + 1) * nwords] = 0
        for y in range(sy):
            row = base + (z * sy + y) * sx
            equal[0] = 0
            _compare(flat[row + 1 : row + sx], flat[row : row + sx - 1], equal[1:])
            _pack_row(equal, sx, conn, at + y * nwords)
            if y > 0:
                _compare(flat[row : row + sx], flat[row - sx : row], equal)
                _pack_row(equal, sx, conn, at + (sy + y) * nwords)


# Rows of a tile of zfast_connectivity: its bitset bytes (2 x 72 bytes a row and slice for 512 x)
# stay in cache while the tiles along x fill them in.
_TILE_ROWS = 16


@kernel
def zfast_connectivity(flat, s0, s1, sx, sy, nz, conn_bytes, nwords):
    """:func:`block_connectivity` of ``nz`` slices whose z axis is contiguous (a C-order volume's):
    voxel (x, y, z) is ``flat[x * s0 + y * s1 + z]``, and ``conn_bytes`` is ``conn`` viewed as bytes
    (byte k of a little-endian word holds bits 8k .. 8k + 7).

    Tiles of 8 x (a byte of each bitset row) by ``_TILE_ROWS`` rows, every slice at once: the tile
    reads its z runs row by row, eight streams that hardware prefetchers follow (a row of x at a
    time would be hundreds of streams a power-of-two stride apart), compares whole runs
    (vectorised), and sets a byte per slice and row. With no Fortran-order copy, 2-3x faster.
    """
    per_slice = 8 * (2 * sy + 1) * nwords
    conn_bytes[:] = 0
    across = np.empty(nz, dtype=np.uint8)
    down = np.empty(nz, dtype=np.uint8)
    for y0 in range(0, sy, _TILE_ROWS):
        for x0 in range(0, sx, 8):
            for y in range(y0, min(y0 + _TILE_ROWS, sy)):
                across[:] = 0
                down[:] = 0
                for x in range(x0, min(x0 + 8, sx)):
                    bit = np.uint8(x - x0)
                    at = x * s0 + y * s1
                    here = flat[at : at + nz]
                    if x > 0:
                        left = flat[at - s0 : at - s0 + nz]
                        for z in range(nz):
                            across[z] |= np.uint8(here[z] == left[z]) << bit
                    if y > 0:
                        up = flat[at - s1 : at - s1 + nz]
                        for z in range(nz):
                            down[z] |= np.uint8(here[z] == up[z]) << bit
                row = 8 * y * nwords + (x0 >> 3)
                column = 8 * (sy + y) * nwords + (x0 >> 3)
                for z in range(nz):
                    conn_bytes[z * per_slice + row] = across[z]
                    conn_bytes[z * per_slice + column] = down[z]


@kernel
def component_voxels(run_start, run_end, row_first, labels, sx, sy, base, x_step, y_step, voxels, at):
    """Write a voxel of each component of a labelled slice (see :func:`.ccl.label_runs`) at
    ``voxels[at + id]``: its index in the block's memory, ``base + x * x_step + y * y_step``.
    Returns the crc32c of the slice's component ids."""
    for y in range(sy):
        for r in range(row_first[y], row_first[y + 1]):
            voxels[at + labels[r]] = base + y * y_step + run_start[r] * x_step
    weights, shift = row_weights(sx)
    return slice_crc(run_start, run_end, labels, row_first, sy, weights, shift)
