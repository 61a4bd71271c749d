"""Low-level primitives for the kernels: trailing-zero count, CRC-32C updates and carry-less products.

CRC-32C uses the SSE4.2 ``crc32`` instruction when the host has it (about 6 GB/s
per core) and a table otherwise. The register convention is the raw one: callers
start from ``0xFFFFFFFF`` and invert the result, which gives the standard CRC-32C
that ``google_crc32c.value`` returns. The carry-less product uses the
``pclmulqdq`` instruction when the host has it and a shift-and-xor loop otherwise.
"""

import platform

import llvmlite.binding as llvm_binding
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .jit import kernel


@intrinsic
def cttz(typingctx, value):
    """Number of trailing zero bits of a uint64 (64 for zero)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


def _sse42_crc32c(bits: int):
    """An intrinsic for the SSE4.2 ``crc32`` instruction on a ``bits``-wide word (32 or 64)."""
    word_type = types.uint64 if bits == 64 else types.uint32

    @intrinsic
    def crc32c_word(typingctx, crc, word):
        sig = types.uint32(types.uint32, word_type)

        def codegen(context, builder, signature, args):
            wide = ir.IntType(bits)
            fnty = ir.FunctionType(wide, [wide, wide])
            name = f"llvm.x86.sse42.crc32.{bits}.{bits}"
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)
            crc = builder.zext(args[0], wide) if bits == 64 else args[0]
            result = builder.call(fn, [crc, args[1]])
            return builder.trunc(result, ir.IntType(32)) if bits == 64 else result

        return sig, codegen

    return crc32c_word


def _crc32c_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table[byte] = crc
    return table


_TABLE = _crc32c_table()


@kernel
def _crc32c_bytes_table(crc, word, nbytes):
    for _ in range(nbytes):
        crc = _TABLE[(crc ^ np.uint32(word & 0xFF)) & 0xFF] ^ (crc >> np.uint32(8))
        word >>= 8
    return np.uint32(crc)


@kernel
def _crc32c_u64_table(crc, word):
    return _crc32c_bytes_table(np.uint32(crc), np.uint64(word), 8)


@kernel
def _crc32c_u32_table(crc, word):
    return _crc32c_bytes_table(np.uint32(crc), np.uint64(word), 4)


@intrinsic
def _pclmul32(typingctx, a, b):
    """The ``pclmulqdq`` instruction on the low words of two uint64."""
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        word = ir.IntType(64)
        pair = ir.VectorType(word, 2)
        fnty = ir.FunctionType(pair, [pair, pair, ir.IntType(8)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.pclmulqdq")
        low = ir.Constant(ir.IntType(32), 0)
        a_ = builder.insert_element(ir.Constant(pair, None), args[0], low)
        b_ = builder.insert_element(ir.Constant(pair, None), args[1], low)
        return builder.extract_element(builder.call(fn, [a_, b_, ir.Constant(ir.IntType(8), 0)]), low)

    return sig, codegen


@kernel
def _clmul32_loop(a, b):
    product = np.uint64(0)
    for bit in range(32):
        if (a >> np.uint64(bit)) & np.uint64(1):
            product ^= np.uint64(b) << np.uint64(bit)
    return product


def _host_has(feature: str) -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if numba.config.CPU_NAME not in (None, "host"):
        return False
    return bool(llvm_binding.get_host_cpu_features().get(feature, False))


if _host_has("sse4.2"):
    crc32c_u64 = _sse42_crc32c(64)
    crc32c_u32 = _sse42_crc32c(32)
else:
    crc32c_u64 = _crc32c_u64_table
    crc32c_u32 = _crc32c_u32_table

# clmul32(a, b): the carry-less (GF(2)[x]) product of two uint64 holding values below 2**32.
clmul32 = _pclmul32 if _host_has("pclmul") else _clmul32_loop

