"""Whole-layer jobs on a volume several times this machine's memory (run by hand).

The shared 512^3 volume tiled 8 x 8 x 2 as uint64: 4096 x 4096 x 1024 voxels,
128 GiB decoded, with alternate tiles mirrored (tile (i, j, k) flipped along x
if i is odd, y if j is odd, z if k is odd) so that labels meet across tile
faces and objects span chunks and tiles. It is generated lazily (each 128^3
chunk read from a 128^3-chunk layer of the 512^3 volume, flipped, widened),
written with ``to_precomputed`` (128^3 chunks, sharded), then analysed on a
local cluster of 2 worker processes x 1 thread:

- ``voxel_counts``: every count must be the tile's count times the 128 tiles;
- ``bounding_boxes``: each label's box must be the union of its tile boxes,
  mirrored as the tiles are;
- ``connected_components(26)``: the count must be that of the tile's
  components joined across the mirrored tile faces, edges and corners,
  computed here from the 512^3 tile alone.

Prints wall time per step, voxels per second per core, bytes on disk, the
highest peak resident memory a worker reached in each step (its VmHWM, reset
before the step), and the number of tasks.

    python benchmarks/bench_scale.py [--tiles 8 8 2]
"""

import argparse
import gzip
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crackle  # noqa: E402
import crackle_dask  # noqa: E402
from benchmarks.timing import peak, reset_peak, table  # noqa: E402
from crackle.kernels.union_find import roots, union_pairs  # noqa: E402
from crackle_dask.components import touching  # noqa: E402
from crackle_dask.precomputed import Layer  # noqa: E402

DATA = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))
TILE, CHUNK = 512, 128
GIB = 1 << 30


def tiled_chunk(layer: Layer, block_info=None) -> np.ndarray:
    """One chunk of the tiled volume: the tile's box (mirrored as its tile is), as uint64."""
    start, stop, flips = [], [], []
    for a, b in block_info[None]["array-location"]:
        tile = a // TILE
        low, high = a - tile * TILE, b - tile * TILE
        if tile % 2:
            low, high = TILE - high, TILE - low
        start.append(low)
        stop.append(high)
        flips.append(slice(None, None, -1) if tile % 2 else slice(None))
    block = layer.read_region(0, start, stop)[..., 0][tuple(flips)]
    return np.asfortranarray(block, dtype=np.uint64)


