"""Neuroglancer precomputed layers: read lazily into Dask and xarray, against cloud-volume.

cloud-volume with crackle-codec as its codec (in a subprocess, see tests/cloudvolume_oracle.py)
writes layers of every kind: crackle, raw and compressed_segmentation chunks, plain and gzipped,
sharded (identity and murmurhash, raw and gzip indices and data) and not, with several mips, a
non-zero voxel_offset and sizes that are not multiples of the chunk size. We must read each
exactly, on local disk, moto S3 and an HTTP range server; and refuse bad layers with a
FormatError that names the file.
"""

import gzip
import json
import shutil

import numpy as np
import pytest
import xarray as xr

import crackle
import crackle_dask
from crackle_dask.precomputed import Layer
from crackle_dask.precomputed.sharding import (
    ShardingSpec, compressed_morton, minishard_index_range, murmurhash3_x86_128_low64, parse_minishard_index,
)
from tests.cloudvolume_oracle import read_layer, write_layer
from tests.segmentations import blocky
from tests.servers import http_server

SHAPE, CHUNK, OFFSET = (70, 50, 37), (32, 32, 16), (3, 5, 7)


def sharding(hash="murmurhash3_x86_128", index="gzip", data="gzip", minishard_bits=1, shard_bits=2,
             preshift_bits=1) -> dict:
    return {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": preshift_bits, "hash": hash,
            "minishard_bits": minishard_bits, "shard_bits": shard_bits, "minishard_index_encoding": index,
            "data_encoding": data}


LAYERS = {
    "crackle": dict(encoding="crackle", compress=False, dtype=np.uint32),
    "crackle-gzip-mips": dict(encoding="crackle", compress="gzip", mips=2, dtype=np.uint64),
    "raw-uint8": dict(encoding="raw", compress=False, dtype=np.uint8),
    "raw-gzip-uint16": dict(encoding="raw", compress="gzip", dtype=np.uint16),
    "cseg": dict(encoding="compressed_segmentation", dtype=np.uint64, compress="gzip"),
    "sharded-identity-raw": dict(encoding="crackle", dtype=np.uint16,
                                 sharding=sharding("identity", "raw", "raw", 2, 1, 0)),
    "sharded-murmur-gzip": dict(encoding="crackle", dtype=np.uint64, mips=1, sharding=sharding()),
    "sharded-raw-chunks": dict(encoding="raw", dtype=np.uint32, sharding=sharding("identity", "gzip", "raw", 1, 3, 0)),
}


