"""Header parsing and serialisation (format v0 and v1)."""

import numpy as np
import pytest

import crackle
from crackle.format.crc import crc8, crc32c
from crackle.format.header import CrackleHeader
from tests.conftest import load_manifest, load_vector

CASES = load_manifest()


def test_checksums_match_published_check_values():
    assert crc32c(b"123456789") == 0xE3069283
    # Worked example A of FORMAT.md: crc8 of header bytes 5..27 is 0x2a.
    head = bytes.fromhex("80 00 04 00 00 00 04 00 00 00 01 00 00 00 1f 0d 00 00 00 00 00 00 00")
    assert len(head) == 23
    assert crc8(head) == 0x2A


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_header_fields_and_round_trip(case):
    stream, arr = load_vector(case["name"])
    head = crackle.header(stream)
    assert head.format_version == case["format_version"]
    assert head.label_format == case["label_format"]
    assert head.crack_format == case["crack_format"]
    assert head.markov_model_order == case["markov_model_order"]
    shape = tuple(arr.shape) + (1,) * (3 - arr.ndim)
    assert (head.sx, head.sy, head.sz) == shape
    assert head.dtype == arr.dtype
    assert head.signed == (arr.dtype.kind == "i")
    assert head.grid_size == 2**31
    assert crackle.nbytes(stream) == arr.nbytes
    assert head.tobytes() == stream[: head.header_bytes]
    assert CrackleHeader.frombytes(head.tobytes()) == head


def test_header_attributes_match_crackle_codec_names():
    stream, _ = load_vector("tiny_4x4x1_impermissible")
    head = crackle.header(stream)
    for name in ("label_format", "crack_format", "data_width", "stored_data_width", "sx", "sy", "sz",
                 "num_label_bytes", "fortran_order", "grid_size", "signed", "markov_model_order",
                 "is_sorted", "is_remapped", "format_version", "crc"):
        assert hasattr(head, name), name
    assert head.num_label_bytes == 13 and head.crc == 0x2A and head.fortran_order


def test_header_crc8_mismatch_is_reported_and_can_be_ignored():
    stream, _ = load_vector("tiny_4x4x1_impermissible")
    bad = bytearray(stream)
    bad[28] ^= 0xFF
    with pytest.raises(crackle.ChecksumError, match="crc8"):
        crackle.header(bytes(bad))
    assert crackle.header(bytes(bad), ignore_crc_check=True).sx == 4


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"crkm" + b[4:], "magic"),
        (lambda b: b[:4] + b"\x02" + b[5:], "version"),
        (lambda b: b[:10], "short|truncated"),
        (lambda b: b"", "short"),
    ],
)
def test_malformed_headers_raise_format_error(mutate, message):
    stream, _ = load_vector("tiny_4x4x2_F")
    with pytest.raises(crackle.FormatError, match=message):
        crackle.decompress(mutate(stream))


def test_reserved_label_format_is_rejected():
    stream, _ = load_vector("tiny_4x4x2_F")
    head = crackle.header(stream)
    head.label_format = 1
    with pytest.raises(crackle.FormatError, match="label format"):
        crackle.header(head.tobytes() + stream[29:])


def test_v0_header_only_stream_is_accepted():
    head = CrackleHeader(0, 0, 2, 2, 0, 4, 4, 0, True, 2**31, False, 0, True, False, format_version=0)
    stream = head.tobytes()
    assert len(stream) == 24
    out = crackle.decompress(stream)
    assert out.shape == (0, 4, 4) and out.dtype == np.uint16


def test_format_error_is_a_value_error():
    assert issubclass(crackle.FormatError, ValueError)
    assert issubclass(crackle.ChecksumError, crackle.FormatError)
