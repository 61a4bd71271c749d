"""Hostile input: mutated streams must raise FormatError or decode; never crash, hang or over-allocate.

Mutations (bit flips, truncation, zeroed runs, random bytes, huge header
sizes, forged fields), often with every checksum recomputed so that the
damage reaches the parsers and kernels, are decoded in child processes under
an address-space limit, with Numba's bounds checking switched on so that an
out-of-bounds access in a kernel fails loudly instead of going unnoticed. The
seed changes per run and is printed.
"""

import os
import pickle
import secrets
import subprocess
import sys

import numpy as np
import pytest

import crackle
from crackle.format.crc import crc8, crc32c
from tests.conftest import ROOT, child_env, load_vector

SEED = int(os.environ.get("CRACKLE_TEST_SEED", secrets.randbits(32)))
BASES = [
    "tiny_4x4x2_F", "connectomics_64x64x16", "connectomics_64x64x16_markov5",
    "connectomics_64x64x16_pins_markov7", "pins_fast_24x24x10", "pins_optimal_24x24x10",
    "noise_16x16x4_markov3", "dtype_int64_extremes", "2d_16x13_C", "markov7_blobs_many",
    "v0_connectomics_64x64x16_pins_markov7", "v0_markov3_blobs_many", "single_voxel_1x1x1",
]
PER_BASE = 500
EXTRA_BYTES = 3 << 30  # address space granted beyond the child's own size after start-up
HUGE = 2 << 30  # a MemoryError is acceptable only for a header volume larger than this


def fix_checksums(stream: bytearray) -> bytearray:
    """Recompute the header crc8, crack index crc32c and labels crc32c (v1) of a mutated stream."""
    try:
        head = crackle.header(bytes(stream), ignore_crc_check=True)
    except crackle.FormatError:
        return stream
    if head.format_version != 1 or len(stream) < 29:
        return stream
    stream[28] = crc8(stream[5:28])
    index_end = 29 + 4 * head.sz
    if head.sz and len(stream) >= index_end + 4:
        stream[index_end : index_end + 4] = crc32c(bytes(stream[29:index_end])).to_bytes(4, "little")
        labels_start = index_end + 4
        labels_end = labels_start + head.num_label_bytes
        crc_at = len(stream) - 4 * head.sz - 4
        if labels_end <= crc_at and crc_at >= 0:
            stream[crc_at : crc_at + 4] = crc32c(bytes(stream[labels_start:labels_end])).to_bytes(4, "little")
    return stream


def mutate(rng, stream: bytes):
    """One random mutation of ``stream``; returns (description, bytes)."""
    data = bytearray(stream)
    n = len(data)
    kind = int(rng.integers(10))
    fix = bool(rng.integers(2))
    if kind == 0:
        for _ in range(int(rng.integers(1, 5))):
            bit = int(rng.integers(8 * n))
            data[bit // 8] ^= 1 << (bit % 8)
        what = "bit flips"
    elif kind == 1:
        data = data[: int(rng.integers(n))]
        what = "truncated"
    elif kind == 2:
        start = int(rng.integers(n))
        length = min(int(rng.integers(1, 64)), n - start)
        data[start : start + length] = bytes(length)
        what = "zeroed run"
    elif kind == 3:
        start = int(rng.integers(n))
        length = min(int(rng.integers(1, 32)), n - start)
        data[start : start + length] = rng.integers(0, 256, size=length, dtype=np.uint8).tobytes()
        what = "random bytes"
    elif kind == 4:
        field = int(rng.choice([7, 11, 15]))
        value = int(rng.choice([2**32 - 1, 2**31, 2**16, 2**20 + 3, 0, int(rng.integers(2**32))]))
        data[field : field + 4] = value.to_bytes(4, "little")
        what, fix = f"header size at {field} = {value}", True
    elif kind == 5:
        data[5:7] = rng.integers(0, 256, size=2, dtype=np.uint8).tobytes()
        what, fix = "random format field", True
    elif kind == 6:
        start = 29 + 4 * int(rng.integers(max(1, crackle.header(stream, ignore_crc_check=True).sz)))
        data[start : start + 4] = int(rng.integers(2**32)).to_bytes(4, "little")
        what, fix = "crack index entry", True
    elif kind == 7:
        head = crackle.header(stream, ignore_crc_check=True)
        start = head.header_bytes + head.grid_index_bytes + int(rng.integers(max(1, head.num_label_bytes)))
        width = int(rng.choice([1, 2, 4, 8]))
        width = min(width, n - start)
        data[start : start + width] = rng.integers(0, 256, size=width, dtype=np.uint8).tobytes()
        what, fix = "labels section bytes", True
    elif kind == 8:
        data += rng.integers(0, 256, size=int(rng.integers(1, 50)), dtype=np.uint8).tobytes()
        what = "trailing garbage"
    else:
        data = bytearray(b"crkl\x01" + rng.integers(0, 256, size=int(rng.integers(1, 400)), dtype=np.uint8).tobytes())
        what = "random stream"
    if fix:
        data = fix_checksums(data)
        what += ", checksums fixed"
    return what, bytes(data)


def test_mutated_streams_raise_format_error_or_decode(tmp_path):
    print(f"seed: CRACKLE_TEST_SEED={SEED}")
    rng = np.random.default_rng(SEED)
    cases = []
    for name in BASES:
        stream, _ = load_vector(name)
        cases += [(f"{name}: {what}", data) for what, data in (mutate(rng, stream) for _ in range(PER_BASE))]
    path = tmp_path / "cases.pickle"
    path.write_bytes(pickle.dumps(cases))
    env = child_env(NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    limit = _own_address_space(env) + EXTRA_BYTES
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_child", str(path), str(limit)],
        cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=1200,
    )
    lines = done.stdout.splitlines()
    if done.returncode != 0:
        crashed = cases[len(lines)][0] if len(lines) < len(cases) else "after the last case"
        pytest.fail(f"child died with code {done.returncode} on case {len(lines)} ({crashed}):\n{done.stderr[-3000:]}")
    assert len(lines) == len(cases)
    outcomes = {"ok": 0, "format": 0}
    for line in lines:
        index, outcome, *detail = line.split(" ", 2)
        description = cases[int(index)][0]
        if outcome == "memory":
            assert int(detail[0]) > HUGE, f"{description}: MemoryError for a {detail[0]}-byte volume"
            continue
        assert outcome in outcomes, f"{description}: {' '.join(detail)}"
        outcomes[outcome] += 1
    print(outcomes)
    assert outcomes["format"] > len(cases) // 4


def _own_address_space(env) -> int:
    """Virtual size of a fresh child that has imported crackle and compiled its kernels (warms ``env``'s cache)."""
    code = ("import crackle, resource; from tests.conftest import load_vector; "
            "crackle.decompress(load_vector('pins_fast_24x24x10')[0]); "
            "print(int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize())")
    done = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), env=env, capture_output=True, text=True,
                          check=True)
    return int(done.stdout.strip())


def test_huge_header_volume_is_rejected_before_allocating():
    stream, _ = load_vector("connectomics_64x64x16")
    for field, value in ((7, 2**32 - 1), (11, 2**32 - 1), (15, 2**32 - 1)):
        data = bytearray(stream)
        data[field : field + 4] = value.to_bytes(4, "little")
        with pytest.raises(crackle.FormatError):
            crackle.decompress(bytes(fix_checksums(data)))
