"""Analysis benchmark: voxel counts, centroids and bounding boxes against crackle-codec, in the same run,
on the shared 512^3 volume (pins, Markov 7) and a flat Markov-0 copy. Ratios: reference / ours.

    python benchmarks/bench_analysis.py [--repeat 3]
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import BEST_SOURCE  # noqa: E402
from tests.reference import run_reference  # noqa: E402

DATA = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))

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
        shared = Path(tmp, "shared.ckl")
        shared.write_bytes(gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes()))
        flat = Path(tmp, "flat0.ckl")
        run_reference(textwrap.dedent(f"""
            import json, crackle
            arr = crackle.decompress(open({str(shared)!r}, "rb").read())
            open({str(flat)!r}, "wb").write(crackle.compress(arr))
            print(json.dumps({{}}))
        """))
        paths = {"shared file (pins, M7)": str(shared), "flat, M0": str(flat)}
        call = f"{TIMINGS}\nprint(json.dumps(measure({paths!r}, {args.repeat})))"
        theirs = run_reference(call)
        done = subprocess.run([sys.executable, "-c", call], capture_output=True, text=True, cwd=str(ROOT), check=True)
        mine = json.loads(done.stdout.strip().splitlines()[-1])
        peaks = {}
        for target in (100_000_000, 3_500_000_000):
            done = subprocess.run([sys.executable, "-c", PEAK, str(shared), str(target)], capture_output=True,
                                  text=True, cwd=str(ROOT), check=True)
            peaks[target] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"analysis, this project vs crackle-codec, 512^3 uint32, {os.cpu_count()} cores, best of {args.repeat}; "
          "ratio = reference / ours")
    for name in paths:
        print(f"\n{name}")
        print(f"  {'operation':<26} {'reference':>12} {'ours':>12} {'ratio':>8}")
        for op, ours_time in mine[name].items():
            ref_time = theirs[name][op]
            if not isinstance(ref_time, float):  # e.g. crackle-codec without cc3d installed
                print(f"  {op:<26} {ref_time:>12} {ours_time * 1e3:>10.1f}ms {'-':>8}")
                continue
            print(f"  {op:<26} {ref_time * 1e3:>10.1f}ms {ours_time * 1e3:>10.1f}ms {ref_time / ours_time:>7.2f}x")
    print("\nconnected_components(26) peak memory (fresh process, growth of the resident set during the call)")
    for target, grown in peaks.items():
        print(f"  memory_target {target / 2**20:>8,.0f} MiB: {grown / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
