"""A parsed view of one stream: header, layout, labels, Markov model, checksums.

Each part is parsed on first use and kept, so repeated queries on the same
stream (as :class:`crackle.CrackleArray` makes) parse it once.
"""

from functools import cached_property

import numpy as np

from ..errors import ChecksumError, FormatError
from ..kernels import status
from ..kernels.markov import parse_markov_model
from .crc import crc32c
from .header import CrackleHeader
from .labels import read_labels, read_unique
from .layout import Layout


class StreamView:
    """Read-only structured access to a Crackle stream held in memory.

    Parameters
    ----------
    binary : bytes-like
        The whole stream. It is not copied.
    """

    def __init__(self, binary):
        self.buffer = np.frombuffer(binary, dtype=np.uint8)
        # One read-only type whatever the caller passed (bytes, bytearray, ...): one compiled kernel.
        self.buffer.flags.writeable = False
        self.header = CrackleHeader.frombytes(self.buffer)
        if self.header.nbytes >= 2**63:
            raise FormatError(
                f"header describes a {self.header.sx} x {self.header.sy} x {self.header.sz} volume of "
                f"{self.header.nbytes} bytes, more than any array can hold"
            )
        self._labels_crc_checked = False

    @cached_property
    def layout(self) -> Layout:
        """Section offsets; checks the crack index crc32c and the stream length."""
        head = self.header
        if head.voxels() == 0:
            layout = Layout.empty(head)
        else:
            index_end = head.header_bytes + head.grid_index_bytes
            if self.buffer.size < index_end:
                raise FormatError(
                    f"stream truncated: the crack index needs bytes up to {index_end}, found {self.buffer.size}"
                )
            layout = Layout.from_index(head, self.buffer[head.header_bytes : index_end])
        layout.check_length(self.buffer.size)
        return layout

    @property
    def labels_bytes(self) -> np.ndarray:
        """The raw labels section (located from the header alone; the crack index is not read)."""
        head = self.header
        start = head.header_bytes + head.grid_index_bytes
        end = start + head.num_label_bytes
        if end > self.buffer.size:
            raise FormatError(
                f"stream truncated: the labels section needs bytes up to {end}, found {self.buffer.size}"
            )
        return self.buffer[start:end]

    @cached_property
    def unique(self) -> tuple:
        """``(unique values, PINS background or None)`` from the start of the labels section."""
        values, background, _ = read_unique(self.labels_bytes, self.header)
        return values, background

    @cached_property
    def labels(self):
        """Parsed labels section (:class:`FlatLabels` or :class:`PinLabels`)."""
        return read_labels(self.labels_bytes, self.header)

    @cached_property
    def pin_records(self) -> tuple:
        """Parsed pin records of a PINS stream (see :meth:`PinLabels.parse_records`)."""
        return self.labels.parse_records()

    @cached_property
    def markov_table(self) -> np.ndarray:
        """The Markov model as a ``[context * 4 + rank] -> move`` table (empty for order 0)."""
        order = self.header.markov_model_order
        if order == 0:
            return np.zeros(4, dtype=np.uint8)
        start = self.layout.model_offset
        model = self.buffer[start : start + self.header.num_markov_model_bytes]
        table, code = parse_markov_model(model, order)
        if code != status.OK:
            raise FormatError(f"Markov model: {status.MESSAGES[code]}")
        return table

    def check_labels_crc(self) -> None:
        """Check the labels crc32c (v1), once per view; raises ChecksumError on mismatch."""
        if self._labels_crc_checked or self.header.format_version == 0 or self.header.voxels() == 0:
            return
        offset = self.layout.labels_crc_offset
        stored = int(self.buffer[offset : offset + 4].view("<u4")[0])
        computed = crc32c(self.labels_bytes)
        if stored != computed:
            raise ChecksumError(
                f"labels section crc32c mismatch: stored {stored:#010x}, computed {computed:#010x}"
            )
        self._labels_crc_checked = True

    def slice_crcs(self, z_start: int, z_end: int) -> np.ndarray:
        """Stored crc32c of the component ids of slices ``z_start .. z_end - 1`` (v1)."""
        offset = self.layout.slice_crcs_offset
        return self.buffer[offset + 4 * z_start : offset + 4 * z_end].view("<u4")
