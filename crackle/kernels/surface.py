"""Surface voxels of a labelled block: a label differs among the 8 in-plane and 2 z neighbours."""

from .jit import kernel


@kernel
def surface_mask(block, z_first, z_last, bottom, top, out, k_first, k_last):
    """``out[x, y, k]`` for slice ``z_first + k`` of ``block`` (k in ``k_first .. k_last - 1``): whether
    a neighbour (8 in the slice, the slices before and after) differs or lies outside the volume.
    ``block`` holds the slices next to the range ``z_first .. z_last - 1`` where the volume has them;
    ``bottom`` / ``top``: the range's first / last slice is the volume's."""
    sx, sy, nz = block.shape
    for k in range(k_first, k_last):
        z = z_first + k
        edge_z = (bottom and k == 0) or (top and z == z_last - 1)
        for y in range(sy):
            for x in range(sx):
                if edge_z or x == 0 or y == 0 or x == sx - 1 or y == sy - 1:
                    out[x, y, k] = True
                    continue
                value = block[x, y, z]
                differs = False
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        if block[x + dx, y + dy, z] != value:
                            differs = True
                if not differs and z > 0 and block[x, y, z - 1] != value:
                    differs = True
                if not differs and z + 1 < nz and block[x, y, z + 1] != value:
                    differs = True
                out[x, y, k] = differs
