"""Crackle as a zarr codec (crackle.codecs): zarr v3 arrays with the "crackle" serializer, sharded
and not, zarr v2 arrays with the numcodecs codec; every dtype, 1-3 axes, edge chunks, C and F order;
chunk bytes are crackle.compress of the chunk; partial reads fetch only the slices they need."""

import numpy as np
import pytest

import zarr

import crackle
from crackle.codecs import Crackle, CrackleCodec
from crackle.format.stream import MemoryStream
from tests.segmentations import DTYPES, blocky


def labels(rng, shape, dtype) -> np.ndarray:
    """Blocky labels of any dtype and 1 to 3 axes (bool: two classes)."""
    full = tuple(shape) + (1,) * (3 - len(shape))
    arr = blocky(rng, full, np.dtype(dtype) if np.dtype(dtype) != bool else np.uint8, nlabels=6, boxes=8)
    arr = arr.reshape(shape)
    return arr.astype(bool) if np.dtype(dtype) == bool else arr


def v3_array(store, arr, chunks, shards=None, order="C", **codec):
    z = zarr.create_array(store, shape=arr.shape, chunks=chunks, shards=shards, dtype=arr.dtype,
                          config={"order": order, "write_empty_chunks": True},  # (every chunk is a file)
                          serializer=CrackleCodec(**codec), compressors=None, fill_value=0)
    z[...] = arr
    return z


@pytest.mark.parametrize("dtype", DTYPES + [np.bool_])
def test_v3_round_trips_every_dtype_and_shape(seed, dtype, tmp_path):
    rng = np.random.default_rng(seed)
    for shape, chunks in (((19, 23, 11), (8, 10, 5)), ((17, 9), (5, 4)), ((30,), (7,))):
        arr = labels(rng, shape, dtype)
        for order in ("C", "F"):
            for shards in (None, tuple(2 * c for c in chunks)):
                store = zarr.storage.LocalStore(tmp_path / f"{len(shape)}-{order}-{shards is not None}")
                v3_array(store, arr, chunks, shards, order)
                again = zarr.open_array(store, mode="r")
                (codec,) = again.metadata.to_dict()["codecs"]
                if shards:
                    codec = codec["configuration"]["codecs"][0]
                assert codec["name"] == "crackle"
                np.testing.assert_array_equal(again[...], arr)
                assert again.dtype == arr.dtype
                index = tuple(slice(1, n - 1, 2) for n in shape)
                np.testing.assert_array_equal(again[index], arr[index])


def test_v3_chunk_bytes_are_crackle_compress_of_the_chunk(seed, tmp_path):
    rng = np.random.default_rng(seed)
    arr = labels(rng, (20, 16, 12), np.uint32)
    store = zarr.storage.LocalStore(tmp_path / "a")
    v3_array(store, arr, (8, 8, 8), markov_model_order=5, allow_pins=True)
    for (i, j, k) in np.ndindex(3, 2, 2):
        chunk = np.zeros((8, 8, 8), np.uint32)  # edge chunks are padded with the fill value
        part = arr[8 * i : 8 * i + 8, 8 * j : 8 * j + 8, 8 * k : 8 * k + 8]
        chunk[tuple(slice(0, n) for n in part.shape)] = part
        stored = (tmp_path / "a" / "c" / str(i) / str(j) / str(k)).read_bytes()
        assert stored == crackle.compress(chunk.T, allow_pins=True, markov_model_order=5)
        np.testing.assert_array_equal(crackle.decompress(stored), chunk.T)


def test_v3_selections_inside_a_chunk(seed):
    rng = np.random.default_rng(seed)
    arr = labels(rng, (40, 12, 10), np.uint16)
    store = zarr.storage.MemoryStore()
    z = v3_array(store, arr, (16, 12, 10))
    for key in (5, slice(3, 30, 4), slice(17, 18), -1, (slice(2, 9), 3), (7, slice(None), 4)):
        np.testing.assert_array_equal(z[key], arr[key])
    picks = ([1, 5, 33], 2, [3, 4])
    np.testing.assert_array_equal(z.oindex[picks], arr[np.ix_([1, 5, 33], [2], [3, 4])][:, 0, :])
    points = ([0, 17, 39], [1, 2, 11], [9, 0, 5])
    np.testing.assert_array_equal(z.vindex[points], arr[points])


