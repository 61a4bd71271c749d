"""Encoder benchmark: this project's compress against crackle-codec's, in the same run, on the 512^3 volume.

Prints median wall times (all cores) over fresh processes run alternately for the two sides (each
the best of N calls) with their spread and ratios (reference time / our time: > 1 means we are
faster), stream sizes, and the memory that compress
adds on top of its input (peak RSS growth in a fresh process), against the
budget of twice the output plus one slice of work. Run from the repository root:

    python benchmarks/bench_encode.py [--repeat 3] [--rounds 5]

The volume comes from $CRACKLE_TEST_DATA (default ../shared/data).
"""

import argparse
import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import crackle  # noqa: E402
from benchmarks.timing import alternate, fresh, median_spread, per_operation, timed  # noqa: E402

DATA = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))
CASES = {
    "flat, M0": {"markov_model_order": 0},
    "flat, M5": {"markov_model_order": 5},
    "pins, M5": {"allow_pins": 1, "markov_model_order": 5},
    "flat, M0, C order": {"markov_model_order": 0, "order": "C"},  # (numpy's default order)
}

# The same code runs in both processes; ``crackle`` is whichever is importable.
TIMINGS = """
import json, sys, time, numpy as np, crackle
arr = np.load(sys.argv[1])
cases = json.loads(sys.argv[2])
repeat, pins_repeat = int(sys.argv[3]), int(sys.argv[4])
crackle.compress(arr[:, :, :2], allow_pins=1, markov_model_order=5)  # compile outside the timing
rows = {}
for name, kwargs in cases.items():
    volume = np.ascontiguousarray(arr) if kwargs.pop("order", "F") == "C" else arr
    times = []
    for _ in range(pins_repeat if kwargs.get("allow_pins") else repeat):
        start = time.perf_counter()
        stream = crackle.compress(volume, **kwargs)
        times.append(time.perf_counter() - start)
    rows[name] = {"time": min(times), "size": len(stream)}
print(json.dumps(rows))
"""

PEAK = """
import json, os, sys, threading, time, numpy as np, crackle
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
arr = np.load(sys.argv[1])
kwargs = json.loads(sys.argv[2])
if kwargs.pop("order", "F") == "C":
    arr = np.ascontiguousarray(arr)
crackle.compress(arr[:, :, :2], **kwargs)  # compile outside the measurement
before, peak, done = rss(), [0], [False]
def sample():
    while not done[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.0005)
watcher = threading.Thread(target=sample)
watcher.start()
stream = crackle.compress(arr, **kwargs)
done[0] = True
watcher.join()
print(json.dumps({"growth": max(peak[0], rss()) - before, "size": len(stream)}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="calls per process (the best counts)")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per side")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        volume = Path(tmp) / "volume.npy"
        stream = gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes())
        arr = crackle.decompress(stream)
        np.save(volume, arr)
        sx, sy, _ = arr.shape
        slice_bytes = sx * sy * arr.itemsize
        del arr

        cases = json.dumps(CASES)
        # crackle-codec's pins search takes over 10 s: it is timed once per process.
        theirs, mine = alternate(lambda: fresh(TIMINGS, volume, cases, args.repeat, 1, reference=True),
                                 lambda: fresh(TIMINGS, volume, cases, args.repeat, args.repeat), args.rounds)
        theirs, mine = per_operation(theirs), per_operation(mine)

        print(f"compress, crackle (this project) vs crackle-codec, 512^3 uint32 connectomics, {os.cpu_count()} cores; "
              f"median of {args.rounds} fresh processes per side (run alternately), each the best of {args.repeat} "
              f"(crackle-codec pins: 1 run), ± half the range; ratio = reference / ours")
        print(f"  {'stream':<18} {'reference':>15} {'ours':>15} {'ratio':>7} {'reference size':>15} {'our size':>12}")
        for name in CASES:
            r, m = theirs[name], mine[name]
            ratio = median_spread(r["time"])[0] / median_spread(m["time"])[0]
            print(f"  {name:<18} {timed(r['time']):>15} {timed(m['time']):>15} {ratio:>6.2f}x "
                  f"{r['size'][0]:>15,} {m['size'][0]:>12,}")

        print("\nmemory compress adds to its input (fresh process, RSS sampled every 0.5 ms)")
        print(f"  {'stream':<18} {'reference':>11} {'ours':>11} {'budget: 2 x output + 1 slice':>30}")
        for name, kwargs in CASES.items():
            r = fresh(PEAK, volume, json.dumps(kwargs), reference=True)
            m = fresh(PEAK, volume, json.dumps(kwargs))
            budget = 2 * m["size"] + slice_bytes
            print(f"  {name:<18} {r['growth'] / 2**20:>9.1f}MB {m['growth'] / 2**20:>9.1f}MB "
                  f"{budget / 2**20:>28.1f}MB")


if __name__ == "__main__":
    main()
