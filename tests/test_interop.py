"""Streams written by crackle-codec (random segmentations) decode exactly, and every query agrees.

One subprocess compresses every case with crackle-codec; the seed changes per
run and is printed (replay with CRACKLE_TEST_SEED=...).
"""

import os
import secrets

import numpy as np
import pytest

import crackle
from crackle.codec import decompress_range, label_z_range
from tests.reference import reference_compress
from tests.segmentations import DTYPES, blocky

SEED = int(os.environ.get("CRACKLE_TEST_SEED", secrets.randbits(32)))
NCASES = 96


def make_cases(seed):
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(NCASES):
        dtype = DTYPES[k % len(DTYPES)]
        two_d = k % 5 == 0
        shape = tuple(int(s) for s in rng.integers(1, 40, size=2 if two_d else 3))
        if not two_d and k % 7 == 0:
            shape = (int(rng.integers(60, 130)), int(rng.integers(60, 130)), int(rng.integers(2, 6)))
        order = "C" if k % 3 == 0 else "F"
        noise = 0.0 if k % 4 else float(rng.choice([0.05, 0.6]))
        arr = blocky(rng, shape, dtype, nlabels=int(rng.integers(1, 40)), boxes=int(rng.integers(0, 30)),
                     noise=noise, order=order)
        kwargs = {"markov_model_order": k % 8}
        if np.dtype(dtype).kind == "u" and k % 2:
            kwargs["allow_pins"] = int(rng.integers(1, 3))
        cases.append((arr, kwargs))
    return cases


@pytest.fixture(scope="module")
def cases(reference):
    print(f"seed: CRACKLE_TEST_SEED={SEED}")
    arrays = make_cases(SEED)
    return list(zip(arrays, reference_compress(arrays)))


def test_cases_cover_every_format_feature(cases):
    heads = [crackle.header(stream) for _, stream in cases]
    assert {h.markov_model_order for h in heads} == set(range(8))
    assert {h.label_format for h in heads} == {0, 2}
    assert {h.crack_format for h in heads} == {0, 1}
    assert {h.fortran_order for h in heads} == {True, False}
    assert {h.dtype for h in heads} == {np.dtype(d) for d in DTYPES}
    assert any(h.sz == 1 for h in heads) and any(h.sz > 1 for h in heads)


@pytest.mark.parametrize("k", range(NCASES))
def test_decode_and_queries_agree_with_the_array(cases, k):
    print(f"seed: CRACKLE_TEST_SEED={SEED}, case {k}")
    (arr, kwargs), stream = cases[k]
    arr3 = arr if arr.ndim == 3 else arr[:, :, np.newaxis]
    decoded = crackle.decompress(stream)
    assert decoded.dtype == arr.dtype and decoded.shape == arr3.shape
    np.testing.assert_array_equal(decoded, arr3)
    assert decoded.flags.f_contiguous == arr.flags.f_contiguous

    uniq = np.unique(arr)
    np.testing.assert_array_equal(crackle.labels(stream), uniq)
    assert crackle.num_labels(stream) == uniq.size
    assert (crackle.min(stream), crackle.max(stream)) == (int(uniq[0]), int(uniq[-1]))
    rng = np.random.default_rng(SEED + k)
    info = np.iinfo(arr.dtype)
    for value in rng.choice(uniq, size=min(4, uniq.size), replace=False):
        value = int(value)
        assert crackle.contains(stream, value)
        np.testing.assert_array_equal(crackle.decompress(stream, label=value), arr3 == value)
        zs = np.flatnonzero((arr3 == value).any(axis=(0, 1)))
        assert label_z_range(stream, value) == (zs[0], zs[-1] + 1)
    for value in (info.min, info.max, info.max + 1, -1, 0, 2**64):
        assert crackle.contains(stream, value) == (info.min <= value <= info.max and value in set(uniq.tolist()))
    low, high = sorted(int(v) for v in rng.integers(info.min, info.max, size=2, endpoint=True, dtype=arr.dtype))
    np.testing.assert_array_equal(crackle.contains_range(stream, low, high), uniq[(uniq >= low) & (uniq < high)])

    sz = arr3.shape[2]
    z0 = int(rng.integers(0, sz))
    z1 = int(rng.integers(z0, sz + 1))
    np.testing.assert_array_equal(decompress_range(stream, z0, z1, 1), arr3[:, :, z0:z1])
    np.testing.assert_array_equal(crackle.labels_for_z_range(stream, z0, z1), np.unique(arr3[:, :, z0:z1]))
    view = crackle.CrackleArray(stream)
    z = int(rng.integers(0, sz))
    np.testing.assert_array_equal(view[:, :, z], arr3[:, :, z])
    np.testing.assert_array_equal(view[1::2, ::-3, ::2], arr3[1::2, ::-3, ::2])
