"""Where each section of a stream lies, from the header and the crack index alone (pure).

v1 stream: header | crack index (4 bytes per slice + crc32c) | labels | Markov
model | crack codes | crc32c(labels) | crc32c of each slice's components.
v0 has a 24-byte header, no index crc32c and no trailing checksums.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import ChecksumError, FormatError
from .crc import crc32c
from .header import CrackleHeader


@dataclass(frozen=True)
class Layout:
    """Byte offsets of every section of one stream.

    Attributes
    ----------
    header : CrackleHeader
    code_offsets : int64 array of sz + 1 entries
        Slice z's crack code spans ``code_offsets[z] : code_offsets[z + 1]``.
    """

    header: CrackleHeader
    code_offsets: np.ndarray

    @classmethod
    def from_index(cls, header: CrackleHeader, index_bytes, verify: bool = True) -> "Layout":
        """Build the layout from the crack index bytes that follow the header.

        ``index_bytes`` holds at least ``header.grid_index_bytes`` bytes; in v1
        its crc32c is checked when ``verify`` is set.
        """
        index = np.frombuffer(index_bytes, dtype=np.uint8, count=header.grid_index_bytes)
        lengths = index[: 4 * header.sz].view("<u4").astype(np.int64)
        if header.format_version == 1 and verify:
            stored = int(index[4 * header.sz :].view("<u4")[0])
            computed = crc32c(index[: 4 * header.sz])
            if stored != computed:
                raise ChecksumError(
                    f"crack index crc32c mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
        offsets = np.empty(header.sz + 1, dtype=np.int64)
        offsets[0] = header.header_bytes + header.grid_index_bytes + header.num_label_bytes
        offsets[0] += header.num_markov_model_bytes
        np.cumsum(lengths, out=offsets[1:])
        offsets[1:] += offsets[0]
        return cls(header, offsets)

    @classmethod
    def empty(cls, header: CrackleHeader) -> "Layout":
        """Layout of a zero-voxel stream, which is a bare header."""
        return cls(header, np.full(1, header.header_bytes, dtype=np.int64))

    @property
    def labels_offset(self) -> int:
        """Start of the labels section."""
        return self.header.header_bytes + self.header.grid_index_bytes

    @property
    def model_offset(self) -> int:
        """Start of the Markov model (zero length without one)."""
        return self.labels_offset + self.header.num_label_bytes

    @property
    def codes_end(self) -> int:
        """End of the last slice's crack code."""
        return int(self.code_offsets[-1])

    @property
    def labels_crc_offset(self) -> int:
        """Offset of the labels crc32c (v1)."""
        return self.codes_end

    def slice_ranges(self, z_start: int, z_end: int) -> list:
        """``[(start, stop)]``: the bytes past the labels section and Markov model that decoding slices
        ``z_start .. z_end - 1`` reads: their crack codes and, in v1, the labels crc32c and the
        slices' crc32cs (one range, from the labels crc32c through slice ``z_end - 1``'s)."""
        ranges = [(int(self.code_offsets[z_start]), int(self.code_offsets[z_end]))]
        if self.header.format_version == 1:
            ranges.append((self.labels_crc_offset, self.slice_crcs_offset + 4 * z_end))
        return ranges

    @property
    def slice_crcs_offset(self) -> int:
        """Offset of the per-slice crc32c array (v1)."""
        return self.codes_end + 4

    @property
    def total_bytes(self) -> int:
        """Length of the whole stream."""
        if self.header.voxels() == 0:
            return self.header.header_bytes
        trailer = 0 if self.header.format_version == 0 else 4 + 4 * self.header.sz
        return self.codes_end + trailer

    def check_length(self, nbytes: int) -> None:
        """Raise FormatError unless the stream is exactly as long as its sections say."""
        if nbytes != self.total_bytes:
            kind = "truncated" if nbytes < self.total_bytes else "has trailing bytes"
            raise FormatError(
                f"stream {kind}: header and crack index describe {self.total_bytes} bytes, found {nbytes}"
            )
