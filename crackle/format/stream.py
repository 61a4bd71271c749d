"""A parsed view of one stream: header, layout, labels, Markov model, crack codes, checksums.

:class:`StreamView` knows which bytes each part needs and parses them on
first use, keeping the result, so repeated queries on the same stream (as
:class:`crackle.CrackleArray` makes) parse it once. Where the bytes come from
is a subclass's business: :class:`MemoryStream` holds the whole stream,
:class:`PrefetchedStream` the ranges fetched for a task (the zarr codec's
partial reads); ``crackle_dask`` reads only the byte ranges it needs from any
fsspec store.
"""

from functools import cached_property

import numpy as np

from ..errors import ChecksumError, FormatError
from ..kernels import status
from ..kernels.markov import parse_markov_model
from .crc import crc32c
from .header import HEADER_BYTES_V1, CrackleHeader
from .labels import read_labels, read_unique
from .layout import Layout


class StreamView:
    """Structured, read-only access to a Crackle stream of ``size`` bytes.

    Subclasses provide :meth:`read`. Every range is checked against ``size``
    before it is read, so a damaged header or index raises FormatError instead
    of reading past the stream.

    Parameters
    ----------
    size : int
        Length of the stream in bytes.
    """

    def __init__(self, size: int):
        self.size = int(size)
        self.header = CrackleHeader.frombytes(self.read(0, min(self.size, HEADER_BYTES_V1)))
        if self.header.nbytes >= 2**63:
            raise FormatError(
                f"header describes a {self.header.sx} x {self.header.sy} x {self.header.sz} volume of "
                f"{self.header.nbytes} bytes, more than any array can hold"
            )
        self._labels_crc_checked = False
        self._pin_range_parsed = False

    def read(self, start: int, stop: int) -> np.ndarray:
        """Bytes ``start .. stop - 1`` of the stream as a read-only uint8 array (within ``size``)."""
        raise NotImplementedError

    def _section(self, start: int, stop: int, what: str) -> np.ndarray:
        if stop > self.size:
            raise FormatError(f"stream truncated: {what} needs bytes up to {stop}, the stream has {self.size}")
        return self.read(start, stop)

    @cached_property
    def layout(self) -> Layout:
        """Section offsets; checks the crack index crc32c and the stream length."""
        head = self.header
        if head.voxels() == 0:
            layout = Layout.empty(head)
        else:
            index = self._section(head.header_bytes, head.header_bytes + head.grid_index_bytes, "the crack index")
            layout = Layout.from_index(head, index)
        layout.check_length(self.size)
        return layout

    @cached_property
    def labels_bytes(self) -> np.ndarray:
        """The raw labels section (located from the header alone; the crack index is not read)."""
        head = self.header
        start = head.header_bytes + head.grid_index_bytes
        return self._section(start, start + head.num_label_bytes, "the labels section")

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

    def pin_records_of(self, z_start: int, z_end: int) -> tuple:
        """The pin records that slices ``z_start .. z_end - 1`` need. The first request of a part
        of the volume parses that part alone (a one-off slice does not pay for arrays of every
        pin); a view asked again parses and keeps every record, as it does for the whole volume."""
        if "pin_records" in self.__dict__ or self._pin_range_parsed or (z_start == 0 and z_end == self.header.sz):
            return self.pin_records
        self._pin_range_parsed = True
        return self.labels.parse_records(z_start, z_end)

    @cached_property
    def markov_table(self) -> np.ndarray:
        """The Markov model as a ``[context * 4 + rank] -> move`` table (unused for order 0)."""
        order = self.header.markov_model_order
        if order == 0:
            return np.zeros(4, dtype=np.uint8)
        start = self.layout.model_offset
        table, code = parse_markov_model(self.read(start, start + self.header.num_markov_model_bytes), order)
        if code != status.OK:
            raise FormatError(f"Markov model: {status.MESSAGES[code]}")
        return table

    def check_labels_crc(self) -> None:
        """Check the labels crc32c (v1), once per view; raises ChecksumError on mismatch."""
        if self._labels_crc_checked or self.header.format_version == 0 or self.header.voxels() == 0:
            return
        offset = self.layout.labels_crc_offset
        stored = int(self.read(offset, offset + 4).view("<u4")[0])
        computed = crc32c(self.labels_bytes)
        if stored != computed:
            raise ChecksumError(
                f"labels section crc32c mismatch: stored {stored:#010x}, computed {computed:#010x}"
            )
        self._labels_crc_checked = True

    def crack_codes(self, z_start: int, z_end: int) -> tuple:
        """``(buffer, offsets)``: slice ``z_start + i``'s crack code is ``buffer[offsets[i] : offsets[i + 1]]``."""
        offsets = self.layout.code_offsets[z_start : z_end + 1]
        return self.read(int(offsets[0]), int(offsets[-1])), offsets - offsets[0]

    def slice_crcs(self, z_start: int, z_end: int) -> np.ndarray:
        """Stored crc32c of the component ids of slices ``z_start .. z_end - 1`` (v1)."""
        offset = self.layout.slice_crcs_offset
        return self.read(offset + 4 * z_start, offset + 4 * z_end).view("<u4")


class MemoryStream(StreamView):
    """A stream held in memory as any bytes-like object (not copied)."""

    def __init__(self, binary):
        self.buffer = np.frombuffer(binary, dtype=np.uint8)
        # One read-only type whatever the caller passed (bytes, bytearray, ...): one compiled kernel.
        self.buffer.flags.writeable = False
        super().__init__(self.buffer.size)

    def read(self, start: int, stop: int) -> np.ndarray:
        """A zero-copy view of bytes ``start .. stop - 1``."""
        return self.buffer[start:stop]

    def crack_codes(self, z_start: int, z_end: int) -> tuple:
        """The whole buffer and absolute offsets: no copy."""
        return self.buffer, self.layout.code_offsets[z_start : z_end + 1]


class PrefetchedStream(StreamView):
    """A stream of ``size`` bytes of which only some ranges are at hand: ``pieces`` lists
    ``(start, bytes-like)``. A read that no piece holds whole raises FormatError."""

    def __init__(self, size: int, pieces: list):
        self.pieces = [(int(start), np.frombuffer(data, dtype=np.uint8)) for start, data in pieces]
        super().__init__(size)

    def read(self, start: int, stop: int) -> np.ndarray:
        """A zero-copy view of bytes ``start .. stop - 1`` from the piece that holds them."""
        for at, data in self.pieces:
            if at <= start and stop <= at + data.size:
                return data[start - at : stop - at]
        raise FormatError(f"bytes {start}..{stop} of the stream were not fetched")
