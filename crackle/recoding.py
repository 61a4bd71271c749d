"""Re-encoding crack codes: another Markov model, or another crack format.

A Markov model is changed without decoding the voxels: each slice's moves are
read back to plain 2-bit form (as the encoder first writes them), statistics
are gathered over all of them and they are coded again. Changing the crack
format (boundaries <-> connections) needs the slices themselves, so a stream
is decoded for that, one stream at a time.
"""

import numpy as np

from . import codec
from .encoder import compress_as, final_codes, markov_model
from .errors import FormatError
from .format.assemble import assemble
from .format.header import MAX_MARKOV_ORDER, CrackFormat
from .format.stream import StreamView
from .kernels import status
from .kernels.recode import to_plain
from .operations import copy_header


def _plain_block(view: StreamView) -> tuple:
    """``(codes, code_ends, ncodepoints)``: every slice's crack code with plain 2-bit moves."""
    head = view.header
    codes, offsets = view.crack_codes(0, head.sz)
    lengths = np.diff(offsets)
    out = np.empty(int(2 * lengths.sum() + lengths.size), dtype=np.uint8)
    ends = np.empty(head.sz, dtype=np.int64)
    ncodepoints = np.empty(head.sz, dtype=np.int64)
    code, z = to_plain(codes, offsets, head.sx, head.sy, head.markov_model_order, view.markov_table,
                       int(lengths.max(initial=0)), out, ends, ncodepoints)
    if code != status.OK:
        raise FormatError(f"crack code of slice z={z}: {status.MESSAGES[code]}")
    return out[: int(ends[-1]) if ends.size else 0], ends, ncodepoints


def _recoded(view: StreamView, block: tuple, order: int, markov) -> bytes:
    head = copy_header(view.header)
    head.markov_model_order = order
    codes, lengths = final_codes([block], order, markov)
    return assemble(head, view.labels_bytes, markov[2] if order else b"", codes, lengths,
                    codec.slice_checksums(view))


def _check_order(order) -> int:
    if not (isinstance(order, (int, np.integer)) and 0 <= order <= MAX_MARKOV_ORDER):
        raise ValueError(f"markov_model_order must be an integer from 0 to {MAX_MARKOV_ORDER}, got {order!r}")
    return int(order)


def reencode(binary, markov_model_order: int, parallel: int = 0) -> bytes:
    """The stream with its crack codes coded under a Markov model of ``markov_model_order`` (0:
    plain 2-bit moves), built from its own moves; the voxels are not decoded.

    A FLAT stream re-encoded this way is byte-identical to compressing its
    array with that order.
    """
    order = _check_order(markov_model_order)
    view = codec.stream_view(binary)
    if view.header.voxels() == 0:
        return bytes(view.read(0, view.size))
    block = _plain_block(view)
    order = order if block[2].any() else 0
    return _recoded(view, block, order, markov_model([block], order) if order else None)


def reencode_like(views: list) -> list:
    """The streams with their crack codes written alike: the first one's crack format, and one
    Markov model (of the highest order among them) built from all of their moves."""
    permissible = views[0].header.crack_format == CrackFormat.PERMISSIBLE
    same_format = []
    for view in views:
        if view.header.crack_format != views[0].header.crack_format:
            view = codec.stream_view(compress_as(codec.decompress(view), permissible))
        same_format.append(view)
    blocks = [_plain_block(view) for view in same_format]
    order = max(view.header.markov_model_order for view in views)
    order = order if any(block[2].any() for block in blocks) else 0
    markov = markov_model(blocks, order) if order else None
    return [codec.stream_view(_recoded(view, block, order, markov)) for view, block in zip(same_format, blocks)]
