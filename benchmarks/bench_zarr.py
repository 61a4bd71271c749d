"""Crackle as a zarr codec against zarr's general-purpose compressors (prints one table per chunk size).

The shared 512^3 volume, stored (z, y, x) in C order (OME-Zarr's order) as zarr v3 arrays on local
disk, unsharded, with 128^3 and 256^3 chunks, for: crackle, crackle + Markov 5 + pins, zstd (level 3),
blosc-zstd with shuffle, gzip (zarr's default level); and compressed_segmentation (neuroglancer's,
8x8x8 blocks), which has no zarr codec: its chunks are encoded and decoded directly, on the same
threads, for comparison. Columns: bytes on disk, write time, full read time, and the time and bytes
read of one z slice (z = 300) from a freshly opened array. Best of ``--repeat`` runs.

Targets (issue 17): plain Crackle's bytes at most 1/2.5 of zstd's, Crackle + Markov 5 + pins at most
1/3.5; full read throughput at least 0.8x zstd's; a one-slice read at most 1/4 of zstd's time.

    python benchmarks/bench_zarr.py [--repeat 3]
"""

import argparse
import gzip
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crackle  # noqa: E402
from benchmarks.timing import best, table  # noqa: E402

DATA = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))
MIB = 1 << 20
SLICE = 300


def codecs() -> dict:
    """``{name: create_array keywords}`` of every zarr codec compared."""
    from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

    from crackle.codecs import CrackleCodec

    return {
        "crackle": dict(serializer=CrackleCodec(), compressors=None),
        "crackle, Markov 5 + pins": dict(serializer=CrackleCodec(allow_pins=True, markov_model_order=5),
                                         compressors=None),
        "zstd (level 3)": dict(compressors=ZstdCodec(level=3)),
        "blosc-zstd + shuffle": dict(compressors=BloscCodec(cname="zstd", shuffle="shuffle")),
        "gzip": dict(compressors=GzipCodec()),
    }


def recording_store(path: Path):
    """A local zarr store that counts the bytes its reads return (``store.fetched``)."""
    import zarr

    class Recording(zarr.storage.LocalStore):
        fetched = 0

        async def get(self, key, prototype, byte_range=None):
            data = await super().get(key, prototype, byte_range)
            if data is not None:
                type(self).fetched += len(data)
            return data

    return Recording(path)


def zarr_row(name: str, options: dict, volume: np.ndarray, chunk: int, folder: Path, repeat: int) -> tuple:
    import zarr

    path = folder / name.replace(" ", "_").replace(",", "").replace("+", "")

    def write():
        shutil.rmtree(path, ignore_errors=True)
        array = zarr.create_array(zarr.storage.LocalStore(path), shape=volume.shape, chunks=(chunk,) * 3,
                                  dtype=volume.dtype, fill_value=0, **options)
        array[...] = volume

    written = best(write, repeat)
    on_disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name != "zarr.json")
    array = zarr.open_array(zarr.storage.LocalStore(path, read_only=True), mode="r")
    assert np.array_equal(array[...], volume), name
    read = best(lambda: array[...], repeat)
    store = recording_store(path)
    one = zarr.open_array(store, mode="r")
    assert np.array_equal(one[SLICE], volume[SLICE]), name
    type(store).fetched = 0
    one[SLICE]
    fetched = type(store).fetched
    sliced = best(lambda: one[SLICE], repeat)
    return name, on_disk, written, read, sliced, fetched


def cseg_row(volume: np.ndarray, chunk: int, repeat: int) -> tuple:
    """compressed_segmentation of every chunk (encoded as (x, y, z) Fortran order, as neuroglancer
    stores it), on two threads: no zarr store involved."""
    import compressed_segmentation as cseg

    n = volume.shape[0] // chunk
    boxes = [tuple(slice(c * chunk, (c + 1) * chunk) for c in corner) for corner in np.ndindex(n, n, n)]
    blocks = [np.asfortranarray(volume[box].T) for box in boxes]
    with ThreadPoolExecutor(2) as pool:
        encode = lambda: list(pool.map(lambda b: cseg.compress(b, block_size=(8, 8, 8), order="F"), blocks))  # noqa: E731
        encoded = encode()
        written = best(encode, repeat)
        shape = (chunk,) * 3
        decode = lambda: list(pool.map(lambda e: cseg.decompress(e, shape, volume.dtype, (8, 8, 8), "F"), encoded))  # noqa: E731
        assert all(np.array_equal(d, b) for d, b in zip(decode(), blocks))
        read = best(decode, repeat)
    hit = [i for i, box in enumerate(boxes) if box[0].start <= SLICE < box[0].stop]
    sliced = best(lambda: [cseg.decompress(encoded[i], shape, volume.dtype, (8, 8, 8), "F")[:, :, SLICE % chunk]
                           for i in hit], repeat)
    return ("compressed_segmentation (direct)", sum(len(e) for e in encoded), written, read, sliced,
            sum(len(encoded[i]) for i in hit))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stream = gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes())
    volume = np.ascontiguousarray(crackle.decompress(stream).T)  # (z, y, x), C order
    folder = Path(tempfile.mkdtemp(prefix="bench-zarr-"))
    try:
        for chunk in (128, 256):
            rows = [zarr_row(name, options, volume, chunk, folder, args.repeat) for name, options in codecs().items()]
            rows.append(cseg_row(volume, chunk, args.repeat))
            zstd = next(r for r in rows if r[0].startswith("zstd"))
            table(f"512^3 {volume.dtype} volume as (z, y, x), {chunk}^3 chunks, unsharded, local disk "
                  f"(best of {args.repeat}); ratios against zstd (level 3)",
                  ("codec", "on disk", "/ zstd", "write", "full read", "read speed / zstd", "one z slice",
                   "/ zstd", "slice bytes read"),
                  [(name, f"{size / MIB:.2f} MiB", f"1/{zstd[1] / size:.1f}", f"{w:.2f} s", f"{r:.2f} s",
                    f"{zstd[3] / r:.2f}", f"{s * 1e3:.1f} ms", f"1/{zstd[4] / s:.1f}", f"{f / MIB:.2f} MiB")
                   for name, size, w, r, s, f in rows])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
