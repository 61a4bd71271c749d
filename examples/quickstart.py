"""Compress a volume into Crackle files and analyse it lazily with Dask.

    python examples/quickstart.py [path/to/connectomics.npy.ckl.gz]

Uses the shared 512^3 connectomics volume ($CRACKLE_TEST_DATA, default
../shared/data next to the repository) or, when it is absent, a synthetic one.
"""

import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import crackle
import crackle_dask


def load_volume() -> np.ndarray:
    default = Path(os.environ.get("CRACKLE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default / "connectomics.npy.ckl.gz"
    if path.exists():
        print(f"volume: {path}")
        return crackle.decompress(gzip.decompress(path.read_bytes()))
    print(f"{path} not found: using a synthetic volume")
    rng = np.random.default_rng(0)
    small = rng.integers(1, 400, size=(16, 16, 8), dtype=np.uint32)
    return np.asfortranarray(np.kron(small, np.ones((16, 16, 16), dtype=np.uint32)))


def main():
    volume = load_volume()
    sx, sy, sz = volume.shape

    with tempfile.TemporaryDirectory() as folder:
        # Compress into four files of z-slabs (as a pipeline would write blocks).
        start = time.perf_counter()
        total = 0
        for i, z in enumerate(range(0, sz, sz // 4)):
            stream = crackle.compress(volume[:, :, z : z + sz // 4], allow_pins=1, markov_model_order=5)
            Path(folder, f"block{i:03d}.ckl").write_bytes(stream)
            total += len(stream)
        print(f"compressed {volume.nbytes / 2**20:.0f} MiB into 4 files, {total:,} bytes "
              f"({volume.nbytes / total:.0f}x) in {time.perf_counter() - start:.1f} s")

        # Open them lazily as one Dask array: tasks decode only the z ranges they cover.
        labels = crackle_dask.open_array(os.path.join(folder, "block*.ckl"), chunks=32)
        print(f"lazy array: {labels}")
        target = int(volume[sx // 2, sy // 2, sz // 2])
        start = time.perf_counter()
        voxels = int((labels == target).sum().compute())
        print(f"object {target}: {voxels:,} voxels (dask, {time.perf_counter() - start:.2f} s); "
              f"numpy says {int(np.count_nonzero(volume == target)):,}")
        start = time.perf_counter()
        plane = labels[:, :, sz // 3].compute()
        print(f"slice z={sz // 3}: {np.unique(plane).size} labels ({(time.perf_counter() - start) * 1e3:.0f} ms)")
        first = crackle.CrackleArray(Path(folder, "block000.ckl").read_bytes())
        print(f"block000: {first.num_labels()} labels, max {first.max()}, contains {target}: {target in first}")


if __name__ == "__main__":
    main()
