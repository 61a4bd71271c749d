"""Every golden vector written by crackle-codec decodes to its input exactly (dtype, shape, order)."""

import numpy as np
import pytest

import crackle
from tests.conftest import load_manifest, load_vector

CASES = load_manifest()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_decodes_exactly(case):
    stream, expected = load_vector(case["name"])
    if expected.ndim == 2:
        expected = expected[:, :, np.newaxis]
    decoded = crackle.decompress(stream)
    assert decoded.dtype == expected.dtype
    assert decoded.shape == expected.shape
    np.testing.assert_array_equal(decoded, expected)
    if case["order"] == "F":
        assert decoded.flags.f_contiguous
    elif case["order"] == "C":
        assert decoded.flags.c_contiguous


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_single_thread_and_unverified_agree(case):
    stream, _ = load_vector(case["name"])
    full = crackle.decompress(stream)
    np.testing.assert_array_equal(crackle.decompress(stream, parallel=1), full)
    np.testing.assert_array_equal(crackle.decompress(stream, verify=False), full)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_label_queries(case):
    stream, arr = load_vector(case["name"])
    uniq = np.unique(arr)
    labels = crackle.labels(stream)
    assert labels.dtype == arr.dtype
    np.testing.assert_array_equal(labels, uniq)
    assert crackle.num_labels(stream) == uniq.size
    if uniq.size:
        assert crackle.min(stream) == int(uniq[0])
        assert crackle.max(stream) == int(uniq[-1])
        for value in uniq:
            assert crackle.contains(stream, int(value))
    info = np.iinfo(arr.dtype)
    absent = [v for v in (info.min, info.max, 0, 1, -1, info.max + 1, info.min - 1) if v not in set(uniq.tolist())]
    for value in absent:
        assert not crackle.contains(stream, value)


def test_portable_crc_path_decodes_identically(tmp_path):
    """Without SSE4.2 and pclmulqdq (here: Numba targeting a generic CPU) the table-driven crc32c and
    the shift-and-xor carry-less product must agree."""
    import subprocess
    import sys

    from tests.conftest import ROOT, child_env

    names = ["connectomics_64x64x16_pins_markov7", "noise_16x16x4_markov3", "2d_16x13_C", "dtype_int64_extremes"]
    code = (
        "import sys, numpy as np, crackle; from crackle.kernels import bits; from tests.conftest import load_vector\n"
        "assert bits.crc32c_u64 is bits._crc32c_u64_table and bits.clmul32 is bits._clmul32_loop\n"
        "for name in sys.argv[1:]:\n"
        "    stream, arr = load_vector(name)\n"
        "    np.testing.assert_array_equal(crackle.decompress(stream), arr.reshape(arr.shape + (1,) * (3 - arr.ndim)))\n"
        "print('ok')\n"
    )
    env = child_env(NUMBA_CPU_NAME="generic", NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code, *names], cwd=str(ROOT), env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
