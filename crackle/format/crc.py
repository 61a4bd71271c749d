"""Checksums used by the format: crc8 for the header, crc32c for every other section."""

import google_crc32c
import numpy as np


def _crc8_table() -> tuple:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xE7 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC8_TABLE = _crc8_table()


def crc8(data) -> int:
    """Reflected CRC-8 (polynomial 0xE7, init 0xFF, no final xor) of ``data``.

    This is the checksum of the v1 header (bytes 5..27).
    """
    crc = 0xFF
    for byte in bytes(data):
        crc = _CRC8_TABLE[crc ^ byte]
    return crc


def crc32c(data) -> int:
    """Standard CRC-32C (Castagnoli) of a bytes-like object or contiguous array."""
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).view(np.uint8)
    return google_crc32c.value(data)
