"""Joining the sections of a format-v1 stream."""

import numpy as np

from .crc import crc32c
from .header import CrackleHeader


def assemble(head: CrackleHeader, labels_section: bytes, model, codes, lengths: np.ndarray,
             slice_crcs: np.ndarray) -> bytes:
    """A format-v1 stream: header, crack index, labels, Markov model, crack codes, checksums.

    Parameters
    ----------
    head : CrackleHeader
        Describes the stream; ``num_label_bytes`` and ``format_version`` are set here.
    labels_section : bytes-like
    model : bytes-like
        The Markov model (empty for order 0).
    codes : iterable of bytes-like
        The crack codes of every slice, in z order, in as many pieces as convenient.
    lengths : array
        Crack code length of every slice (sum equals the pieces' total).
    slice_crcs : array
        crc32c of every slice's component ids.
    """
    return b"".join(assembled_parts(head, labels_section, model, codes, lengths, slice_crcs))


def assembled_parts(head: CrackleHeader, labels_section: bytes, model, codes, lengths: np.ndarray,
                    slice_crcs: np.ndarray):
    """The pieces of :func:`assemble`'s stream, in order, as an iterator of bytes-like objects.

    ``codes`` is consumed lazily, so a stream can be written piece by piece
    with its crack codes read (or made) one part at a time.
    """
    head.format_version = 1
    head.num_label_bytes = len(labels_section)
    yield head.tobytes()
    if head.voxels() == 0:
        return
    index = np.ascontiguousarray(lengths, dtype="<u4")
    yield from (memoryview(index).cast("B"), crc32c(index).to_bytes(4, "little"), labels_section,
                memoryview(model).cast("B"))
    total = 0
    for piece in codes:
        piece = memoryview(piece).cast("B")
        total += piece.nbytes
        yield piece
    if total != int(index.sum(dtype=np.int64)):
        raise ValueError(f"the crack codes hold {total} bytes but the index says {int(index.sum())}")
    yield crc32c(labels_section).to_bytes(4, "little")
    yield memoryview(np.ascontiguousarray(slice_crcs, dtype="<u4")).cast("B")