def test_v2_arrays_with_the_numcodecs_codec(seed, tmp_path):
    rng = np.random.default_rng(seed)
    for dtype in (np.uint8, np.int32, np.uint64, np.bool_):
        arr = labels(rng, (13, 11, 9), dtype)
        for order in ("C", "F"):
            path = tmp_path / f"{np.dtype(dtype).name}-{order}"
            z = zarr.create_array(str(path), shape=arr.shape, chunks=(5, 4, 9), dtype=arr.dtype, zarr_format=2,
                                  compressors=Crackle(markov_model_order=2), filters=None, order=order, fill_value=0)
            z[...] = arr
            again = zarr.open_array(str(path), mode="r")
            assert again.metadata.to_dict()["compressor"]["id"] == "crackle"
            np.testing.assert_array_equal(again[...], arr)
            np.testing.assert_array_equal(again[2:9, 1, ::2], arr[2:9, 1, ::2])


def test_numcodecs_codec_alone():
    import numcodecs

    arr = np.arange(24, dtype=np.uint16).reshape(2, 3, 4)
    codec = numcodecs.get_codec({"id": "crackle", "markov_model_order": 3})
    assert isinstance(codec, Crackle) and codec.get_config() == {"id": "crackle", "allow_pins": False,
                                                                 "markov_model_order": 3, "parallel": 1}
    stream = codec.encode(arr)
    assert stream == crackle.compress(arr.T, markov_model_order=3)
    np.testing.assert_array_equal(codec.decode(stream), arr)
    out = np.zeros_like(arr)
    assert codec.decode(stream, out=out) is out and np.array_equal(out, arr)
    with pytest.raises(ValueError, match="integer and bool"):
        codec.encode(arr.astype(np.float32))
    with pytest.raises(ValueError, match="markov_model_order"):
        Crackle(markov_model_order=99)


