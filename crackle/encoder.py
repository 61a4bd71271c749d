"""Compression: check the input, encode slices in parallel, assemble a format-v1 stream.

Slices are encoded by a nogil Numba kernel on a thread pool, a block of
slices per task: each slice's output size is only known once it is encoded,
so tasks return their own arrays, which are written in z order into one
output buffer (Markov coding writes there directly). For PINS labels the pin
search runs on another thread meanwhile. FLAT streams are byte-identical to
crackle-codec's for the same input and options.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np

from .format.assemble import assemble
from .format.header import (
    MAX_MARKOV_ORDER, CrackFormat, CrackleHeader, LabelFormat, byte_width, unsigned_dtype,
)
from .format.label_writer import flat_section, pins_section
from .inputs import as_fortran, label_array, z_runs
from .kernels.encode import block_connectivity, count_equal, count_equal_z_runs, zfast_connectivity
from .kernels.markov import DENSE_CONTEXTS, count_contexts, encode_markov, rank_symbols
from .kernels.pin_search import improve_cover, pin_crossings, place_pins, run_ends, select_cover
from .slice_encoder import encode_slices
from .threads import map_blocks, thread_count

_BLOCK_BYTES = 64 << 20  # largest block of a volume not in Fortran order (read in z runs, or copied)
_CONN_BYTES = 1 << 20  # connectivity bitsets of a block of slices (a slice's may be larger)
_PIN_CHUNK = 64  # slices per step of the pin search
_PIN_LOOKAHEAD = 32  # slices below a step that its look-ahead reads


def _volume(labels) -> tuple:
    """The input as a 3-D array (x, y, z) and its header Fortran flag; checks dtype and rank."""
    arr = label_array(labels)
    fortran = bool(arr.flags.f_contiguous)
    shape = arr.shape + (1,) * (3 - arr.ndim)
    return arr.reshape(shape, order="F" if fortran else "C"), fortran


def count_pairs(arr, threads: int = 1) -> int:
    """Equal consecutive voxels in Fortran order, which decides the crack format."""
    sx, sy, sz = arr.shape
    if not arr.size:
        return 0
    if arr.flags.f_contiguous or arr.flags.c_contiguous:
        # Consecutive in memory; or x neighbours a y-z plane apart.
        flat, ahead = (arr.reshape(-1, order="F"), 1) if arr.flags.f_contiguous else (arr.reshape(-1), sy * sz)
        n = flat.size - ahead

        def count(part: int) -> int:
            first, last = n * part // threads, n * (part + 1) // threads
            return int(count_equal(flat[first + ahead : last + ahead], flat[first:last]))
    else:
        runs = z_runs(arr)
        if runs is None:
            return _count_pairs_by_blocks(arr)
        (flat, (x_step, y_step, _)), n = runs, sx - 1  # a C-order volume's slab: compared along z runs

        def count(part: int) -> int:
            return int(count_equal_z_runs(flat, x_step, y_step, n * part // threads, n * (part + 1) // threads, sy, sz))
    pairs = sum(map_blocks(count, threads, threads))
    if arr.flags.f_contiguous:
        return pairs
    # The pairs across rows and slices: (sx - 1, y, z) and (0, y + 1, z); (sx - 1, sy - 1, z) and (0, 0, z + 1).
    pairs += int(np.count_nonzero(arr[-1, :-1] == arr[0, 1:]))
    return pairs + int(np.count_nonzero(arr[-1, -1, :-1] == arr[0, 0, 1:]))


def _count_pairs_by_blocks(arr) -> int:
    """:func:`count_pairs` of an array in any other layout, by numpy comparisons a block at a time."""
    sx, sy, sz = arr.shape
    pairs = 0
    step = max(1, _BLOCK_BYTES // max(1, sx * sy * arr.itemsize))
    for z0 in range(0, sz, step):
        block = arr[:, :, z0 : z0 + step]
        pairs += int(np.count_nonzero(block[1:] == block[:-1]))
        pairs += int(np.count_nonzero(block[-1, :-1] == block[0, 1:]))
        pairs += int(np.count_nonzero(block[-1, -1, :-1] == block[0, 0, 1:]))
        if z0:
            pairs += int(arr[-1, -1, z0 - 1] == arr[0, 0, z0])
    return pairs


def _encode_all(arr, permissible: bool, threads: int) -> list:
    """Encode every slice; returns the per-block results of :func:`encode_slices` in z order."""
    sx, sy, sz = arr.shape
    nwords = sx // 64 + 1
    conn_words = (2 * sy + 1) * nwords
    step = max(1, min(-(-sz // (8 * threads)), _CONN_BYTES // (8 * conn_words)))
    if not arr.flags.f_contiguous:  # deep blocks: long z runs to compare, or to copy in Fortran order
        step = max(1, min(max(step, 256 // arr.itemsize), _BLOCK_BYTES // max(1, sx * sy * arr.itemsize)))

    def encode(z0):
        block = arr[:, :, z0 : z0 + step]
        nz = block.shape[2]
        conn = np.empty(nz * conn_words, dtype=np.uint64)
        runs = None if block.flags.f_contiguous else z_runs(block)
        if runs is None:
            block = as_fortran(block)
            flat, steps = block.reshape(-1, order="F"), (1, sx, sx * sy)
            block_connectivity(flat, 0, sx, sy, nz, conn)
        else:
            flat, steps = runs
            zfast_connectivity(flat, steps[0], steps[1], sx, sy, nz, conn.view(np.uint8), nwords)
        codes, code_ends, ncodepoints, counts, voxels, crcs = encode_slices(conn, sx, sy, nz, permissible, steps)
        return codes, code_ends, ncodepoints, counts, flat[voxels], crcs

    return map_blocks(lambda b: encode(b * step), -(-sz // step), threads)


def _payload_starts(codes: np.ndarray, code_ends: np.ndarray) -> tuple:
    """Start of each slice's crack code and of its moves (after the u32 size and the chain-start index)."""
    code_starts = np.concatenate([[0], code_ends[:-1]]).astype(np.int64)
    index_sizes = codes[code_starts[:, None] + np.arange(4)].astype(np.int64) @ (256 ** np.arange(4))
    return code_starts, code_starts + 4 + index_sizes


