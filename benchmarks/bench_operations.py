"""Stream operations benchmark: this project against crackle-codec, in the same run, on the 512^3 volume.

The same timing code runs in a fresh process for each implementation, on the
shared file (pins, Markov 7) and on a flat Markov-0 copy written by
crackle-codec (its zstack supports only flat, order-0 streams). Prints best-of-N
wall times and ratios (reference time / ours: > 1 means we are faster).

    python benchmarks/bench_operations.py [--repeat 5]
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

    print(f"stream operations, this project vs crackle-codec, 512^3 uint32, {os.cpu_count()} cores, "
          f"best of {args.repeat}; ratio = reference / ours")
    for name in paths:
        print(f"\n{name}")
        print(f"  {'operation':<18} {'reference':>12} {'ours':>12} {'ratio':>8}")
        for op, ours_time in mine[name].items():
            ref_time = theirs[name][op]
            cell = lambda t: f"{t * 1e3:>10.2f}ms" if isinstance(t, float) else f"{t:>12}"  # noqa: E731
            ratio = f"{ref_time / ours_time:>7.2f}x" if isinstance(ref_time, float) else f"{'-':>8}"
            print(f"  {op:<18} {cell(ref_time)} {cell(ours_time)} {ratio}")


if __name__ == "__main__":
    main()
