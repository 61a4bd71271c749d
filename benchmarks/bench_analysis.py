"""Analysis benchmark: voxel counts, centroids and bounding boxes against crackle-codec, in the same run,
on the shared 512^3 volume (pins, Markov 7) and a flat Markov-0 copy. Ratios: reference / ours.

    python benchmarks/bench_analysis.py [--repeat 3]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import BEST_SOURCE, measure_both, print_ratios, shared_and_flat_streams  # noqa: E402


# ``crackle`` is whichever implementation the process imports.
TIMINGS = BEST_SOURCE + """
import json, crackle

def measure(paths, repeat):
    rows = {}
    for name, path in paths.items():
        stream = open(path, "rb").read()
        labels = crackle.labels(stream)
        probe = int(labels[len(labels) // 2])
        crackle.voxel_counts(stream)
        rows[name] = {
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
    return rows
"""


PEAK = """
import json, resource, sys, numpy as np, crackle
stream = open(sys.argv[1], "rb").read()
crackle.connected_components(crackle.compress(np.zeros((4, 4, 4), np.uint8)))  # compiled before measuring
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
crackle.connected_components(stream, connectivity=26, memory_target=int(sys.argv[2]))
print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = shared_and_flat_streams(Path(tmp))
        theirs, mine = measure_both(TIMINGS, paths, args.repeat)
        peaks = {}
        for target in (100_000_000, 3_500_000_000):
            done = subprocess.run([sys.executable, "-c", PEAK, paths["shared file (pins, M7)"], str(target)],
                                  capture_output=True, text=True, cwd=str(ROOT), check=True)
            peaks[target] = json.loads(done.stdout.strip().splitlines()[-1])
    print_ratios(f"analysis, this project vs crackle-codec, 512^3 uint32, {os.cpu_count()} cores, "
                 f"best of {args.repeat}; ratio = reference / ours", paths, theirs, mine)
    print("\nconnected_components(26) peak memory (fresh process, growth of the resident set during the call)")
    for target, grown in peaks.items():
        print(f"  memory_target {target / 2**20:>8,.0f} MiB: {grown / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