def markov_model(blocks: list, order: int) -> tuple:
    """The Markov model of ``order`` for every slice's moves: ``(rank table, hash keys, model bytes)``."""
    symbols = sum(int(b[2].sum()) for b in blocks)
    if 4**order <= DENSE_CONTEXTS:
        keys = np.empty(0, dtype=np.int64)
    else:
        keys = np.full(1 << (2 * symbols + 1).bit_length(), -1, dtype=np.int64)
    counts = np.zeros((4**order if keys.size == 0 else keys.size, 4), dtype=np.int64)
    for codes, code_ends, ncodepoints, *_ in blocks:
        count_contexts(codes, _payload_starts(codes, code_ends)[1], ncodepoints, order, keys, counts)
    rank_of, model = rank_symbols(counts, keys, order)
    return rank_of, keys, model


def final_codes(blocks: list, order: int, markov) -> tuple:
    """Each block's crack codes as stored: as encoded (order 0) or Markov-coded block by block.

    Releases each block's plain codes once coded, so plain and coded moves are
    never all held at once. Returns ``(list of code arrays, length of each slice's code)``.
    """
    coded, lengths = [], []
    for b, (codes, code_ends, ncodepoints, *_) in enumerate(blocks):
        if not order:
            coded.append(codes)
            lengths.append(np.diff(code_ends, prepend=0))
            continue
        rank_of, keys, _ = markov
        code_starts, payload_starts = _payload_starts(codes, code_ends)
        out = np.empty(codes.size + (int(ncodepoints.sum()) + 7) // 8 + 8, dtype=np.uint8)
        at = 0
        ends = np.empty(code_ends.size, dtype=np.int64)
        for z in range(code_ends.size):
            head = codes[code_starts[z] : payload_starts[z]]
            out[at : at + head.size] = head
            at = encode_markov(codes, int(payload_starts[z]), int(ncodepoints[z]), rank_of, keys, order, out,
                               at + head.size)
            ends[z] = at
        blocks[b] = None
        coded.append(out[:at].copy())
        lengths.append(np.diff(ends, prepend=0))
    return coded, np.concatenate(lengths)


def compress(
    labels: np.ndarray,
    allow_pins: int = 0,
    markov_model_order: int = 0,
    bgcolor: Optional[int] = None,
    parallel: int = 0,
) -> bytes:
    """Compress a 2-D or 3-D integer array into a Crackle stream (format v1).

    Parameters
    ----------
    labels : numpy.ndarray
        Integer (or bool) labels, 0 to 3 dimensions, any memory order. 2-D
        input is stored as (sx, sy, 1). Trailing axes of length 1 beyond the
        third are dropped (cloud-volume's (x, y, z, 1) cutouts). Float arrays
        are converted by value when every value is an integer that fits
        (uint64, or int64 if one is negative); crackle-codec reinterprets
        their bits instead.
    allow_pins : int or bool
        0: FLAT labels. 1 or 2: PINS labels where the volume is boundary-sparse.
    markov_model_order : int
        0 for plain 2-bit moves, 1-15 for a Markov model of that order.
    bgcolor : int, optional
        Background colour for PINS labels (chosen automatically if None).
    parallel : int
        Threads to use; 0 means all cores.

    Returns
    -------
    bytes
        The stream; it decodes (here and with crackle-codec) to ``labels``.

    Raises
    ------
    ValueError
        Non-integer dtype (or a float value that is not an integer), an axis
        longer than 1 beyond the third, Markov order outside 0-15.
    """
    arr, fortran = _volume(labels)
    check_options(allow_pins, markov_model_order)
    threads = thread_count(parallel)
    unsigned = arr.view(unsigned_dtype(arr.dtype.itemsize))
    permissible = arr.size > 0 and count_pairs(unsigned, threads) < arr.size // 2
    return _encode(arr, fortran, permissible, allow_pins, markov_model_order, bgcolor, threads)


def compress_as(labels: np.ndarray, permissible: bool, allow_pins: int = 0, markov_model_order: int = 0,
                bgcolor: Optional[int] = None, parallel: int = 0, fortran: Optional[bool] = None) -> bytes:
    """:func:`compress` with the crack format given (PERMISSIBLE if ``permissible``) instead of
    chosen from the array's equal neighbours (see :func:`count_pairs`), and the header's memory
    order given by ``fortran`` (None: the array's, as ``compress`` takes it)."""
    arr, is_fortran = _volume(labels)
    check_options(allow_pins, markov_model_order)
    fortran = is_fortran if fortran is None else bool(fortran)
    return _encode(arr, fortran, permissible, allow_pins, markov_model_order, bgcolor, thread_count(parallel))


def check_options(allow_pins, markov_model_order) -> None:
    """ValueError unless ``allow_pins`` is 0, 1 or 2 and ``markov_model_order`` 0 to 15."""
    if not (isinstance(markov_model_order, (int, np.integer)) and 0 <= markov_model_order <= MAX_MARKOV_ORDER):
        raise ValueError(f"markov_model_order must be an integer from 0 to {MAX_MARKOV_ORDER}, got {markov_model_order!r}")
    if allow_pins not in (0, 1, 2):
        raise ValueError(f"allow_pins must be 0, 1 or 2 (or a bool), got {allow_pins!r}")


def _encode(arr: np.ndarray, fortran: bool, permissible: bool, allow_pins, markov_model_order, bgcolor,
            threads: int) -> bytes:
    dtype = arr.dtype
    signed = dtype.kind == "i"
    sx, sy, sz = arr.shape
    head = CrackleHeader(
        label_format=LabelFormat.FLAT, crack_format=CrackFormat.IMPERMISSIBLE, data_width=dtype.itemsize,
        stored_data_width=1, sx=sx, sy=sy, sz=sz, num_label_bytes=0, fortran_order=fortran,
        grid_size=2**31, signed=signed, markov_model_order=0, is_sorted=True, is_remapped=False,
    )
    if arr.size == 0:
        return head.tobytes()

    unsigned = arr.view(unsigned_dtype(dtype.itemsize))
    pins = bool(allow_pins) and not permissible and not signed and sz > 1 and arr.size <= 0xFFFFFFFF
    with ThreadPoolExecutor(max_workers=1) as side:
        search = side.submit(_search_pins, unsigned) if pins else None
        blocks = _encode_all(unsigned, permissible, threads)
        search = search.result() if pins else None

    ncodepoints = np.concatenate([b[2] for b in blocks])
    counts = np.concatenate([b[3] for b in blocks])
    values = np.concatenate([b[4] for b in blocks]).view(dtype)
    slice_crcs = np.concatenate([b[5] for b in blocks])

    order = int(markov_model_order) if ncodepoints.any() else 0
    markov = markov_model(blocks, order) if order else None
    model = markov[2] if order else np.zeros(0, dtype=np.uint8)

    head.crack_format = CrackFormat.PERMISSIBLE if permissible else CrackFormat.IMPERMISSIBLE
    head.markov_model_order = order
    labels_section = flat_section(values, counts, head)
    if pins:
        pins_section = _pin_labels(search, values, counts, bgcolor, head)
        if len(pins_section) < len(labels_section):
            labels_section = pins_section
            head.label_format = LabelFormat.PINS_VARIABLE_WIDTH
    coded, lengths = final_codes(blocks, order, markov)
    del blocks
    return assemble(head, labels_section, model, coded, lengths, slice_crcs)


def _search_pins(arr) -> tuple:
    """Find candidate pins over the whole volume, a chunk of slices at a time, and list what each crosses.

    Returns ``(first, last, column, values, offsets, crossed)``: each
    candidate's slice range (extended up to the start of its label run),
    column and label, and the components it crosses (ids within their slice),
    candidate k's in ``crossed[offsets[k] : offsets[k + 1]]``, one per slice.
    """
    sx, sy, sz = arr.shape
    pixels = sx * sy
    end = np.empty(pixels, dtype=np.int32)
    top = np.empty(pixels, dtype=np.int64)
    owner = np.full(pixels, -1, dtype=np.int64)
    active = np.empty((pixels, 2), dtype=np.int64)
    pins = np.empty((max(1024, pixels // 16), 5), dtype=np.int64)
    values = np.empty(pins.shape[0], dtype=arr.dtype)
    counters = np.zeros(2, dtype=np.int64)
    for z0 in range(0, sz, _PIN_CHUNK):
        z1 = min(sz, z0 + _PIN_CHUNK)
        cap = min(sz, z1 + _PIN_LOOKAHEAD)
        low = max(0, z0 - 1)
        flat = as_fortran(arr[:, :, low:cap]).reshape(-1, order="F")
        ptr, ends = run_ends(flat, sx, sy, z0 - low, z1 - low, cap - low)
        ends += np.int32(low)
        z = z0 - low
        while z < z1 - low:
            z, needed = place_pins(flat, sx, sy, z, z1 - low, low + z, ptr, z0 - low, ends, end, top, owner,
                                   active, pins, values, counters)
            if needed:
                room = max(needed, pins.shape[0] * 3 // 2)
                pins = np.concatenate([pins, np.empty((room - pins.shape[0], 5), dtype=np.int64)])
                values = np.concatenate([values, np.empty(room - values.size, dtype=values.dtype)])
    n = int(counters[0])
    spans = pins[:n, [3, 2, 0]]  # copies only the live rows: the growth slack is freed here
    values = values[:n].copy()
    del pins
    spans[spans[:, 1] < 0, 1] = sz - 1

    offsets = np.concatenate([[0], np.cumsum(spans[:, 1] - spans[:, 0] + 1)]).astype(np.int64)
    crossed = np.empty(int(offsets[-1]), dtype=np.int64)
    by_first = np.argsort(spans[:, 0], kind="stable")
    state = np.zeros(n + 2, dtype=np.int64)
    for z0 in range(0, sz, _PIN_CHUNK):
        z1 = min(sz, z0 + _PIN_CHUNK)
        flat = as_fortran(arr[:, :, z0:z1]).reshape(-1, order="F")
        pin_crossings(flat, sx, sy, 0, z1 - z0, z0, spans, by_first, offsets, crossed, state)
    return spans[:, 0].copy(), spans[:, 1].copy(), spans[:, 2].copy(), values, offsets, crossed


def _pin_labels(search: tuple, values: np.ndarray, counts: np.ndarray, bgcolor, head: CrackleHeader) -> bytes:
    """Condensed PINS labels section for an unsigned volume, from the candidates of :func:`_search_pins`
    (``values``: every component's label, slice by slice).

    The background is ``bgcolor`` or else the label whose records would cost
    the most. Sets ``head.stored_data_width``.
    """
    total = int(counts.sum())
    index_width = head.pin_index_width()
    cc_width = byte_width(total)
    first, last, column, pin_values, offsets, crossed = search
    # Component ids within their slice -> global ids.
    component_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    crossed = crossed + component_offsets[np.arange(crossed.size) + np.repeat(first - offsets[:-1], np.diff(offsets))]

    # Choose among the candidates, then improve the cover they make.
    pin_bytes = index_width + byte_width(int((last - first).max(initial=0)))
    chosen = np.flatnonzero(select_cover(offsets, crossed, total, pin_bytes, cc_width))
    lengths = offsets[chosen + 1] - offsets[chosen]
    chosen_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    crossed = crossed[np.arange(int(chosen_offsets[-1])) + np.repeat(offsets[chosen] - chosen_offsets[:-1], lengths)]
    offsets = chosen_offsets
    first, last, column, pin_values = first[chosen], last[chosen], column[chosen], pin_values[chosen]

    multiplicity = np.bincount(crossed, minlength=total).astype(np.int64)
    unclaimed = np.flatnonzero(multiplicity == 0)
    multiplicity[unclaimed] = 1
    listed = np.full(crossed.size, -1, dtype=np.int64)
    improve_cover(offsets, crossed, np.argsort(last - first, kind="stable"), multiplicity, pin_bytes, cc_width,
                  first, last, listed)
    cc_ids = np.concatenate([unclaimed, listed[listed >= 0]])
    cc_values = values[cc_ids]
    kept = last >= first
    pin_values, depth = pin_values[kept], (last - first)[kept]
    pin_index = column[kept] + head.sx * head.sy * first[kept]
    depth_width = byte_width(int(depth.max(initial=0)))

    labels = np.unique(values)
    pin_owner = np.searchsorted(labels, pin_values)
    cc_owner = np.searchsorted(labels, cc_values)
    cost = (np.bincount(pin_owner, minlength=labels.size) * (index_width + depth_width)
            + np.bincount(cc_owner, minlength=labels.size) * cc_width)
    if bgcolor is None:
        background = labels[int(np.argmax(cost))]
    else:
        if not 0 <= int(bgcolor) <= np.iinfo(values.dtype).max:
            raise ValueError(f"bgcolor {bgcolor} does not fit dtype {values.dtype}")
        background = values.dtype.type(bgcolor)
    foreground = labels[labels != background]

    pin_keep = pin_values != background
    cc_keep = cc_values != background
    return pins_section(
        background, foreground,
        (np.searchsorted(foreground, pin_values[pin_keep]), pin_index[pin_keep], depth[pin_keep]),
        (np.searchsorted(foreground, cc_values[cc_keep]), cc_ids[cc_keep]),
        counts, head,
    )
