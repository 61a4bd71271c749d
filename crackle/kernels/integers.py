"""Little-endian integers of 1 to 8 bytes inside uint8 arrays (callers check the bounds)."""

import numpy as np

from .jit import kernel


@kernel(inline=True)
def read_uint(buf, pos, width):
    """The unsigned integer of ``width`` bytes at ``buf[pos]``."""
    value = np.uint64(0)
    for i in range(width):
        value |= np.uint64(buf[pos + i]) << np.uint64(8 * i)
    return value


@kernel(inline=True)
def put_uint(out, pos, value, width):
    """Write ``value`` as ``width`` bytes at ``out[pos]``; returns the offset after it."""
    for i in range(width):
        out[pos + i] = (value >> (8 * i)) & 0xFF
    return pos + width


def byte_width_of(value: int) -> int:
    """Smallest of 1, 2, 4, 8 bytes that holds the non-negative integer ``value``."""
    if value <= 0xFF:
        return 1
    if value <= 0xFFFF:
        return 2
    if value <= 0xFFFFFFFF:
        return 4
    return 8


byte_width = kernel(inline=True)(byte_width_of)
