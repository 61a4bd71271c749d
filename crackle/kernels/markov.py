"""Markov (finite-context) coding of crack-code moves.

A model of order k ranks the four difference-coded symbols for each of the
4**k contexts (the k previous symbols, the most recent as the most
significant base-4 digit). A slice's payload stores its first symbol in two
bits, then each symbol's rank as a prefix code: 0 -> ``0``, 1 -> ``10``,
2 -> ``110``, 3 -> ``111`` (bits least significant first). The model is stored
once per stream, each context's ranking as a 5-bit index into the
lexicographic list of permutations of (0, 1, 2, 3).
"""

import numpy as np

from . import status
from .integers import read_uint
from .jit import kernel

# Prefix code of Markov ranks, looked up by the next three payload bits
# (stream order, least significant first): 0 -> rank 0, 10 -> 1, 110 -> 2, 111 -> 3.
_RANK = np.array([0, 1, 0, 2, 0, 1, 0, 3], dtype=np.uint8)
_RANK_BITS = np.array([1, 2, 1, 3, 1, 2, 1, 3], dtype=np.uint8)

# Every permutation of (0, 1, 2, 3) in lexicographic order, as stored model entries index them.
_PERMUTATIONS = np.array(
    [
        [a, b, c, d]
        for a in range(4)
        for b in range(4)
        for c in range(4)
        for d in range(4)
        if len({a, b, c, d}) == 4
    ],
    dtype=np.uint8,
)


@kernel
def parse_markov_model(model_bytes, order):
    """Unpack a stored Markov model into a ``[context * 4 + rank] -> symbol`` table.

    Returns ``(table, status)``; ``model_bytes`` must hold ceil(5 * 4**order / 8) bytes.
    """
    ncontexts = 4**order
    table = np.empty(ncontexts * 4, dtype=np.uint8)
    for ctx in range(ncontexts):
        bit = 5 * ctx
        index = 0
        for k in range(5):
            b = bit + k
            index |= ((model_bytes[b >> 3] >> (b & 7)) & 1) << k
        if index >= 24:
            return table, status.BAD_PERMUTATION
        for r in range(4):
            table[ctx * 4 + r] = _PERMUTATIONS[index, r]
    return table, status.OK


@kernel(internal=True)
def read_moves_markov(buf, start, end, table, order, moves):
    """Decode a Markov-coded payload into moves (differences undone).

    The first symbol is stored raw in 2 bits; each later one as the prefix code
    of its rank under the context of the ``order`` previous symbols (the most
    recent is the most significant base-4 digit). ``moves`` needs capacity
    ``8 * (end - start)``; returns the number written. Trailing padding
    decodes as extra symbols, which chain walking ignores.
    """
    nbits = (end - start) * 8
    if nbits < 2:
        return 0
    bitbuf = np.uint64(0)
    have = 0
    nextbyte = start
    while have <= 56 and nextbyte < end:
        bitbuf |= np.uint64(buf[nextbyte]) << np.uint64(have)
        have += 8
        nextbyte += 1
    acc = np.int64(bitbuf & np.uint64(3))
    bitbuf >>= np.uint64(2)
    have -= 2
    bit = 2
    moves[0] = acc
    n = 1
    shift = 2 * (order - 1)
    ctx = acc << shift
    while bit < nbits:
        while have <= 56 and nextbyte < end:
            bitbuf |= np.uint64(buf[nextbyte]) << np.uint64(have)
            have += 8
            nextbyte += 1
        peek = np.int64(bitbuf & np.uint64(7))
        length = np.int64(_RANK_BITS[peek])
        if length > nbits - bit:
            break
        bitbuf >>= np.uint64(length)
        have -= length
        bit += length
        sym = np.int64(table[ctx * 4 + _RANK[peek]])
        ctx = (ctx >> 2) | (sym << shift)
        acc = (acc + sym) & 3
        moves[n] = acc
        n += 1
    return n



@kernel
def markov_moves(buf, code_offsets, first, last, table, order, moved, move_ends):
    """Decode the Markov-coded moves of slices ``first .. last - 1`` (slice i's crack code spans
    ``code_offsets[i] : code_offsets[i + 1]`` of ``buf``, its moves follow its chain-start index):
    slice ``first + k``'s go to ``moved[move_ends[k] : move_ends[k + 1]]``. ``moved`` needs 8 items
    per code byte. A slice whose index overruns its code gets none (its decoding reports it)."""
    at = 0
    move_ends[0] = 0
    for i in range(first, last):
        start, end = code_offsets[i], code_offsets[i + 1]
        if end - start >= 4:
            size = read_uint(buf, start, np.int64(4))
            if size <= np.uint64(end - start - 4):
                at += read_moves_markov(buf, start + 4 + np.int64(size), end, table, order, moved[at:])
        move_ends[i - first + 1] = at


