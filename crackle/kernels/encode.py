"""Slice encoding kernels: pixels -> connectivity bitsets; labelled components -> a voxel of each
and the crc32c of their ids. (:mod:`.chains` turns the bitsets into crack codes;
:mod:`crackle.slice_encoder` runs the steps slice by slice.)

The volume arrives as a flat Fortran-ordered array of unsigned integers
(signed data is viewed as unsigned of the same width: only equality
matters here). Components are labelled by the same run-based code the decoder
uses (:func:`.ccl.label_runs`), so both number them identically.
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


@kernel
def component_voxels(run_start, run_end, row_first, labels, sx, sy, base, voxels, at):
    """Write a voxel of each component of a labelled slice (see :func:`.ccl.label_runs`) at
    ``voxels[at + id]``: its index in the block, the slice's first voxel being ``base``. Returns the
    crc32c of the slice's component ids."""
    for y in range(sy):
        for r in range(row_first[y], row_first[y + 1]):
            voxels[at + labels[r]] = base + y * sx + run_start[r]
    weights, shift = row_weights(sx)
    return slice_crc(run_start, run_end, labels, row_first, sy, weights, shift)
