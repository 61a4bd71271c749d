"""The Crackle header (24 bytes in format v0, 29 in v1) and the facts derived from it.

Layout (little endian)::

    0  magic "crkl"       4  format_version      5  u16 format field
    7  sx (u32)           11 sy (u32)            15 sz (u32)
    19 log2(grid_size)    20 num_label_bytes (u64 in v1, u32 in v0)
    28 crc8 of bytes 5..27 (v1 only)

Format field bits: 0-1 data width, 2-3 stored width, 4 crack format,
5-6 label format, 7 Fortran order, 8 signed, 9-12 Markov order,
13 unsorted labels, 14 remapped.
"""

from enum import IntEnum

import numpy as np

from ..errors import ChecksumError, FormatError
from ..kernels.integers import byte_width_of as byte_width
from .crc import crc8

MAGIC = b"crkl"
HEADER_BYTES_V0 = 24
HEADER_BYTES_V1 = 29
MAX_MARKOV_ORDER = 15

_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_SIGNED = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


class LabelFormat(IntEnum):
    """How the labels section maps connected components to label values."""

    FLAT = 0
    PINS_FIXED_WIDTH = 1
    PINS_VARIABLE_WIDTH = 2


class CrackFormat(IntEnum):
    """Whether crack codes trace boundaries (IMPERMISSIBLE) or connections (PERMISSIBLE)."""

    IMPERMISSIBLE = 0
    PERMISSIBLE = 1


def unsigned_dtype(width: int) -> np.dtype:
    """The unsigned numpy dtype of ``width`` bytes."""
    return np.dtype(_UNSIGNED[width])


def integer_dtype(width: int, signed: bool) -> np.dtype:
    """The numpy integer dtype of ``width`` bytes and the given signedness."""
    return np.dtype((_SIGNED if signed else _UNSIGNED)[width])


