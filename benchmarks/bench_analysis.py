"""Analysis benchmark: voxel counts, centroids and bounding boxes against crackle-codec, in the same run,
on the shared 512^3 volume (pins, Markov 7) and a flat Markov-0 copy. Ratios: reference / ours.

    python benchmarks/bench_analysis.py [--repeat 3]
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.children import child_env  # noqa: E402
from benchmarks.timing import compare_on_shared_streams, per_stream  # noqa: E402


# ``crackle`` is whichever implementation the process imports.
TIMINGS = per_stream("""
import crackle

def row(stream, repeat):
    labels = crackle.labels(stream)
    probe = int(labels[len(labels) // 2])
    crackle.voxel_counts(stream)
    return {
        "voxel_counts": best(lambda: crackle.voxel_counts(stream), repeat),
        "centroids": best(lambda: crackle.centroids(stream), repeat),
        "bounding_boxes": best(lambda: crackle.bounding_boxes(stream, no_slice_conversion=True), repeat),
        "voxel_counts(label=)": best(lambda: crackle.voxel_counts(stream, label=probe), repeat),
        "point_cloud(label=)": best(lambda: crackle.point_cloud(stream, label=probe), repeat),
        "each() over 200 labels": best(lambda: [0 for _ in crackle.each(stream, labels=labels[:200])], 1),
        "decompress": best(lambda: crackle.decompress(stream), repeat),
        "connected_components(26)": best(lambda: crackle.connected_components(stream, connectivity=26), 1),
        "connected_components(6)": best(lambda: crackle.connected_components(stream, connectivity=6), 1),
    }
""")


PEAK = """
import json, sys, numpy as np, crackle
from benchmarks.timing import peak, reset_peak
stream = open(sys.argv[1], "rb").read()
crackle.connected_components(crackle.compress(np.zeros((4, 4, 4), np.uint8)))  # compiled before measuring
before = reset_peak()
crackle.connected_components(stream, connectivity=26, memory_target=int(sys.argv[2]))
print(json.dumps(peak() - before))
"""


def peaks(paths: dict) -> dict:
    """Peak memory growth of connected_components(26) on the shared stream, per memory target."""
    grown = {}
    for target in (100_000_000, 3_500_000_000):
        done = subprocess.run([sys.executable, "-c", PEAK, paths["shared file (pins, M7)"], str(target)],
                              env=child_env(), capture_output=True, text=True, cwd=str(ROOT), check=True)
        grown[target] = json.loads(done.stdout.strip().splitlines()[-1])
    return grown


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per side")
    args = parser.parse_args()
    grown = compare_on_shared_streams(TIMINGS, args.repeat, "analysis", peaks, args.rounds)
    print("\nconnected_components(26) peak memory (fresh process, growth of the resident set during the call)")
    for target, size in grown.items():
        print(f"  memory_target {target / 2**20:>8,.0f} MiB: {size / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
