"""Decode and query the shared 512^3 connectomics volume (a Crackle stream written by crackle-codec).

    python examples/quickstart.py [path/to/connectomics.npy.ckl.gz]

Without an argument the volume is read from $CRACKLE_TEST_DATA (default
../shared/data next to the repository).
"""

import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np

import crackle


def main():
    default = Path(os.environ.get("CRACKLE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default / "connectomics.npy.ckl.gz"
    stream = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()

    head = crackle.header(stream)
    print(f"{path.name}: {len(stream):,} bytes, {head.sx} x {head.sy} x {head.sz} {head.dtype}, "
          f"{crackle.LabelFormat(head.label_format).name} labels, Markov order {head.markov_model_order}")
    print(f"compression ratio: {head.nbytes / len(stream):.0f}x")

    # Questions answered from the labels section alone, without decoding.
    start = time.perf_counter()
    labels = crackle.labels(stream)
    print(f"{crackle.num_labels(stream)} labels, min {crackle.min(stream)}, max {crackle.max(stream)}, "
          f"777 present: {crackle.contains(stream, 777)} ({(time.perf_counter() - start) * 1e3:.2f} ms)")

    # One z slice: only that slice's crack code is decoded.
    volume = crackle.CrackleArray(stream)
    start = time.perf_counter()
    middle = volume[:, :, head.sz // 2]
    print(f"slice z={head.sz // 2}: {np.unique(middle).size} labels ({(time.perf_counter() - start) * 1e3:.1f} ms)")

    # A binary image of one object, decoded only over the slices that hold it.
    target = int(middle[head.sx // 2, head.sy // 2])
    start = time.perf_counter()
    mask = crackle.decompress(stream, label=target, crop=True)
    print(f"object {target}: {int(mask.sum()):,} voxels over {mask.shape[2]} slices "
          f"({(time.perf_counter() - start) * 1e3:.0f} ms)")

    start = time.perf_counter()
    full = crackle.decompress(stream)
    print(f"full decode: {full.nbytes / 2**20:.0f} MiB in {time.perf_counter() - start:.2f} s "
          f"(first call includes compiling or loading the Numba kernels)")


if __name__ == "__main__":
    main()
