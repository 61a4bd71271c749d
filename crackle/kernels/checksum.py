"""The crc32c of a slice's component ids (little-endian u32, x fastest), computed from its runs.

A run of ``n`` equal ids costs one carry-less product instead of ``n / 2`` crc32
instructions in a chain. Every step of CRC-32C is linear over GF(2): the raw
register after a slice of ``N`` ids ``w_j`` is ``init * x^(32 N) + sum_j w_j *
x^(32 (N - j))`` modulo the Castagnoli polynomial G (bit-reflected, as the
register holds it). A row of ``sx`` ids is therefore a sum over its runs: the run
of ``w`` over ``[x0, x1)`` adds ``w * (T(sx - x0) - T(sx - x1))``, where ``T(k) =
x^32 + x^64 + ... + x^(32 k)``, and rows chain like words: ``register * x^(32 sx)
+ row``. A carry-less product of two reflected 32-bit values is the reflected
product times ``x`` in 64 bits, and a crc32 instruction on it from a zero
register multiplies it by ``x^32`` and reduces it modulo G; so the weights are
stored times ``x^-33`` (:func:`row_weights`) and each row costs one reduction.
"""

import numpy as np

from .bits import clmul32, crc32c_u32, crc32c_u64
from .jit import kernel

# x^-33 modulo G in the register's bit-reflected form (bit i holds the coefficient of x^(31 - i)).
_X_POWER_MINUS_33 = np.uint32(0xA9CDDA0D)


@kernel(inline=True)
def row_weights(sx):
    """``(weights, shift)`` for rows of ``sx`` ids: ``weights[x] = T(sx - x) * x^-33`` (uint64, ``sx + 1``
    of them) and ``shift = x^(32 sx - 33)``, modulo G."""
    weights = np.empty(sx + 1, np.uint64)
    weights[sx] = 0
    power = _X_POWER_MINUS_33  # x^(32 k - 33) for k = 0, 1, ...
    total = np.uint32(0)
    for k in range(1, sx + 1):
        power = crc32c_u32(power, np.uint32(0))
        total ^= power
        weights[sx - k] = total
    return weights, np.uint64(power)


@kernel(inline=True)
def run_term(component, x0, x1, weights):
    """What the run of ``component`` over ``[x0, x1)`` adds to its row's unreduced sum (xor them)."""
    return clmul32(np.uint64(component) & np.uint64(0xFFFFFFFF), weights[x0] ^ weights[x1])


@kernel(inline=True)
def next_row(register, shift, row_sum):
    """The crc register after a row whose runs' terms xor to ``row_sum``."""
    return np.uint64(crc32c_u64(np.uint32(0), clmul32(register, shift) ^ row_sum))


@kernel(inline=True)
def slice_crc(run_start, run_end, labels, row_first, sy, weights, shift):
    """The crc32c of a slice's component ids from its runs: row y's are ``row_first[y] ..
    row_first[y + 1] - 1`` (:func:`.ccl.label_runs`); ``weights, shift = row_weights(sx)``."""
    register = np.uint64(0xFFFFFFFF)
    for y in range(sy):
        row_sum = np.uint64(0)
        for r in range(row_first[y], row_first[y + 1]):
            row_sum ^= run_term(labels[r], run_start[r], run_end[r], weights)
        register = next_row(register, shift, row_sum)
    return np.uint32(register) ^ np.uint32(0xFFFFFFFF)
