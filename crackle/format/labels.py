"""The labels section: which label value each connected component of each slice holds.

FLAT: num_unique (u64) | unique values | components per slice | one key per
component (an index into the unique values).

Condensed PINS: background colour | num_unique (u64) | unique values (without
the background) | components per slice | width byte | one record per unique
value listing its pins (vertical runs of voxels) and loose component ids.
Components covered by neither take the background colour.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import FormatError
from ..kernels import status
from ..kernels.pins import read_pin_records
from .header import CrackleHeader, LabelFormat, byte_width, unsigned_dtype


def _take(section: np.ndarray, offset: int, count: int, width: int, what: str) -> np.ndarray:
    """``count`` little-endian unsigned integers of ``width`` bytes at ``offset``, bounds-checked."""
    end = offset + count * width
    if end > section.size:
        raise FormatError(
            f"labels section too short for {what}: needs bytes {offset}..{end}, section has {section.size}"
        )
    return section[offset:end].view(unsigned_dtype(width).newbyteorder("<"))


def _components_per_slice(section, offset, header) -> np.ndarray:
    counts = _take(section, offset, header.sz, header.component_width(), "components per slice")
    counts = counts.astype(np.int64)
    pixels = header.sx * header.sy
    bad = np.flatnonzero((counts < 1) | (counts > pixels))
    if bad.size:
        z = int(bad[0])
        raise FormatError(
            f"labels section lists {counts[z]} components for slice z={z}, which has {pixels} pixels"
        )
    return counts


def _unique_values(section, offset, count, header) -> np.ndarray:
    """The stored label values in the decoded dtype, read-only (views share them)."""
    stored = _take(section, offset, count, header.stored_data_width, "unique labels")
    values = stored.view(header.stored_dtype.newbyteorder("<")).astype(header.dtype)
    values.flags.writeable = False
    return values


def _count(section, offset) -> int:
    return int(_take(section, offset, 1, 8, "the label count")[0])


@dataclass(frozen=True)
class FlatLabels:
    """Parsed FLAT labels section.

    Attributes
    ----------
    unique : array of the decoded dtype
        Label values, in stored order.
    component_offsets : int64 array of sz + 1
        Global id of each slice's first component; the last entry is the total.
    keys : unsigned array
        Index into ``unique`` of every component (not yet range-checked).
    """

    unique: np.ndarray
    component_offsets: np.ndarray
    keys: np.ndarray

    def check_keys(self) -> None:
        """Raise FormatError if a key points past the unique values."""
        if self.keys.size and int(self.keys.max()) >= self.unique.size:
            raise FormatError(f"labels section key {int(self.keys.max())} exceeds the {self.unique.size} unique labels")

    def lookup(self, c_start: int, c_end: int, values: np.ndarray) -> np.ndarray:
        """``values[key]`` for global components ``c_start .. c_end - 1``.

        ``values`` is parallel to ``unique`` (e.g. the labels in the output dtype,
        or a boolean hit mask).
        """
        keys = self.keys[c_start:c_end]
        if keys.size and int(keys.max()) >= self.unique.size:
            raise FormatError(
                f"labels section key {int(keys.max())} exceeds the {self.unique.size} unique labels"
            )
        return values[keys]


@dataclass(frozen=True)
class PinLabels:
    """Parsed condensed-PINS labels section (records are parsed on first use).

    Attributes
    ----------
    background : int
        Value of every component that no record claims.
    unique : array of the decoded dtype
        Label values other than the background, in stored order.
    component_offsets : int64 array of sz + 1
    records : uint8 array
        The raw pin records.
    widths : tuple
        (count, pin index, depth, component id) byte widths.
    voxels, pixels : int
        Voxels of the volume and of one slice.
    """

    background: int
    unique: np.ndarray
    component_offsets: np.ndarray
    records: np.ndarray
    widths: tuple
    voxels: int
    pixels: int

    def parse_records(self, z_start: int = 0, z_end: Optional[int] = None) -> tuple:
        """Return ``(pin_label, pin_index, pin_depth, cc_label, cc_id)`` int64 arrays: the pins
        that cross slices ``z_start .. z_end - 1`` (default: all) and the component ids of those
        slices, in stored order. Every record is checked, whatever the range.

        Labels are indices into ``unique``; pin indices are linear Fortran
        indices of each pin's top voxel; component ids are global.
        """
        offsets = self.component_offsets
        z_end = offsets.size - 1 if z_end is None else z_end
        code, *arrays = read_pin_records(
            self.records, self.unique.size, *self.widths, self.voxels, int(offsets[-1]),
            self.pixels, z_start, z_end, int(offsets[z_start]), int(offsets[z_end]),
        )
        if code != status.OK:
            raise FormatError(f"labels section: {status.MESSAGES[code]}")
        return tuple(arrays)


def read_unique(section: np.ndarray, header: CrackleHeader) -> tuple:
    """``(unique, background, end)``: the stored label values, the PINS background (None for
    FLAT) and the offset just past them, read from the start of a labels section only."""
    if header.label_format == LabelFormat.FLAT:
        background, offset = None, 0
    else:
        background, offset = _unique_values(section, 0, 1, header)[0].item(), header.stored_data_width
    num_unique = _count(section, offset)
    offset += 8
    if num_unique > (section.size - offset) // header.stored_data_width:
        raise FormatError(f"labels section claims {num_unique} labels but holds {section.size} bytes")
    unique = _unique_values(section, offset, num_unique, header)
    return unique, background, offset + num_unique * header.stored_data_width


def read_labels(section: np.ndarray, header: CrackleHeader):
    """Parse a labels section (uint8 array of ``header.num_label_bytes`` bytes).

    Returns a :class:`FlatLabels` or :class:`PinLabels`.

    Raises
    ------
    FormatError
        A field runs past the section, a count is impossible for the volume,
        or the section length disagrees with its contents.
    """
    unique, background, offset = read_unique(section, header)
    counts = _components_per_slice(section, offset, header)
    offset += header.sz * header.component_width()
    component_offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=component_offsets[1:])
    if header.label_format == LabelFormat.FLAT:
        total = int(component_offsets[-1])
        key_width = byte_width(unique.size)
        if offset + total * key_width != section.size:
            raise FormatError(
                f"labels section is {section.size} bytes but its {total} components "
                f"need {offset + total * key_width}"
            )
        return FlatLabels(unique, component_offsets, _take(section, offset, total, key_width, "component keys"))
    fmt = int(_take(section, offset, 1, 1, "the pin width byte")[0])
    widths = (
        1 << (fmt & 0b11),
        header.pin_index_width(),
        1 << ((fmt >> 2) & 0b11),
        1 << ((fmt >> 4) & 0b11),
    )
    return PinLabels(
        background=background,
        unique=unique,
        component_offsets=component_offsets,
        records=section[offset + 1 :],
        widths=widths,
        voxels=header.voxels(),
        pixels=header.sx * header.sy,
    )
