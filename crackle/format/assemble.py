"""Joining the sections of a format-v1 stream."""

import numpy as np

from .crc import crc32c
from .header import CrackleHeader


def assemble(head: CrackleHeader, labels_section: bytes, model, codes: list, lengths: np.ndarray,
             slice_crcs: np.ndarray) -> bytes:
    """A format-v1 stream: header, crack index, labels, Markov model, crack codes, checksums.

    Parameters
    ----------
    head : CrackleHeader
        Describes the stream; ``num_label_bytes`` and ``format_version`` are set here.
    labels_section : bytes-like
    model : bytes-like
        The Markov model (empty for order 0).
    codes : list of bytes-like
        The crack codes of every slice, in z order, in as many pieces as convenient.
    lengths : array
        Crack code length of every slice (sum equals the pieces' total).
    slice_crcs : array
        crc32c of every slice's component ids.
    """
    head.format_version = 1
    head.num_label_bytes = len(labels_section)
    if head.voxels() == 0:
        return head.tobytes()
    index = np.ascontiguousarray(lengths, dtype="<u4")
    return b"".join(
        [
            head.tobytes(),
            memoryview(index).cast("B"),
            crc32c(index).to_bytes(4, "little"),
            labels_section,
            memoryview(model).cast("B"),
            *(memoryview(c).cast("B") for c in codes),
            crc32c(labels_section).to_bytes(4, "little"),
            memoryview(np.ascontiguousarray(slice_crcs, dtype="<u4")).cast("B"),
        ]
    )