def test_bad_chunks_raise_format_errors_naming_them(seed, tmp_path):
    rng = np.random.default_rng(seed)
    arr = labels(rng, (16, 8, 8), np.uint32)
    store = zarr.storage.LocalStore(tmp_path / "a")
    v3_array(store, arr, (8, 8, 8))
    chunk = tmp_path / "a" / "c" / "1" / "0" / "0"
    good = chunk.read_bytes()
    chunk.write_bytes(good[: len(good) // 2])
    z = zarr.open_array(store, mode="r")
    with pytest.raises(crackle.FormatError, match="c/1/0/0"):
        z[...]
    chunk.write_bytes(crackle.compress(np.zeros((8, 8, 4), np.uint32)))  # another shape
    with pytest.raises(crackle.FormatError, match="c/1/0/0.*8 x 8 x 4"):
        z[...]
    chunk.write_bytes(crackle.compress(np.zeros((8, 8, 8), np.uint16)))  # another dtype
    with pytest.raises(crackle.FormatError, match="uint16"):
        z[12]
    np.testing.assert_array_equal(z[:8], arr[:8])  # the other chunk reads as it was


def test_refuses_what_crackle_cannot_store(tmp_path):
    with pytest.raises(ValueError, match="integer and bool"):
        zarr.create_array(zarr.storage.MemoryStore(), shape=(4, 4, 4), chunks=(2, 2, 2), dtype="float32",
                          serializer=CrackleCodec(), compressors=None)
    with pytest.raises(ValueError, match="1 to 3 axes"):
        zarr.create_array(zarr.storage.MemoryStore(), shape=(4, 4, 4, 2), chunks=(2, 2, 2, 2), dtype="uint8",
                          serializer=CrackleCodec(), compressors=None)
    assert CrackleCodec.from_dict(CrackleCodec(markov_model_order=4).to_dict()) == CrackleCodec(markov_model_order=4)


def recording(store_class):
    """A subclass of a zarr store class that records, per key, the bytes its gets return
    (``fetched``) and the byte range of each get (``requests``)."""

    class Recording(store_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.fetched, self.requests = {}, {}

        async def get(self, key, prototype, byte_range=None):
            data = await super().get(key, prototype, byte_range)
            self.requests.setdefault(key, []).append(byte_range)
            if data is not None:
                self.fetched[key] = self.fetched.get(key, 0) + len(data)
            return data

    return Recording


RecordingStore = recording(zarr.storage.MemoryStore)


def test_one_slice_fetches_what_it_needs(seed):
    """One z slice of a 64^3 chunk fetches its header, index, labels, Markov model, its crack code
    and checksums: that, plus the checksums of the slices before it (4 bytes each), within the
    issue's bound of 1.2x plus 16 KiB."""
    rng = np.random.default_rng(seed)
    arr = blocky(rng, (64, 64, 64), np.uint32, nlabels=6, boxes=8, noise=0.05)
    store = RecordingStore()
    array = v3_array(store, arr, (64, 64, 64), markov_model_order=5)
    stream = store._store_dict["c/0/0/0"].to_bytes()
    offsets = MemoryStream(stream).layout.code_offsets
    for z in (0, 31, 63):
        store.fetched.clear()
        np.testing.assert_array_equal(array[z], arr[z])
        needed = int(offsets[0] + offsets[z + 1] - offsets[z]) + 4 + 4  # (labels crc32c, the slice's)
        assert store.fetched["c/0/0/0"] == needed + 4 * z <= 1.2 * needed + 16 * 1024
        assert offsets[z + 1] - offsets[z] < len(stream) / 20  # (a real saving: one slice of 64)
    store.requests.clear()
    np.testing.assert_array_equal(array[...], arr)  # the header and index, then the rest in one request
    head = MemoryStream(stream).header
    index_end = head.header_bytes + head.grid_index_bytes
    assert [(r.start, r.end) for r in store.requests["c/0/0/0"]] == [(0, index_end), (index_end, len(stream))]


def test_local_chunks_are_read_in_one_request(seed, tmp_path):
    """A local file is read whole, once (a request costs far more than its bytes there); still only
    the slices asked for are decoded."""
    rng = np.random.default_rng(seed)
    arr = labels(rng, (32, 20, 12), np.uint32)
    v3_array(zarr.storage.LocalStore(tmp_path / "a"), arr, (16, 20, 12))
    store = recording(zarr.storage.LocalStore)(tmp_path / "a", read_only=True)
    array = zarr.open_array(store, mode="r")
    for key in (5, slice(14, 20), (slice(None), 3)):
        store.requests.clear()
        np.testing.assert_array_equal(array[key], arr[key])
        chunks = [k for k in store.requests if k.startswith("c/")]
        assert chunks and all(store.requests[k] == [None] for k in chunks)


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_to_zarr_and_what_reads_it(seed, tmp_path, zarr_format):
    """crackle_dask.to_zarr writes (z, y, x); dask, xarray and zarr read it back as written."""
    import dask.array as da
    import xarray as xr

    import crackle_dask

    rng = np.random.default_rng(seed)
    arr = labels(rng, (37, 29, 21), np.uint64)
    url = str(tmp_path / "v.zarr")
    crackle_dask.to_zarr(da.from_array(arr, chunks=(20, 20, 10)), url, chunks=(16, 16, 8), zarr_format=zarr_format,
                         markov_model_order=3)
    np.testing.assert_array_equal(da.from_zarr(url, component="labels").compute(), arr.T)
    opened = xr.open_zarr(url, consolidated=False)
    assert opened.labels.dims == ("z", "y", "x") and opened.labels.dtype == arr.dtype
    np.testing.assert_array_equal(opened.labels.isel(z=9).values, arr[:, :, 9].T)
    with pytest.raises(Exception):  # an existing array stays unless overwrite=True
        crackle_dask.to_zarr(arr, url, chunks=(16, 16, 8), zarr_format=zarr_format)
    crackle_dask.to_zarr(arr[::-1], url, chunks=(16, 16, 8), zarr_format=zarr_format, overwrite=True)
    np.testing.assert_array_equal(da.from_zarr(url, component="labels").compute(), arr[::-1].T)


def test_xarray_and_dask_write_with_the_codec_in_their_encoding(seed, tmp_path):
    import dask.array as da
    import xarray as xr

    rng = np.random.default_rng(seed)
    arr = labels(rng, (24, 20, 16), np.uint32)
    ds = xr.Dataset({"labels": (("z", "y", "x"), arr)})
    ds.to_zarr(tmp_path / "x.zarr", encoding={"labels": {"serializer": CrackleCodec(), "compressors": None,
                                                         "chunks": (8, 10, 12)}}, consolidated=False)
    np.testing.assert_array_equal(xr.open_zarr(tmp_path / "x.zarr", consolidated=False).labels.values, arr)
    da.to_zarr(da.from_array(arr, chunks=(8, 10, 12)), str(tmp_path / "d.zarr"), serializer=CrackleCodec(),
               compressors=None)
    np.testing.assert_array_equal(da.from_zarr(str(tmp_path / "d.zarr")).compute(), arr)


def test_sharded_zarr_on_s3(seed, s3):
    import crackle_dask

    fs, options = s3
    rng = np.random.default_rng(seed)
    arr = labels(rng, (33, 18, 20), np.uint16)
    url = f"s3://volumes/zarr-{seed}.zarr"
    crackle_dask.to_zarr(arr, url, chunks=(8, 9, 5), shards=(16, 18, 10), storage_options=options)
    store = zarr.storage.FsspecStore.from_url(url, storage_options=options, read_only=True)
    array = zarr.open_array(store, path="labels", mode="r")
    np.testing.assert_array_equal(array[...], arr.T)
    np.testing.assert_array_equal(array[7, 3:15, 2], arr[2, 3:15, 7])


def test_crackle_codec_decodes_every_chunk_file(seed, tmp_path, reference):
    from tests.reference import reference_decompress

    rng = np.random.default_rng(seed)
    arr = labels(rng, (21, 17, 12), np.uint32)
    v3_array(zarr.storage.LocalStore(tmp_path / "a"), arr, (8, 8, 8), allow_pins=True, markov_model_order=2)
    files = sorted(p for p in (tmp_path / "a" / "c").rglob("*") if p.is_file())
    assert len(files) == 3 * 3 * 2
    for path, decoded in zip(files, reference_decompress([p.read_bytes() for p in files])):
        i, j, k = (int(part) for part in path.relative_to(tmp_path / "a" / "c").parts)
        chunk = np.zeros((8, 8, 8), np.uint32)
        part = arr[8 * i : 8 * i + 8, 8 * j : 8 * j + 8, 8 * k : 8 * k + 8]
        chunk[tuple(slice(0, n) for n in part.shape)] = part
        np.testing.assert_array_equal(decoded.reshape(8, 8, 8), chunk.T)


def test_one_slice_of_a_256_chunk_over_http(connectomics_stream, tmp_path):
    """The issue's bound on the HTTP range server: one z slice of a 256^3 unsharded chunk of the
    shared volume fetches at most 1.2x what that slice strictly needs, plus 16 KiB."""
    import crackle_dask
    from tests.servers import http_server

    arr = crackle.decompress(connectomics_stream)[:256, :256, :256]
    crackle_dask.to_zarr(arr, str(tmp_path / "v.zarr"), chunks=(256, 256, 256))
    stream = (tmp_path / "v.zarr" / "labels" / "c" / "0" / "0" / "0").read_bytes()
    offsets = MemoryStream(stream).layout.code_offsets
    with http_server(tmp_path) as server:
        store = zarr.storage.FsspecStore.from_url(f"{server.url}/v.zarr", read_only=True)
        array = zarr.open_array(store, path="labels", mode="r")
        for z in (0, 100, 255):
            server.requests.clear()
            np.testing.assert_array_equal(array[z], arr[:, :, z].T)
            fetched = sum(sent for path, sent in server.requests if path.endswith("/c/0/0/0"))
            needed = int(offsets[0] + offsets[z + 1] - offsets[z]) + 4 + 4
            assert needed <= fetched <= 1.2 * needed + 16 * 1024
            assert fetched < len(stream) / 4


def test_import_crackle_does_not_load_zarr():
    import subprocess
    import sys

    from tests.children import child_env

    code = ("import sys, crackle, crackle.codecs; "
            "print(any(m.split('.')[0] in ('zarr', 'numcodecs') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_an_ome_zarr_image_of_crackle_arrays(seed, tmp_path):
    """An OME-Zarr 0.5 multiscale label image (a zarr v3 group: "ome" attributes, one (z, y, x) array
    per scale) whose arrays use the codec reads back level by level through zarr and dask."""
    import dask.array as da

    rng = np.random.default_rng(seed)
    arr = labels(rng, (24, 20, 16), np.uint32)
    levels = [arr, arr[::2, ::2, ::2]]
    group = zarr.open_group(tmp_path / "image.ome.zarr", mode="w", zarr_format=3)
    axes = [{"name": name, "type": "space", "unit": "nanometer"} for name in "zyx"]
    datasets = [{"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": [2.0 ** i] * 3}]}
                for i in range(len(levels))]
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": axes, "datasets": datasets}],
                          "image-label": {"version": "0.5"}}
    for i, level in enumerate(levels):
        z = group.create_array(str(i), shape=level.shape, chunks=(8, 8, 8), dtype=level.dtype,
                               dimension_names=("z", "y", "x"), serializer=CrackleCodec(), compressors=None,
                               fill_value=0)
        z[...] = level
    opened = zarr.open_group(tmp_path / "image.ome.zarr", mode="r")
    multiscale = opened.attrs["ome"]["multiscales"][0]
    for dataset, level in zip(multiscale["datasets"], levels):
        array = opened[dataset["path"]]
        assert array.metadata.dimension_names == ("z", "y", "x")
        assert array.metadata.codecs[0].to_dict()["name"] == "crackle"
        np.testing.assert_array_equal(da.from_zarr(array).compute(), level)
