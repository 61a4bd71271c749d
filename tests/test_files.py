"""save / load / aload / bload / save_numpy: every file type, local and S3, atomic writes."""

import gzip
import os

import numpy as np
import pytest

import crackle
from tests.conftest import load_vector

STREAM = load_vector("connectomics_64x64x16_pins_markov7")[0]
ARRAY = crackle.decompress(STREAM)


@pytest.mark.parametrize("suffix", ["ckl", "ckl.gz", "npy", "npy.gz"])
@pytest.mark.parametrize("source", ["stream", "array", "CrackleArray"])
def test_round_trips(tmp_path, suffix, source):
    data = {"stream": STREAM, "array": ARRAY, "CrackleArray": crackle.CrackleArray(STREAM)}[source]
    path = tmp_path / f"volume.{suffix}"
    crackle.save(data, path)
    np.testing.assert_array_equal(crackle.load(path), ARRAY)
    np.testing.assert_array_equal(crackle.load(str(path)), ARRAY)
    raw = path.read_bytes()
    if suffix.endswith(".gz"):
        raw = gzip.decompress(raw)
    if suffix.startswith("ckl"):
        assert raw[:4] == b"crkl"
        if source != "array":
            assert raw == STREAM
        np.testing.assert_array_equal(crackle.aload(path).numpy(), ARRAY)
        assert bytes(crackle.bload(path)) == raw
    else:
        assert raw[:6] == b"\x93NUMPY"
    assert os.listdir(tmp_path) == [path.name]  # no temporary left behind


def test_save_compresses_arrays_with_options(tmp_path):
    crackle.save(ARRAY, tmp_path / "a.ckl", allow_pins=1, markov_model_order=3)
    assert crackle.header((tmp_path / "a.ckl").read_bytes()).markov_model_order == 3


def test_npy_of_a_stream_is_written_in_blocks(tmp_path):
    crackle.save_numpy(STREAM, tmp_path / "a.npy", block_size=64 * 64 * 4 * 3)
    loaded = np.load(tmp_path / "a.npy")
    assert loaded.flags.f_contiguous
    np.testing.assert_array_equal(loaded, ARRAY)
    np.testing.assert_array_equal(crackle.load(tmp_path / "a.npy"), ARRAY)


def test_memory_mapped_and_file_objects(tmp_path):
    path = tmp_path / "a.ckl"
    path.write_bytes(STREAM)
    arr = crackle.aload(path, allow_mmap=True)
    np.testing.assert_array_equal(arr[:, :, 3], ARRAY[:, :, 3])
    with open(path, "rb") as handle:
        np.testing.assert_array_equal(crackle.load(handle), ARRAY)
    with open(tmp_path / "b.ckl", "wb") as handle:
        crackle.save(STREAM, handle)
    assert (tmp_path / "b.ckl").read_bytes() == STREAM


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="file type"):
        crackle.save(STREAM, tmp_path / "a.tif")
    (tmp_path / "junk.ckl").write_bytes(b"not a crackle file at all")
    with pytest.raises(crackle.FormatError):
        crackle.load(tmp_path / "junk.ckl")
    with pytest.raises(crackle.FormatError):
        crackle.bload(tmp_path / "junk.ckl")
    with pytest.raises(FileNotFoundError):
        crackle.load(tmp_path / "absent.ckl")


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.npy"
    path.write_bytes(b"old contents")
    with pytest.raises(crackle.FormatError):
        crackle.save_numpy(STREAM[:-50], path)  # truncated: fails after the .npy header is written
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["a.npy"]


def test_s3(s3):
    fs, options = s3
    url = "s3://volumes/files/a.ckl.gz"
    crackle.save(STREAM, url, storage_options=options)
    assert gzip.decompress(fs.cat("volumes/files/a.ckl.gz")) == STREAM
    np.testing.assert_array_equal(crackle.load(url, storage_options=options), ARRAY)
    crackle.save(STREAM, "s3://volumes/files/a.npy", storage_options=options)
    np.testing.assert_array_equal(crackle.load("s3://volumes/files/a.npy", storage_options=options), ARRAY)
    with pytest.raises(crackle.FormatError):
        crackle.save_numpy(STREAM[:-50], "s3://volumes/files/broken.npy", storage_options=options)
    assert not fs.exists("volumes/files/broken.npy")