def tiled_volume(layer: Layer, tiles):
    import dask.array as da

    chunks = tuple((CHUNK,) * (TILE * n // CHUNK) for n in tiles)
    return da.map_blocks(tiled_chunk, layer, chunks=chunks, dtype=np.uint64, meta=np.zeros((0, 0, 0), np.uint64))


def expected_boxes(tile_boxes: dict, tiles) -> dict:
    """Each label's box in the tiled volume, from its box in the tile: it starts where it starts in
    tile 0 (as is) and ends where it ends in the last tile (mirrored if that tile's index is odd)."""
    last = np.array(tiles) - 1
    boxes = {}
    for label, box in tile_boxes.items():
        low, high = np.array(box[:3], dtype=np.int64), np.array(box[3:], dtype=np.int64)
        boxes[label] = np.concatenate([low, np.where(last % 2, TILE - 1 - low, high) + last * TILE])
    return boxes


def expected_components(labels: np.ndarray, tiles) -> int:
    """26-connected components of the tiled volume, from the tile alone: the tile's components, in
    every tile, joined where mirrored tiles meet. Across a face (edge, corner) between tiles the
    touching voxels are the same face (edge, corner) of the tile, seen from both sides."""
    ids = crackle.connected_components(crackle.compress(labels), 26).numpy()
    count = int(ids.max())
    grid = list(itertools.product(*[range(n) for n in tiles]))
    index = {t: i for i, t in enumerate(grid)}
    pairs = []
    for d in (d for d in itertools.product((-1, 0, 1), repeat=3) if d > (0, 0, 0)):
        for t in grid:
            u = tuple(a + b for a, b in zip(t, d))
            if u not in index:
                continue
            # Along a step, tile t shows u its last slice (first, stepping back), which is the tile's
            # last (first) slice, or its first (last) if t is mirrored; u shows t the same slice.
            at = tuple(slice(None) if s == 0 else (TILE - 1 if (s > 0) == (t[k] % 2 == 0) else 0)
                       for k, s in enumerate(d))
            side = (ids[at], labels[at])
            pairs.append(touching(side, side, 26, False) + np.array([index[t], index[u]]) * count)
    joined, ends = np.unique(np.concatenate(pairs), return_inverse=True)
    parent = np.arange(joined.size)
    union_pairs(parent, *ends.reshape(-1, 2).T.copy())
    return count * len(grid) - int(np.count_nonzero(roots(parent) != np.arange(joined.size)))


def measure(client, step):
    """``(seconds, the highest peak resident memory of a worker, result)`` of ``step()`` on the cluster."""
    client.run(reset_peak)
    start = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - start
    return seconds, max(client.run(peak).values()), result


def main() -> None:
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs=3, default=[8, 8, 2])
    parser.add_argument("--folder", default=None, help="where to write the layers (default: a temporary folder)")
    args = parser.parse_args()
    tiles = tuple(args.tiles)
    work = Path(args.folder or tempfile.mkdtemp(prefix="bench-scale-"))
    stream = gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes())
    labels = crackle.decompress(stream)
    voxels = int(np.prod(tiles)) * TILE**3
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        base = crackle_dask.to_precomputed(labels, str(work / "tile"), chunk_size=(CHUNK,) * 3)
        volume = tiled_volume(Layer.open(base), tiles)
        layer = str(work / "tiled")
        rows = []
        write = dict(chunk_size=(CHUNK,) * 3, sharding=True)
        tasks = len(crackle_dask.to_precomputed(volume, layer, compute=False, **write).dask)
        seconds, gained, url = measure(client, lambda: crackle_dask.to_precomputed(volume, layer, **write))
        on_disk = sum(p.stat().st_size for p in Path(layer).rglob("*") if p.is_file())
        rows.append(("to_precomputed (sharded)", seconds, gained, tasks))

        seconds, gained, counts = measure(client, lambda: crackle_dask.voxel_counts(url))
        tile_counts = crackle.voxel_counts(stream)
        assert counts == {label: n * int(np.prod(tiles)) for label, n in tile_counts.items()}, "voxel counts"
        tasks = len(crackle_dask.voxel_counts(url, compute=False).dask)
        rows.append(("voxel_counts", seconds, gained, tasks))

        seconds, gained, boxes = measure(client, lambda: crackle_dask.bounding_boxes(url, no_slice_conversion=True))
        expected = expected_boxes(crackle.bounding_boxes(stream, no_slice_conversion=True), tiles)
        assert boxes.keys() == expected.keys() and all(np.array_equal(boxes[k], expected[k]) for k in expected), \
            "bounding boxes"
        rows.append(("bounding_boxes", seconds, gained, tasks))

        out = str(work / "components")
        seconds, gained, result = measure(client, lambda: crackle_dask.connected_components(url, out, 26))
        assert result.count == expected_components(labels, tiles), "connected components"
        tasks = len(crackle_dask.connected_components(url, str(work / "unused"), 26, compute=False).dask)
        rows.append(("connected_components(26)", seconds, gained, tasks))

    cores = os.cpu_count()
    table(f"{tiles[0]} x {tiles[1]} x {tiles[2]} tiles of 512^3: {voxels:,} voxels, {voxels * 8 / GIB:.0f} GiB "
          f"decoded as uint64; {on_disk / GIB:.2f} GiB on disk; 2 workers x 1 thread ({cores} cores); "
          f"{result.count:,} components",
          ("step", "wall", "voxels/s/core", "worker peak RSS", "tasks"),
          [(name, f"{s:.0f} s", f"{voxels / s / cores / 1e6:.0f} M", f"{g / GIB:.2f} GiB", f"{n:,}")
           for name, s, g, n in rows])
    print("\nall results match what the tiling implies")


if __name__ == "__main__":
    main()
