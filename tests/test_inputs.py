"""Label arrays as crackle-codec's clients pass them: trailing axes of length 1, float dtypes, bool."""

import re

import numpy as np
import pytest

import crackle
from tests.segmentations import blocky

ORDERS = ["C", "F"]


@pytest.mark.parametrize("order", ORDERS)
def test_trailing_unit_axes_are_dropped(seed, order):
    rng = np.random.default_rng(seed)
    arr = np.asarray(blocky(rng, (13, 9, 5), np.uint32, nlabels=6), order=order)
    expected = crackle.compress(arr)
    for extra in ((1,), (1, 1)):
        shaped = np.asarray(arr.reshape(arr.shape + extra, order=order), order=order)
        assert crackle.compress(shaped) == expected
    planar = np.asarray(arr[:, :, :1], order=order)
    assert crackle.compress(planar[:, :, 0, np.newaxis, np.newaxis][:, :, :, 0]) == crackle.compress(planar)
    np.testing.assert_array_equal(crackle.decompress(crackle.compress(arr[..., np.newaxis])), arr)


def test_an_axis_beyond_the_third_longer_than_one_is_refused():
    with pytest.raises(ValueError, match=r"\(4, 4, 2, 3\)"):
        crackle.compress(np.zeros((4, 4, 2, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(4, 4, 2, 1, 2\)"):
        crackle.compress(np.zeros((4, 4, 2, 1, 2), np.uint8))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("order", ORDERS)
def test_float_labels_are_converted_by_value(seed, dtype, order):
    rng = np.random.default_rng(seed)
    ints = blocky(rng, (11, 7, 4), np.uint16, nlabels=5).astype(np.int64) % 2000
    # (all negative in the signed case, whatever the seed; float16 holds every integer up to 2048)
    for values, target in ((ints, np.uint64), (-ints - 1, np.int64)):
        arr = np.asarray(values.astype(dtype), order=order)
        stream = crackle.compress(arr)
        head = crackle.header(stream)
        assert np.dtype(head.dtype) == np.dtype(target) and head.fortran_order == (order == "F")
        assert stream == crackle.compress(np.asarray(values.astype(target), order=order))
        np.testing.assert_array_equal(crackle.decompress(stream), values)


def test_numpys_default_zeros_compress_like_crackle_codec_tests_use_them():
    stream = crackle.compress(np.zeros((100, 100, 100)))
    assert stream == crackle.compress(np.zeros((100, 100, 100), np.uint64))
    assert crackle.labels(stream).tolist() == [0]


def test_extreme_float_values_that_fit():
    arr = np.array([[[0.0, 2.0**64 - 2.0**11, 2.0**53 + 2.0]]])
    np.testing.assert_array_equal(crackle.decompress(crackle.compress(arr)).ravel(),
                                  np.array([0, 2**64 - 2**11, 2**53 + 2], np.uint64))
    arr = np.array([[[-(2.0**63), 2.0**63 - 1024.0]]])
    np.testing.assert_array_equal(crackle.decompress(crackle.compress(arr)).ravel(),
                                  np.array([-(2**63), 2**63 - 1024], np.int64))


@pytest.mark.parametrize("bad, shown", [(2.5, "2.5"), (np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf"),
                                         (2.0**64, "1.8446744073709552e+19")])
def test_float_values_that_are_not_integers_that_fit_are_named(bad, shown):
    arr = np.ones((4, 5, 3))
    arr[2, 3, 1] = bad
    arr[3, 4, 2] = 0.5  # later in memory order: the first one is named
    with pytest.raises(ValueError, match=re.escape(f"holds {shown} at (2, 3, 1)")):
        crackle.compress(arr)
    with pytest.raises(ValueError, match=r"at \(2, 3, 1\)"):
        crackle.compress(np.asfortranarray(arr)[..., np.newaxis] * 1.0)


def test_negative_and_huge_values_together_do_not_fit():
    with pytest.raises(ValueError, match="fits in int64"):
        crackle.compress(np.array([[[-1.0, 2.0**63]]]))


def test_save_and_writer_take_the_same_inputs(tmp_path, seed):
    rng = np.random.default_rng(seed)
    arr = blocky(rng, (10, 8, 6), np.uint32, nlabels=4)
    crackle.save(arr.astype(np.float64)[..., np.newaxis], tmp_path / "a.ckl")
    assert (tmp_path / "a.ckl").read_bytes() == crackle.compress(arr.astype(np.uint64))
    with crackle.CrackleWriter(tmp_path / "w.ckl", (10, 8), np.uint32) as writer:
        writer.write(arr[:, :, :3, np.newaxis])
        writer.write(arr[:, :, 3:].astype(np.float64))  # (float32 would round labels above 2**24)
    np.testing.assert_array_equal(crackle.load(tmp_path / "w.ckl"), arr)
    with crackle.CrackleWriter(tmp_path / "x.ckl", (10, 8), np.uint8) as writer:
        with pytest.raises(ValueError, match="holds 256.0 at"):
            writer.write(np.full((10, 8, 1), 256.0))
        with pytest.raises(ValueError, match=r"\(10, 8, 1, 2\)"):
            writer.write(np.zeros((10, 8, 1, 2)))


def test_to_crackle_takes_the_same_inputs(tmp_path, seed):
    import dask.array as da

    import crackle_dask

    rng = np.random.default_rng(seed)
    arr = blocky(rng, (12, 9, 10), np.uint32, nlabels=5).astype(np.int64) % 1000
    arr[0, 0, 0] = -7  # so the floats become int64
    lazy = da.from_array(arr.astype(np.float64)[..., np.newaxis], chunks=(12, 9, 3, 1))
    crackle_dask.to_crackle(lazy, str(tmp_path / "d.ckl"))
    assert (tmp_path / "d.ckl").read_bytes() == crackle.compress(np.asfortranarray(arr))
    crackle_dask.to_crackle(np.asfortranarray(arr[..., np.newaxis] + 7.0), str(tmp_path / "n.ckl"))
    assert (tmp_path / "n.ckl").read_bytes() == crackle.compress(np.asfortranarray(arr + 7).astype(np.uint64))
    broken = arr.astype(np.float64)
    broken[5, 5, 8] = 0.25
    with pytest.raises(ValueError, match=r"holds 0.25 at \(5, 5, 2\)"):  # in its block (z from 6)
        crackle_dask.to_crackle(da.from_array(broken, chunks=(12, 9, 6)), str(tmp_path / "e.ckl"))
    assert not (tmp_path / "e.ckl").exists()


def test_as_fortran_copies_any_layout(seed):
    """The tiled Fortran-order copy equals numpy's for every dtype and any strides; Fortran-order
    input comes back as is."""
    from crackle.inputs import as_fortran

    rng = np.random.default_rng(seed)
    for dtype in (np.uint8, np.int16, np.uint32, np.int64, np.bool_):
        arr = rng.integers(0, 50, (37, 21, 70)).astype(dtype)
        for view in (arr, arr[3:, ::2, 5:61], arr.transpose(1, 2, 0), np.asfortranarray(arr)[:, :, 1:]):
            copy = as_fortran(view)
            assert copy.flags.f_contiguous and copy.dtype == view.dtype
            np.testing.assert_array_equal(copy, view)
    fortran = np.asfortranarray(arr)
    assert as_fortran(fortran) is fortran
    assert as_fortran(np.zeros((0, 3, 4), np.uint16)).shape == (0, 3, 4)
