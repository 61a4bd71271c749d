"""xr.open_dataset(..., engine="crackle"): lazy Datasets over local, HTTP and S3 Crackle files."""

import numpy as np
import pytest
import xarray as xr

import crackle
from tests.conftest import load_vector
from tests.servers import http_server

PARTS = ["connectomics_64x64x16", "connectomics_64x64x16_pins_markov7", "connectomics_64x64x16_C"]
KEYS = [
    (slice(None), slice(None), 5),
    (slice(3, 9), slice(None), slice(None, None, 3)),
    (7, slice(2, 60, 5), slice(None)),
    (slice(None), 0, slice(None, None, -2)),
    (slice(None), slice(None), slice(14, 35, 4)),
    (slice(None), slice(None), slice(40, 2, -7)),
    (1, 2, -1),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("xarray")
    for i, name in enumerate(PARTS + ["2d_16x13_F", "dtype_int64_extremes"]):
        (root / f"{i}_{name}.ckl").write_bytes(load_vector(name)[0])
    return root


def expected_stack() -> np.ndarray:
    return np.concatenate([crackle.decompress(load_vector(p)[0]) for p in PARTS], axis=2)


def test_engine_is_registered():
    assert "crackle" in xr.backends.list_engines()


def test_single_file_dataset(folder):
    data = load_vector("connectomics_64x64x16_pins_markov7")[0]
    expected = crackle.decompress(data)
    ds = xr.open_dataset(folder / "1_connectomics_64x64x16_pins_markov7.ckl", engine="crackle")
    assert list(ds.data_vars) == ["labels"]
    labels = ds["labels"]
    assert labels.dims == ("x", "y", "z") and labels.shape == expected.shape and labels.dtype == expected.dtype
    assert labels.encoding["preferred_chunks"] == {"x": 64, "y": 64, "z": 16}
    assert ds.attrs["label_format"] == "pins_variable_width" and ds.attrs["markov_model_order"] == 7
    assert ds.attrs["compressed_bytes"] == len(data) and ds.attrs["files"] == 1
    for key in KEYS[:4]:
        np.testing.assert_array_equal(labels[key].values, expected[key])
    np.testing.assert_array_equal(labels.isel(z=slice(2, 4)).values, expected[:, :, 2:4])
    np.testing.assert_array_equal(labels.values, expected)


# Chunks smaller than the preferred ones make xarray warn; they are valid (any slice decodes alone).
SPLIT_CHUNKS = "ignore:The specified chunks separate the stored chunks:UserWarning"


@pytest.mark.filterwarnings(SPLIT_CHUNKS)
@pytest.mark.parametrize("chunks", [{}, "auto", {"z": 5}])
def test_glob_stack_with_dask_chunks(folder, chunks):
    ds = xr.open_dataset(str(folder / "[0-2]_connectomics_*.ckl"), engine="crackle", chunks=chunks)
    labels = ds["labels"]
    assert labels.chunks is not None and ds.attrs["files"] == 3
    expected = expected_stack()
    np.testing.assert_array_equal(labels.values, expected)
    for key in KEYS:
        np.testing.assert_array_equal(labels[key].values, expected[key])


def test_open_mfdataset_concatenates_along_z(folder):
    paths = sorted(folder.glob("[0-2]_connectomics_*.ckl"))
    ds = xr.open_mfdataset(paths, engine="crackle", combine="nested", concat_dim="z")
    assert ds["labels"].dims == ("x", "y", "z")
    assert ds["labels"].chunks[2] == (16, 16, 16)
    np.testing.assert_array_equal(ds["labels"].values, expected_stack())


def test_one_slice_files_are_2d_unless_asked(folder):
    path = folder / "3_2d_16x13_F.ckl"
    expected = crackle.decompress(path.read_bytes())
    flat = xr.open_dataset(path, engine="crackle")["labels"]
    assert flat.dims == ("x", "y")
    np.testing.assert_array_equal(flat[4:, ::2].values, expected[4:, ::2, 0])
    kept = xr.open_dataset(path, engine="crackle", ndim=3)["labels"]
    assert kept.dims == ("x", "y", "z")
    np.testing.assert_array_equal(kept.values, expected)
    with pytest.raises(ValueError, match="ndim"):
        xr.open_dataset(folder / "0_connectomics_64x64x16.ckl", engine="crackle", ndim=2)


def test_streams_in_memory_and_drop_variables(folder):
    data = load_vector("dtype_int64_extremes")[0]
    np.testing.assert_array_equal(xr.open_dataset(data, engine="crackle")["labels"].values, crackle.decompress(data))
    arr = crackle.CrackleArray(data)
    assert xr.open_dataset(arr, engine="crackle")["labels"].dtype == np.int64
    assert not xr.open_dataset(data, engine="crackle", drop_variables="labels").data_vars


def test_guess_can_open_by_magic(folder, tmp_path):
    plain = tmp_path / "volume.bin"
    plain.write_bytes(load_vector("connectomics_64x64x16")[0])
    other = tmp_path / "other.bin"
    other.write_bytes(b"CDF\x01" + bytes(100))
    backend = xr.backends.list_engines()["crackle"]
    assert backend.guess_can_open(str(plain)) and backend.guess_can_open(folder / "0_connectomics_64x64x16.ckl")
    assert not backend.guess_can_open(str(other)) and not backend.guess_can_open(str(tmp_path / "absent.bin"))
    assert backend.guess_can_open(plain.read_bytes()) and not backend.guess_can_open(b"CDF\x01")
    ds = xr.open_dataset(plain)  # no engine given: found by the magic
    np.testing.assert_array_equal(ds["labels"].values, crackle.decompress(plain.read_bytes()))


def test_open_errors(folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.ckl"):
        xr.open_dataset(tmp_path / "absent.ckl", engine="crackle")
    cut = tmp_path / "cut.ckl"
    cut.write_bytes(load_vector("connectomics_64x64x16")[0][:300])
    with pytest.raises(crackle.FormatError, match=r"cut\.ckl"):
        xr.open_dataset(cut, engine="crackle")
    with pytest.raises(ValueError, match="must match"):
        xr.open_dataset(str(folder / "*.ckl"), engine="crackle")


@pytest.mark.filterwarnings(SPLIT_CHUNKS)
def test_http_and_s3(folder, s3):
    expected = expected_stack()
    with http_server(folder) as server:
        url = f"{server.url}/1_connectomics_64x64x16_pins_markov7.ckl"
        labels = xr.open_dataset(url, engine="crackle", chunks={"z": 4})["labels"]
        np.testing.assert_array_equal(labels[:, :, 3:7].values, expected[:, :, 19:23])
        assert all(sent < 20000 for _, sent in server.requests)
    fs, options = s3
    for i, name in enumerate(PARTS):
        fs.pipe(f"volumes/xr/{i}.ckl", load_vector(name)[0])
    ds = xr.open_dataset("s3://volumes/xr/*.ckl", engine="crackle", storage_options=options, chunks={"z": 8})
    np.testing.assert_array_equal(ds["labels"].values, expected)
    np.testing.assert_array_equal(ds["labels"][:, 5, 10:40:3].values, expected[:, 5, 10:40:3])
