"""Stream operations benchmark: this project against crackle-codec, in the same run, on the 512^3 volume.

The same timing code runs in a fresh process for each implementation, on the
shared file (pins, Markov 7) and on a flat Markov-0 copy written by
crackle-codec (its zstack supports only flat, order-0 streams). Prints best-of-N
wall times and ratios (reference time / ours: > 1 means we are faster).

    python benchmarks/bench_operations.py [--repeat 5]
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import BEST_SOURCE, measure_both, print_ratios, shared_and_flat_streams  # noqa: E402


TIMINGS = BEST_SOURCE + """
import json, numpy as np, crackle

def measure(paths, repeat):
    rows = {}
    for name, path in paths.items():
        stream = open(path, "rb").read()
        labels = crackle.labels(stream)
        mapping = {int(v): int(v) % 1000 + 1 for v in labels}
        chosen = [int(v) for v in labels[::10]]
        row = {}
        row["remap"] = best(lambda: crackle.remap(stream, mapping), repeat)
        row["mask"] = best(lambda: crackle.mask(stream, chosen), repeat)
        row["refit"] = best(lambda: crackle.refit(stream), repeat)
        row["renumber"] = best(lambda: crackle.renumber(stream), repeat)
        row["astype(uint64)"] = best(lambda: crackle.astype(stream, np.uint64), repeat)
        row["add_scalar"] = best(lambda: crackle.add_scalar(stream, 5), repeat)
        row["zsplit(z=200)"] = best(lambda: crackle.zsplit(stream, 200), repeat)
        try:
            parts = crackle.zsplit(stream, 200)
            row["zstack(3 parts)"] = best(lambda: crackle.zstack(parts), repeat)
        except Exception as err:  # noqa: BLE001
            row["zstack(3 parts)"] = type(err).__name__
        rows[name] = row
    return rows
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = shared_and_flat_streams(Path(tmp))
        theirs, mine = measure_both(TIMINGS, paths, args.repeat)
    print_ratios(f"stream operations, this project vs crackle-codec, 512^3 uint32, {os.cpu_count()} cores, "
                 f"best of {args.repeat}; ratio = reference / ours", paths, theirs, mine)


if __name__ == "__main__":
    main()
