"""Stream operations benchmark: this project against crackle-codec, in the same run, on the 512^3 volume.

The same timing code runs in a fresh process for each implementation, on the
shared file (pins, Markov 7) and on a flat Markov-0 copy written by
crackle-codec (its zstack supports only flat, order-0 streams). Prints best-of-N
wall times and ratios (reference time / ours: > 1 means we are faster).

    python benchmarks/bench_operations.py [--repeat 5]
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import compare_on_shared_streams, per_stream  # noqa: E402


TIMINGS = per_stream("""
import numpy as np, crackle

def row(stream, repeat):
    labels = crackle.labels(stream)
    mapping = {int(v): int(v) % 1000 + 1 for v in labels}
    chosen = [int(v) for v in labels[::10]]
    times = {}
    times["remap"] = best(lambda: crackle.remap(stream, mapping), repeat)
    times["mask"] = best(lambda: crackle.mask(stream, chosen), repeat)
    times["refit"] = best(lambda: crackle.refit(stream), repeat)
    times["renumber"] = best(lambda: crackle.renumber(stream), repeat)
    times["astype(uint64)"] = best(lambda: crackle.astype(stream, np.uint64), repeat)
    times["add_scalar"] = best(lambda: crackle.add_scalar(stream, 5), repeat)
    times["zsplit(z=200)"] = best(lambda: crackle.zsplit(stream, 200), repeat)
    try:
        parts = crackle.zsplit(stream, 200)
        times["zstack(3 parts)"] = best(lambda: crackle.zstack(parts), repeat)
    except Exception as err:  # noqa: BLE001
        times["zstack(3 parts)"] = type(err).__name__
    return times
""")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per side")
    args = parser.parse_args()
    compare_on_shared_streams(TIMINGS, args.repeat, "stream operations", rounds=args.rounds)


if __name__ == "__main__":
    main()
