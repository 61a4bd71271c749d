"""Crackle: compression of 3D dense segmentations, format-compatible with crackle-codec.

The public API keeps crackle-codec's names, signatures and defaults. Every
function that takes a stream accepts a bytes-like object or a CrackleArray.
"""

from .array import CrackleArray
from .codec import (
    contains,
    contains_range,
    decompress,
    header,
    labels,
    labels_for_z_range,
    max,
    min,
    nbytes,
    num_labels,
)
from .encoder import compress
from .errors import ChecksumError, FormatError
from .format.header import CrackFormat, CrackleHeader, LabelFormat

__version__ = "0.1.0"

__all__ = [
    "ChecksumError",
    "CrackFormat",
    "CrackleArray",
    "CrackleHeader",
    "FormatError",
    "LabelFormat",
    "compress",
    "contains",
    "contains_range",
    "decompress",
    "header",
    "labels",
    "labels_for_z_range",
    "max",
    "min",
    "nbytes",
    "num_labels",
]
