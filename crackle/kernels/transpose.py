"""Fortran-order copies of 3-D arrays in any memory order, and Fortran-order slices written into a
z-fastest (C-order) output: tiled transpositions."""

import numpy as np

from .jit import kernel

# Tile of the copy: 8 x (rows of a C-order source, a y-z plane apart) by 32 z (output slices).
# Few enough rows and slices that the tile's cache lines, which share cache sets at
# power-of-two strides, stay in L1. On a 512 x 512 x 64 C-order slab this copies uint8 3.1x
# and uint16 2.4x faster than tiles of one cache line of x by four of z, uint32 and uint64 as fast.
_TILE_X = 8
_TILE_Z = 32


@kernel
def fortran_copy(source, out):
    """``out[...] = source`` for a Fortran-order ``out``, in tiles of ``_TILE_X`` x by ``_TILE_Z`` z,
    so that a C-order source (z fastest) is read, and ``out`` (x fastest) written, a run at a
    time: numpy's copy walks one of the two with a stride."""
    sx, sy, sz = source.shape
    for y in range(sy):
        for z0 in range(0, sz, _TILE_Z):
            z1 = min(z0 + _TILE_Z, sz)
            for x0 in range(0, sx, _TILE_X):
                x1 = min(x0 + _TILE_X, sx)
                for z in range(z0, z1):
                    for x in range(x0, x1):
                        out[x, y, z] = source[x, y, z]


@kernel
def transpose_out(scratch, n, sx, sy, out, base, s0, s1):
    """Write ``n`` Fortran-order slices of ``sx * sy`` from ``scratch`` into consecutive z of a
    z-fastest output: voxel (x, y) of slice k goes to ``out[base + x * s0 + y * s1 + k]``.

    Tiles of 16 x by 16 y by the n slices: a tile reads whole cache lines of each scratch slice
    and writes whole cache lines of z (of y, when one slice fills a z-line).
    """
    pixels = sx * sy
    for y0 in range(0, sy, 16):
        y1 = min(y0 + 16, sy)
        for x0 in range(0, sx, 16):
            for x in range(x0, min(x0 + 16, sx)):
                for y in range(y0, y1):
                    # (unsigned indices: no wraparound test of negative ones, 2.7x faster for one slice)
                    at = np.uint64(base + x * s0 + y * s1)
                    src = np.uint64(x + sx * y)
                    for k in range(n):
                        out[at + np.uint64(k)] = scratch[src + np.uint64(k) * np.uint64(pixels)]
