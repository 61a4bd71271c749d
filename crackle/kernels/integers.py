"""Little-endian integers of 1 to 8 bytes inside uint8 arrays (callers check the bounds)."""

import sys

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .jit import kernel


@kernel(inline=True)
def read_uint(buf, pos, width):
    """The unsigned integer of ``width`` bytes at ``buf[pos]``."""
    value = np.uint64(0)
    for i in range(width):
        value |= np.uint64(buf[pos + i]) << np.uint64(8 * i)
    return value


@intrinsic
def _load_word(typingctx, buf, pos):
    """The 8 bytes at ``buf[pos]`` as one (unaligned) native-order uint64 load; the caller checks the bounds."""
    sig = types.uint64(buf, types.intp)

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        address = builder.bitcast(builder.gep(array.data, [args[1]]), ir.IntType(64).as_pointer())
        return builder.load(address, align=1)

    return sig, codegen


_LITTLE_ENDIAN = sys.byteorder == "little"


@kernel(inline=True)
def load_uint(buf, pos, width):
    """:func:`read_uint` in one 8-byte load where 8 bytes are left: about twice as fast in a loop
    over packed integers, but more code at each call site, so only for hot loops."""
    if _LITTLE_ENDIAN and pos + 8 <= buf.size:
        return _load_word(buf, pos) & (np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(64 - 8 * width))
    return read_uint(buf, pos, width)


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