# Up to this many contexts, statistics live in a table indexed by context; beyond it (orders 11-15)
# in a hash table sized by the number of symbols, since most of the 4**order contexts never occur.
DENSE_CONTEXTS = 4**10
_UNSEEN = 23  # permutation index of the ranking (3, 2, 1, 0) that a context without counts gets


@kernel(internal=True)
def _symbol(codes, start, i):
    return (codes[start + (i >> 2)] >> (2 * (i & 3))) & 3


@kernel(internal=True)
def _slot(keys, context, insert):
    """Row of ``context``: itself for a dense table (``keys`` empty), else its hash slot (-1 if absent)."""
    if keys.size == 0:
        return context
    mask = keys.size - 1
    h = ((context * np.int64(0x9E3779B97F4A7C15)) >> np.int64(20)) & mask
    while keys[h] != context:
        if keys[h] == -1:
            if not insert:
                return -1
            keys[h] = context
            return h
        h = (h + 1) & mask
    return h


@kernel
def count_contexts(codes, payload_starts, ncodepoints, order, keys, counts):
    """Add the occurrences of each symbol in each context over slices' 2-bit packed payloads to ``counts``.

    Slice z's ``ncodepoints[z]`` symbols start at ``codes[payload_starts[z]]``;
    its first symbol counts under context 0. ``keys`` is empty for a dense
    table (``counts`` has 4**order rows), else a hash table of -1 (power-of-two
    size, more than twice the number of symbols, as ``counts``) that this fills.
    """
    shift = 2 * (order - 1)
    for z in range(ncodepoints.size):
        ctx = np.int64(0)
        for i in range(ncodepoints[z]):
            symbol = _symbol(codes, payload_starts[z], i)
            counts[_slot(keys, ctx, np.bool_(True)), symbol] += 1
            ctx = (ctx >> 2) | (np.int64(symbol) << shift)


@kernel
def rank_symbols(counts, keys, order):
    """Per context, each symbol's rank (most frequent first, ties to the larger symbol) and the
    stored model bytes. Returns ``(rank_of, model)``, ``rank_of`` indexed like ``counts``."""
    ncontexts = 4**order
    rows = counts.shape[0]
    rank_of = np.empty((rows, 4), dtype=np.uint8)
    model = np.zeros((5 * ncontexts + 7) // 8, dtype=np.uint8)
    if keys.size:
        # Contexts that never occur rank (3, 2, 1, 0): 40 bits hold eight such entries.
        pattern = np.zeros(5, dtype=np.uint8)
        for e in range(8):
            for k in range(5):
                if (_UNSEEN >> k) & 1:
                    bit = 5 * e + k
                    pattern[bit >> 3] |= 1 << (bit & 7)
        for b in range(model.size):
            model[b] = pattern[b % 5]
    order_ = np.empty(4, dtype=np.int64)
    for row in range(rows):
        if keys.size and keys[row] == -1:
            continue
        ctx = row if keys.size == 0 else keys[row]
        for s in range(4):
            order_[s] = 3 - s
        for i in range(1, 4):
            j = i
            while j > 0 and counts[row, order_[j]] > counts[row, order_[j - 1]]:
                order_[j], order_[j - 1] = order_[j - 1], order_[j]
                j -= 1
        for r in range(4):
            rank_of[row, order_[r]] = r
        index = 0
        for p in range(24):
            if (_PERMUTATIONS[p, 0] == order_[0] and _PERMUTATIONS[p, 1] == order_[1]
                    and _PERMUTATIONS[p, 2] == order_[2]):
                index = p
                break
        for k in range(5):
            bit = 5 * ctx + k
            if (index >> k) & 1:
                model[bit >> 3] |= 1 << (bit & 7)
            else:
                model[bit >> 3] &= ~(1 << (bit & 7))
    return rank_of, model


@kernel
def encode_markov(codes, start, n, rank_of, keys, order, out, pos):
    """Markov-code the ``n`` packed symbols at ``codes[start]`` into ``out[pos:]``; returns the end offset."""
    if n == 0:
        return pos
    shift = 2 * (order - 1)
    first = _symbol(codes, start, np.int64(0))
    acc = np.uint64(first)
    nbits = 2
    ctx = np.int64(first) << shift
    for i in range(1, n):
        symbol = _symbol(codes, start, i)
        rank = rank_of[_slot(keys, ctx, np.bool_(False)), symbol]
        # rank 0 -> 0, 1 -> 1 0, 2 -> 1 1 0, 3 -> 1 1 1 (first bit least significant)
        code = (np.uint64(1) << np.uint64(rank)) - np.uint64(1)
        length = rank + 1 if rank < 3 else 3
        acc |= code << np.uint64(nbits)
        nbits += length
        while nbits >= 8:
            out[pos] = acc & np.uint64(0xFF)
            pos += 1
            acc >>= np.uint64(8)
            nbits -= 8
        ctx = (ctx >> 2) | (np.int64(symbol) << shift)
    if nbits > 0:
        out[pos] = acc & np.uint64(0xFF)
        pos += 1
    return pos