class CrackleHeader:
    """Parsed Crackle header, with crackle-codec's attribute names.

    Attributes
    ----------
    label_format, crack_format : int
        :class:`LabelFormat` and :class:`CrackFormat` values.
    data_width, stored_data_width : int
        Bytes per decoded voxel and per stored label value.
    sx, sy, sz : int
        Shape of the volume.
    num_label_bytes : int
        Length of the labels section.
    fortran_order, signed, is_sorted, is_remapped : bool
    grid_size : int
        Always ``2**31`` in streams written by crackle-codec.
    markov_model_order : int
        0 (no model) to 15.
    format_version : int
        0 or 1.
    crc : int or None
        The stored crc8 (None for format v0).
    """

    MAGIC = MAGIC
    HEADER_BYTES = HEADER_BYTES_V1
    HEADER_BYTES_V0 = HEADER_BYTES_V0
    HEADER_BYTES_V1 = HEADER_BYTES_V1

    def __init__(
        self,
        label_format: int,
        crack_format: int,
        data_width: int,
        stored_data_width: int,
        sx: int,
        sy: int,
        sz: int,
        num_label_bytes: int,
        fortran_order: bool,
        grid_size: int,
        signed: bool,
        markov_model_order: int,
        is_sorted: bool,
        is_remapped: bool,
        format_version: int = 1,
        crc=None,
    ):
        self.label_format = int(label_format)
        self.crack_format = int(crack_format)
        self.data_width = int(data_width)
        self.stored_data_width = int(stored_data_width)
        self.sx = int(sx)
        self.sy = int(sy)
        self.sz = int(sz)
        self.num_label_bytes = int(num_label_bytes)
        self.fortran_order = bool(fortran_order)
        self.grid_size = int(grid_size)
        self.signed = bool(signed)
        self.markov_model_order = int(markov_model_order)
        self.is_sorted = bool(is_sorted)
        self.is_remapped = bool(is_remapped)
        self.format_version = int(format_version)
        self.crc = crc

    @classmethod
    def frombytes(cls, buffer, ignore_crc_check: bool = False) -> "CrackleHeader":
        """Parse and check the header at the start of ``buffer``.

        Parameters
        ----------
        buffer : bytes-like
            A Crackle stream (only its first 29 bytes are read).
        ignore_crc_check : bool
            Skip the crc8 comparison (v1).

        Raises
        ------
        FormatError
            Wrong magic, unknown version, truncated header, unsupported label
            format, grid tiling or Markov order.
        ChecksumError
            The crc8 does not match (v1).
        """
        head = bytes(memoryview(buffer)[:HEADER_BYTES_V1])
        if len(head) < 5:
            raise FormatError(f"stream of {len(head)} bytes is too short for a Crackle header")
        if head[:4] != MAGIC:
            raise FormatError(f"bad magic number: expected {MAGIC!r}, found {head[:4]!r}")
        version = head[4]
        if version not in (0, 1):
            raise FormatError(f"unsupported format version {version} (this reader knows 0 and 1)")
        size = HEADER_BYTES_V0 if version == 0 else HEADER_BYTES_V1
        if len(head) < size:
            raise FormatError(f"truncated header: format v{version} needs {size} bytes, stream has {len(head)}")

        crc = None
        if version == 1:
            crc = head[28]
            computed = crc8(head[5:28])
            if not ignore_crc_check and crc != computed:
                raise ChecksumError(
                    f"header crc8 mismatch: stored {crc:#04x}, computed {computed:#04x} (bytes 5..27)"
                )
            num_label_bytes = int.from_bytes(head[20:28], "little")
        else:
            num_label_bytes = int.from_bytes(head[20:24], "little")

        field = int.from_bytes(head[5:7], "little")
        label_format = (field >> 5) & 0b11
        if label_format not in (LabelFormat.FLAT, LabelFormat.PINS_VARIABLE_WIDTH):
            raise FormatError(f"unsupported label format {label_format} in format field {field:#06x}")
        if field >> 15:
            raise FormatError(f"reserved bit 15 is set in format field {field:#06x}")

        sx, sy, sz = (int.from_bytes(head[o : o + 4], "little") for o in (7, 11, 15))
        log2_grid = head[19]
        if log2_grid > 63 or (sx * sy > 0 and 2**log2_grid < max(sx, sy)):
            raise FormatError(
                f"grid size 2**{log2_grid} is smaller than the {sx}x{sy} slice: "
                "sub-slice grids are not part of any released format"
            )

        return cls(
            label_format=label_format,
            crack_format=(field >> 4) & 1,
            data_width=1 << (field & 0b11),
            stored_data_width=1 << ((field >> 2) & 0b11),
            sx=sx,
            sy=sy,
            sz=sz,
            num_label_bytes=num_label_bytes,
            fortran_order=bool((field >> 7) & 1),
            grid_size=2**log2_grid,
            signed=bool((field >> 8) & 1),
            markov_model_order=(field >> 9) & 0b1111,
            is_sorted=not ((field >> 13) & 1),
            is_remapped=bool((field >> 14) & 1),
            format_version=version,
            crc=crc,
        )

    def tobytes(self) -> bytes:
        """Serialise the header (24 bytes for v0, 29 for v1, crc8 recomputed)."""
        field = (
            (self.data_width.bit_length() - 1)
            | (self.stored_data_width.bit_length() - 1) << 2
            | self.crack_format << 4
            | self.label_format << 5
            | int(self.fortran_order) << 7
            | int(self.signed) << 8
            | self.markov_model_order << 9
            | int(not self.is_sorted) << 13
            | int(self.is_remapped) << 14
        )
        nlb_width = 4 if self.format_version == 0 else 8
        body = b"".join(
            [
                field.to_bytes(2, "little"),
                self.sx.to_bytes(4, "little"),
                self.sy.to_bytes(4, "little"),
                self.sz.to_bytes(4, "little"),
                (self.grid_size.bit_length() - 1).to_bytes(1, "little"),
                self.num_label_bytes.to_bytes(nlb_width, "little"),
            ]
        )
        tail = b"" if self.format_version == 0 else bytes([crc8(body)])
        return MAGIC + bytes([self.format_version]) + body + tail

    @property
    def header_bytes(self) -> int:
        """Length of the header: 24 (v0) or 29 (v1)."""
        return HEADER_BYTES_V0 if self.format_version == 0 else HEADER_BYTES_V1

    @property
    def grid_index_bytes(self) -> int:
        """Length of the crack index: 4 bytes per slice, plus its crc32c in v1."""
        return 4 * self.sz + (0 if self.format_version == 0 else 4)

    @property
    def dtype(self) -> np.dtype:
        """dtype of the decoded array (signed when the header says so)."""
        return integer_dtype(self.data_width, self.signed)

    @property
    def stored_dtype(self) -> np.dtype:
        """dtype of the stored label values (signed when the header says so)."""
        return integer_dtype(self.stored_data_width, self.signed)

    @property
    def shape(self) -> tuple:
        """(sx, sy, sz)."""
        return (self.sx, self.sy, self.sz)

    @property
    def nbytes(self) -> int:
        """Size in bytes of the decoded array."""
        return self.voxels() * self.data_width

    @property
    def num_markov_model_bytes(self) -> int:
        """Length of the stored Markov model: ceil(5 * 4**order / 8), 0 without a model."""
        if self.markov_model_order == 0:
            return 0
        return (5 * 4**self.markov_model_order + 7) // 8

    def voxels(self) -> int:
        """Number of voxels, sx * sy * sz."""
        return self.sx * self.sy * self.sz

    def num_grids(self) -> int:
        """Number of crack-code grids: one per z slice."""
        return self.sz

    def component_width(self) -> int:
        """Byte width of each components-per-slice entry: bw(sx * sy)."""
        return byte_width(self.sx * self.sy)

    def pin_index_width(self) -> int:
        """Byte width of pin indices: bw(sx * sy * sz) computed modulo 2**32, as the reference does."""
        return byte_width(self.voxels() & 0xFFFFFFFF)

    index_width = pin_index_width

    def z_index_width(self) -> int:
        """Byte width of crack index entries (always 4)."""
        return 4

    def details(self) -> str:
        """Human-readable multi-line description of every field."""
        return "\n".join(
            [
                f"magic:          {MAGIC!r}",
                f"version:        {self.format_version}",
                f"label format:   {LabelFormat(self.label_format).name}",
                f"crack format:   {CrackFormat(self.crack_format).name}",
                f"data width:     {self.data_width}",
                f"stored width:   {self.stored_data_width}",
                f"signed:         {self.signed}",
                f"shape:          {self.sx} x {self.sy} x {self.sz}",
                f"label bytes:    {self.num_label_bytes}",
                f"fortran order:  {self.fortran_order}",
                f"grid size:      {self.grid_size}",
                f"markov order:   {self.markov_model_order}",
                f"sorted labels:  {self.is_sorted}",
                f"remapped:       {self.is_remapped}",
                f"crc8:           {self.crc}",
            ]
        )

    def __eq__(self, other) -> bool:
        return isinstance(other, CrackleHeader) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"CrackleHeader({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"