def volume(seed, dtype, shape=SHAPE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return blocky(rng, shape, dtype, nlabels=12, boxes=30, noise=0.01)


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    """Every kind of layer in LAYERS, written by cloud-volume: ``{name: (url, array, oracle reads)}``."""
    seed = int(np.random.default_rng().integers(2**31))
    print(f"layers written from seed {seed}")
    root = tmp_path_factory.mktemp("layers")
    made = {}
    for i, (name, kw) in enumerate(LAYERS.items()):
        kw = dict(kw)
        arr = volume(seed + i, kw.pop("dtype"))
        path = root / name
        write_layer(str(path), arr, chunk_size=CHUNK, resolution=(4, 4, 40), voxel_offset=OFFSET, **kw)
        mips = [read_layer(str(path), mip) for mip in range(kw.get("mips", 0) + 1)]
        made[name] = (str(path), arr, mips)
    return made


@pytest.mark.parametrize("name", list(LAYERS))
def test_reads_every_layer_cloudvolume_writes(layers, name):
    path, arr, mips = layers[name]
    np.testing.assert_array_equal(mips[0], arr)
    for mip, expected in enumerate(mips):
        lazy = crackle_dask.open_precomputed(path, mip=mip)
        assert lazy.shape == expected.shape and lazy.dtype == arr.dtype
        assert [c[0] for c in lazy.chunks] == [min(c, n) for c, n in zip(CHUNK, expected.shape)]
        np.testing.assert_array_equal(lazy.compute(), expected)
        np.testing.assert_array_equal(crackle_dask.open_precomputed(f"precomputed://file://{path}", mip=mip,
                                                                    chunks=(64, 64, 32)).compute(), expected)


@pytest.mark.parametrize("name", ["crackle", "sharded-identity-raw", "sharded-murmur-gzip", "cseg"])
def test_xarray_reads_boxes_with_physical_coordinates(layers, name):
    path, arr, _ = layers[name]
    ds = xr.open_dataset(path, engine="crackle")
    labels = ds["labels"]
    assert labels.dims == ("x", "y", "z") and labels.shape == arr.shape
    np.testing.assert_array_equal(ds.x.values, (OFFSET[0] + np.arange(SHAPE[0])) * 4)
    np.testing.assert_array_equal(ds.z.values, (OFFSET[2] + np.arange(SHAPE[2])) * 40)
    assert ds.x.attrs["units"] == "nm" and ds.attrs["encoding"] == LAYERS[name]["encoding"]
    for key in (np.s_[:, :, 20], np.s_[5:60:3, ::-2, 10:30], np.s_[-1, 3, ::-5], np.s_[:, :, 17:18],
                np.s_[40:41, :, 15:33], np.s_[:, :, 0:0]):
        np.testing.assert_array_equal(labels[key].values, arr[key])
    np.testing.assert_array_equal(labels.sel(z=(OFFSET[2] + 21) * 40).values, arr[:, :, 21])
    assert xr.backends.plugins.guess_engine(path) == ["crackle"] or "crackle" in xr.backends.plugins.guess_engine(path)


def test_open_array_takes_precomputed_urls(layers):
    path, arr, _ = layers["crackle"]
    np.testing.assert_array_equal(crackle_dask.open_array(f"precomputed://{path}").compute(), arr)


def test_object_stores(layers, s3):
    fs, options = s3
    for name in ("crackle-gzip-mips", "sharded-murmur-gzip"):
        path, arr, mips = layers[name]
        fs.put(path, f"volumes/{name}", recursive=True)
        for mip, expected in enumerate(mips):
            lazy = crackle_dask.open_precomputed(f"precomputed://s3://volumes/{name}", mip=mip,
                                                 storage_options=options)
            np.testing.assert_array_equal(lazy.compute(), expected)
    path, arr, _ = layers["sharded-identity-raw"]
    with http_server(path) as server:
        ds = xr.open_dataset(f"precomputed://{server.url}", engine="crackle")
        np.testing.assert_array_equal(ds["labels"][:, :, 20].values, arr[:, :, 20])
        np.testing.assert_array_equal(crackle_dask.open_precomputed(server.url).compute(), arr)


def test_one_slice_of_a_sharded_layer_reads_only_what_it_needs(tmp_path, connectomics_stream):
    """The shared 512^3 volume as a sharded layer of 128^3 Crackle chunks: one z slice fetches no
    more than 1.2x the chunks it cuts plus their index entries and minishard indices (here far
    less: only those slices' crack codes)."""
    arr = crackle.decompress(connectomics_stream)
    path = tmp_path / "connectomics"
    write_layer(str(path), arr, chunk_size=(128, 128, 128),
                sharding=sharding("identity", "raw", "raw", minishard_bits=2, shard_bits=2, preshift_bits=2))
    layer = Layer.open(str(path))
    scale = layer.info.scale(0)
    with http_server(path) as server:
        ds = xr.open_dataset(f"precomputed://{server.url}", engine="crackle")
        server.requests.clear()
        np.testing.assert_array_equal(ds["labels"][:, :, 300].values, arr[:, :, 300])
        fetched = sum(sent for _, sent in server.requests)
    ids = compressed_morton(scale.points_in((0, 0, 300), (512, 512, 301)), scale.grid_shape)
    extents = [_extent_on_disk(path / scale.key, scale.sharding, chunk_id) for chunk_id in ids.tolist()]
    chunks = sum(chunk for _, chunk in extents)
    indices = 16 * len(ids) + sum(index for index, _ in extents)
    assert fetched <= 1.2 * chunks + indices
    assert fetched < chunks / 4  # Crackle's random z access: the other 127 slices stay on the server


def _extent_on_disk(folder, spec: ShardingSpec, chunk_id: int) -> tuple:
    """``(minishard index bytes, chunk bytes)`` of a chunk, read from its shard file on disk."""
    shard, minishard = (int(v[0]) for v in spec.locate([chunk_id]))
    data = (folder / spec.shard_name(shard)).read_bytes()
    start, stop = minishard_index_range(data[16 * minishard : 16 * minishard + 16], spec, len(data), "shard")
    chunk_start, chunk_stop = parse_minishard_index(data[start:stop], spec, len(data), "shard")[chunk_id]
    return stop - start, chunk_stop - chunk_start


def test_chunk_ids_and_hashes_match_cloudvolume(seed):
    from cloudvolume.datasource.precomputed import mmh3
    from cloudvolume.datasource.precomputed.common import compressed_morton_code

    rng = np.random.default_rng(seed)
    keys = np.concatenate([np.array([0, 1, 2**64 - 1], np.uint64), rng.integers(0, 2**63, 500, dtype=np.uint64)])
    theirs = [np.int64(mmh3.hash64(np.uint64(k).tobytes(), x64arch=False)[0]).view(np.uint64) for k in keys]
    np.testing.assert_array_equal(murmurhash3_x86_128_low64(keys), np.array(theirs, dtype=np.uint64))
    for grid in [(1, 1, 1), (5, 3, 9), (100, 2, 1), (7, 70, 33), (2**20, 3, 2**15)]:
        points = np.stack([rng.integers(0, n, 50) for n in grid], axis=1)
        np.testing.assert_array_equal(compressed_morton(points, grid),
                                      np.asarray(compressed_morton_code(points, grid), dtype=np.uint64))
    spec = ShardingSpec.from_json(sharding(shard_bits=5), "test")
    assert spec.shard_name(3) == "03.shard" and ShardingSpec.from_json(sharding(shard_bits=0), "t").shard_name(0) == "0.shard"


def raw_layer(root, arr, chunk=(4, 4, 3), **scale) -> dict:
    """A raw-encoded layer written by hand (unsharded): the info and one file per chunk."""
    info = {"@type": "neuroglancer_multiscale_volume", "type": "segmentation", "data_type": arr.dtype.name,
            "num_channels": 1, "scales": [{"key": "s0", "size": list(arr.shape), "resolution": [1, 1, 1],
                                           "voxel_offset": [0, 0, 0], "chunk_sizes": [list(chunk)],
                                           "encoding": "raw", **scale}]}
    (root / "s0").mkdir(parents=True, exist_ok=True)
    (root / "info").write_text(json.dumps(info))
    for x in range(0, arr.shape[0], chunk[0]):
        for y in range(0, arr.shape[1], chunk[1]):
            for z in range(0, arr.shape[2], chunk[2]):
                block = arr[x : x + chunk[0], y : y + chunk[1], z : z + chunk[2]]
                name = "_".join(f"{a}-{a + n}" for a, n in zip((x, y, z), block.shape))
                (root / "s0" / name).write_bytes(block.tobytes(order="F"))
    return info


def test_missing_chunks(tmp_path, seed):
    arr = volume(seed, np.uint16, (10, 9, 7))
    raw_layer(tmp_path, arr)
    (tmp_path / "s0" / "4-8_0-4_3-6").unlink()
    with pytest.raises(crackle.FormatError, match="4-8_0-4_3-6"):
        crackle_dask.open_precomputed(str(tmp_path)).compute()
    expected = arr.copy()
    expected[4:8, 0:4, 3:6] = 0
    np.testing.assert_array_equal(crackle_dask.open_precomputed(str(tmp_path), fill_missing=True).compute(), expected)
    ds = xr.open_dataset(str(tmp_path), engine="crackle", fill_missing=True)
    np.testing.assert_array_equal(ds["labels"][:, :, 4].values, expected[:, :, 4])


@pytest.mark.parametrize("change, message", [
    (lambda i: i.pop("scales"), "'scales'"),
    (lambda i: i.update(data_type="complex64"), "data_type"),
    (lambda i: i.update(num_channels=0), "num_channels"),
    (lambda i: i["scales"][0].update(chunk_sizes=[[4, 0, 3]]), "chunk_sizes"),
    (lambda i: i["scales"][0].update(chunk_sizes="4,4,3"), "chunk_sizes"),
    (lambda i: i["scales"][0].update(size=[10, 9]), "'size'"),
    (lambda i: i["scales"][0].update(resolution=[1, "a", 1]), "resolution"),
    (lambda i: i["scales"][0].pop("key"), "'key'"),
    (lambda i: i["scales"][0].update(encoding="jpeg"), "encoding 'jpeg'"),
    (lambda i: i["scales"][0].update(sharding=dict(sharding(), hash="md5")), "hash 'md5'"),
    (lambda i: i["scales"][0].update(sharding=dict(sharding(), shard_bits=-1)), "shard_bits"),
    (lambda i: i["scales"][0].update(sharding=dict(sharding(), data_encoding="zip")), "data_encoding"),
    (lambda i: i["scales"][0].update(encoding="compressed_segmentation"), "compressed_segmentation"),
])
def test_malformed_info_is_a_format_error_naming_the_file(tmp_path, change, message):
    info = raw_layer(tmp_path, np.zeros((10, 9, 7), np.uint8))
    change(info)
    (tmp_path / "info").write_text(json.dumps(info))
    with pytest.raises(crackle.FormatError, match=message) as caught:
        crackle_dask.open_precomputed(str(tmp_path))
    assert str(tmp_path / "info") in str(caught.value)
    (tmp_path / "info").write_text("{not json")
    with pytest.raises(crackle.FormatError, match="not JSON"):
        crackle_dask.open_precomputed(str(tmp_path))
    (tmp_path / "info").unlink()
    with pytest.raises(crackle.FormatError, match="info file is missing"):
        crackle_dask.open_precomputed(str(tmp_path))


def test_chunks_of_the_wrong_shape_or_bytes(tmp_path, seed):
    arr = volume(seed, np.uint32, (10, 9, 7))
    raw_layer(tmp_path, arr)
    (tmp_path / "s0" / "0-4_0-4_0-3").write_bytes(b"\0" * 12)
    with pytest.raises(crackle.FormatError, match="0-4_0-4_0-3.*192 bytes, not 12"):
        crackle_dask.open_precomputed(str(tmp_path)).compute()
    info = json.loads((tmp_path / "info").read_text())
    info["scales"][0]["encoding"] = "crackle"
    (tmp_path / "info").write_text(json.dumps(info))
    for name in ("0-4_0-4_0-3", "8-10_8-9_6-7"):
        (tmp_path / "s0" / name).write_bytes(crackle.compress(np.zeros((4, 4, 3), np.uint32)))
    with pytest.raises(crackle.FormatError, match=r"8-10_8-9_6-7.*\(4, 4, 3\) uint32.*\(2, 1, 1\) uint32"):
        crackle_dask.open_precomputed(str(tmp_path))[8:, 8:, 6:].compute()
    (tmp_path / "s0" / "8-10_8-9_6-7").write_bytes(crackle.compress(np.zeros((2, 1, 1), np.uint8)))
    with pytest.raises(crackle.FormatError, match=r"8-10_8-9_6-7.*uint8"):
        crackle_dask.open_precomputed(str(tmp_path))[8:, 8:, 6:].compute()
    (tmp_path / "s0" / "8-10_8-9_6-7").write_bytes(b"crkl" + b"\xff" * 40)
    with pytest.raises(crackle.FormatError, match="8-10_8-9_6-7"):
        crackle_dask.open_precomputed(str(tmp_path))[8:, 8:, 6:].compute()


def test_damaged_shards(layers, tmp_path):
    path, arr, _ = layers["sharded-identity-raw"]
    spec = ShardingSpec.from_json(LAYERS["sharded-identity-raw"]["sharding"], "test")
    for damage, message in [("truncate", "truncated"), ("index", "minishard"), ("entry", "claims")]:
        copy = tmp_path / damage
        shutil.copytree(path, copy)
        folder = copy / Layer.open(str(copy)).info.scale(0).key
        shard = sorted(folder.glob("*.shard"))[0]
        data = bytearray(shard.read_bytes())
        if damage == "truncate":
            data = data[: len(data) // 2]
        elif damage == "index":
            start, stop = minishard_index_range(bytes(data[:16]), spec, len(data), "shard")
            data[start:stop] = b"\xff" * (stop - start)
        else:
            data[8:16] = (2**40).to_bytes(8, "little")
        shard.write_bytes(bytes(data))
        with pytest.raises(crackle.FormatError, match=shard.name) as caught:
            crackle_dask.open_precomputed(str(copy)).compute()
        assert message in str(caught.value), (damage, caught.value)


WRITES = {
    "crackle-plain-uint8": dict(dtype=np.uint8),
    "crackle-gzip-pins-markov": dict(dtype=np.uint16, compress="gzip", allow_pins=True, markov_model_order=3),
    "crackle-sharded-mips": dict(dtype=np.uint64, sharding=True, mips=2),
    "crackle-sharded-murmur": dict(dtype=np.uint32, mips=1, sharding=dict(sharding(), data_encoding="raw")),
    "raw": dict(dtype=np.uint32, encoding="raw"),
    "cseg-sharded": dict(dtype=np.uint64, encoding="compressed_segmentation",
                         sharding=sharding("identity", "gzip", "gzip", 1, 1, 1)),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_cloudvolume_reads_what_we_write(tmp_path, seed, name):
    import dask.array as da

    kw = dict(WRITES[name])
    arr = volume(seed, kw.pop("dtype"))
    lazy = da.from_array(arr, chunks=(23, 50, 9))  # chunks that do not match the storage grid
    url = crackle_dask.to_precomputed(lazy, str(tmp_path / "layer"), resolution=(4, 4, 40), voxel_offset=OFFSET,
                                      chunk_size=CHUNK, **kw)
    assert url == f"precomputed://file://{tmp_path / 'layer'}"
    for mip in range(kw.get("mips", 0) + 1):
        ours = crackle_dask.open_precomputed(url, mip=mip).compute()
        np.testing.assert_array_equal(read_layer(str(tmp_path / "layer"), mip), ours)
        expected = arr
        for _ in range(mip):
            expected = crackle.decompress(crackle.mode_pooling_2x2x1(crackle.compress(expected)))
        np.testing.assert_array_equal(ours, expected)
    layer = Layer.open(url)
    assert layer.info.scale(0).voxel_offset == OFFSET and layer.info.scale(0).resolution == (4, 4, 40)
    if name == "crackle-plain-uint8":
        chunk = (tmp_path / "layer" / "4_4_40" / "35-67_37-55_23-39").read_bytes()
        assert chunk == crackle.compress(np.asfortranarray(arr[32:64, 32:50, 16:32]))


def test_geometry_from_xarray_and_opened_layers(tmp_path, layers):
    path, arr, _ = layers["raw-uint8"]
    ds = xr.open_dataset(path, engine="crackle")
    url = crackle_dask.to_precomputed(ds, str(tmp_path / "from-xarray"), chunk_size=(64, 64, 64))
    scale = Layer.open(url).info.scale(0)
    assert scale.resolution == (4, 4, 40) and scale.voxel_offset == OFFSET and scale.encoding == "crackle"
    url = crackle_dask.to_precomputed(crackle_dask.open_precomputed(path), str(tmp_path / "transcoded"),
                                      sharding=True)
    layer = Layer.open(url)
    assert layer.info.scale(0).resolution == (4, 4, 40) and layer.info.scale(0).voxel_offset == OFFSET
    assert layer.info.scale(0).sharding is not None
    np.testing.assert_array_equal(crackle_dask.open_precomputed(url).compute(), arr)
    shifted = ds["labels"][10:, :, 3:]  # coordinates say where it starts
    scale = Layer.open(crackle_dask.to_precomputed(shifted, str(tmp_path / "cut"))).info.scale(0)
    assert scale.voxel_offset == (OFFSET[0] + 10, OFFSET[1], OFFSET[2] + 3)


def _failing(block, block_info=None):
    if block_info[0]["chunk-location"] == (1, 1, 1):
        raise RuntimeError("this block fails")
    return block


def test_a_failed_write_leaves_no_info_and_old_files_whole(tmp_path, seed):
    """(On the synchronous scheduler: with threads, tasks already running when one fails finish
    after the job has raised, so what the folder holds at that moment would vary.)"""
    import dask
    import dask.array as da

    old = volume(seed, np.uint32)
    new = volume(seed + 1, np.uint32)
    failing = da.from_array(new, chunks=CHUNK).map_blocks(_failing, dtype=new.dtype)
    with dask.config.set(scheduler="synchronous"), pytest.raises(RuntimeError, match="this block fails"):
        crackle_dask.to_precomputed(failing, str(tmp_path / "fresh"), chunk_size=CHUNK)
    assert not (tmp_path / "fresh" / "info").exists()
    url = crackle_dask.to_precomputed(old, str(tmp_path / "kept"), chunk_size=CHUNK)
    info = (tmp_path / "kept" / "info").read_bytes()
    with dask.config.set(scheduler="synchronous"), pytest.raises(RuntimeError, match="this block fails"):
        crackle_dask.to_precomputed(failing, str(tmp_path / "kept"), chunk_size=CHUNK)
    assert (tmp_path / "kept" / "info").read_bytes() == info
    assert not [p for p in (tmp_path / "kept").rglob("*") if p.name.startswith(".")]  # no temporary files left
    read = crackle_dask.open_precomputed(url).compute()
    for x in range(0, SHAPE[0], CHUNK[0]):
        for y in range(0, SHAPE[1], CHUNK[1]):
            for z in range(0, SHAPE[2], CHUNK[2]):
                box = np.s_[x : x + CHUNK[0], y : y + CHUNK[1], z : z + CHUNK[2]]
                assert np.array_equal(read[box], old[box]) or np.array_equal(read[box], new[box])


def test_write_and_read_on_s3(s3, seed):
    fs, options = s3
    arr = volume(seed, np.uint64)
    for name, kw in (("plain", {"compress": "gzip"}), ("sharded", {"sharding": True, "mips": 1})):
        url = crackle_dask.to_precomputed(arr, f"s3://volumes/written-{name}", chunk_size=CHUNK,
                                          storage_options=options, **kw)
        assert url == f"precomputed://s3://volumes/written-{name}"
        np.testing.assert_array_equal(crackle_dask.open_precomputed(url, storage_options=options).compute(), arr)
    chunk = fs.info("volumes/written-plain/1_1_1/0-32_0-32_0-16")
    assert chunk["size"] > 0 and fs.cat_file("volumes/written-plain/1_1_1/0-32_0-32_0-16")[:2] == b"\x1f\x8b"


def test_several_channels_keep_their_axis(tmp_path, seed):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (10, 9, 7, 3), dtype=np.uint8)
    info = {"type": "image", "data_type": "uint8", "num_channels": 3,
            "scales": [{"key": "s0", "size": [10, 9, 7], "resolution": [2, 2, 2], "chunk_sizes": [[4, 4, 3]],
                        "encoding": "raw"}]}
    (tmp_path / "s0").mkdir()
    (tmp_path / "info").write_text(json.dumps(info))
    for x in range(0, 10, 4):
        for y in range(0, 9, 4):
            for z in range(0, 7, 3):
                block = arr[x : x + 4, y : y + 4, z : z + 3]
                name = "_".join(f"{a}-{a + n}" for a, n in zip((x, y, z), block.shape))
                (tmp_path / "s0" / name).write_bytes(block.tobytes(order="F"))
    lazy = crackle_dask.open_precomputed(str(tmp_path))
    assert lazy.shape == (10, 9, 7, 3)
    np.testing.assert_array_equal(lazy.compute(), arr)
    ds = xr.open_dataset(f"precomputed://{tmp_path}", engine="crackle")
    assert ds["labels"].dims == ("x", "y", "z", "c")
    np.testing.assert_array_equal(ds["labels"][2:9, :, 4, 1].values, arr[2:9, :, 4, 1])


def test_chunk_files_compressed_by_suffix_or_magic(tmp_path, seed):
    import brotli
    import zstandard

    arr = volume(seed, np.uint32, (10, 9, 7))
    raw_layer(tmp_path, arr)
    files = sorted((tmp_path / "s0").iterdir())
    for i, path in enumerate(files):
        data = path.read_bytes()
        kind = i % 4
        if kind == 0:  # .gz, as cloud-volume names them on local disks
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
        elif kind == 1:
            path.with_name(path.name + ".br").write_bytes(brotli.compress(data))
        elif kind == 2:
            path.with_name(path.name + ".zstd").write_bytes(zstandard.ZstdCompressor().compress(data))
        else:  # the plain name holding gzip, as an object store with Content-Encoding gives it
            path.write_bytes(gzip.compress(data))
            continue
        path.unlink()
    np.testing.assert_array_equal(crackle_dask.open_precomputed(str(tmp_path)).compute(), arr)
    (tmp_path / "s0" / files[1].name).with_name(files[1].name + ".br").write_bytes(b"not brotli")
    with pytest.raises(crackle.FormatError, match=files[1].name + ".br"):
        crackle_dask.open_precomputed(str(tmp_path)).compute()
