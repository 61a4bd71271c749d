"""Decoder benchmark: this project against crackle-codec, in the same run, on the 512^3 volume.

Prints, per stream, each operation's median wall time (all cores) over fresh processes run
alternately for the two sides (each the best of N calls), its spread, and the ratio of the medians
(reference / ours, so > 1 means we are faster); then the peak memory of a full decompress.
First-call (compile) times are in bench_startup.py. Run from the repository root:

    python benchmarks/bench_decode.py [--repeat 5] [--rounds 5]

The volume comes from $CRACKLE_TEST_DATA (default ../shared/data).
"""

import argparse
import gzip
import os
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import fresh, measure_both, per_stream, print_ratios  # noqa: E402
from tests.reference import run_reference  # noqa: E402

DATA = Path(os.environ.get("CRACKLE_TEST_DATA", ROOT.parent / "shared" / "data"))
STREAMS = ("shared file (pins, M7)", "flat, M0", "flat, M5", "pins, M5", "flat, M0, C order")

# The same timing code runs in both processes; ``crackle`` is whichever is importable.
TIMINGS = per_stream("""
import crackle

def row(stream, repeat):
    uniq = crackle.labels(stream)
    probe = [int(uniq[len(uniq) // 4]), int(uniq[len(uniq) // 2]), int(uniq[3 * len(uniq) // 4])]
    crackle.decompress(stream)
    times = {}
    times["decompress"] = best(lambda: crackle.decompress(stream), repeat)
    times["decompress(label=)"] = sum(
        best(lambda: crackle.decompress(stream, label=v), repeat) for v in probe) / 3
    times["decompress_range(z), once"] = best(lambda: crackle.codec.decompress_range(stream, 256, 257, 0), repeat)
    arr = crackle.CrackleArray(stream)
    times["CrackleArray[:, :, z]"] = best(lambda: arr[:, :, 257], repeat)
    times["labels"] = best(lambda: crackle.labels(stream), repeat)
    times["num_labels"] = best(lambda: crackle.num_labels(stream), repeat)
    times["min + max"] = best(lambda: (crackle.min(stream), crackle.max(stream)), repeat)
    times["contains"] = best(lambda: crackle.contains(stream, probe[1]), repeat)
    return times
""")

PEAK = """
import resource, sys, json, crackle
stream = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = crackle.decompress(stream)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_kib": after, "before_kib": before, "out": out.nbytes, "stream": len(stream)}))
"""

def make_streams(workdir: Path) -> dict:
    """The shared stream plus flat M0, flat M5 and pins M5 re-encodings written by crackle-codec."""
    source = workdir / "shared.ckl"
    source.write_bytes(gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes()))
    names = ("flat0", "flat5", "pins5", "flat0C")
    paths = dict(zip(STREAMS, [source] + [workdir / f"{n}.ckl" for n in names]))
    code = textwrap.dedent(f"""
        import json, numpy as np, crackle
        arr = crackle.decompress(open({str(source)!r}, "rb").read())
        for name, kw in (("flat0", {{}}), ("flat5", {{"markov_model_order": 5}}),
                         ("pins5", {{"allow_pins": 1, "markov_model_order": 5}})):
            open({str(workdir)!r} + "/" + name + ".ckl", "wb").write(crackle.compress(arr, **kw))
        open({str(workdir)!r} + "/flat0C.ckl", "wb").write(crackle.compress(np.ascontiguousarray(arr)))
        print(json.dumps({{}}))
    """)
    run_reference(code)
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="calls per process (the best counts)")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per side")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = make_streams(workdir)
        sizes = {name: path.stat().st_size for name, path in paths.items()}
        theirs, mine = measure_both(TIMINGS, {k: str(v) for k, v in paths.items()}, args.repeat, args.rounds)
        print("stream sizes: " + ", ".join(f"{name} {size:,} bytes" for name, size in sizes.items()))
        print_ratios(f"decode, crackle (this project) vs crackle-codec, 512^3 uint32 connectomics, "
                     f"{os.cpu_count()} cores", paths, theirs, mine, args.repeat, args.rounds)

        print("\npeak memory of decompress (fresh process, ru_maxrss growth during the call)")
        print(f"  {'stream':<24} {'reference':>12} {'ours':>12} {'(ours + stream) / (output + stream)':>37}")
        for name in STREAMS:
            r = fresh(PEAK, paths[name], reference=True)
            m = fresh(PEAK, paths[name])
            grow = lambda d: (d["peak_kib"] - d["before_kib"]) * 1024  # noqa: E731
            share = (grow(m) + m["stream"]) / (m["out"] + m["stream"])
            print(f"  {name:<24} {grow(r) / 2**20:>10.1f}MB {grow(m) / 2**20:>10.1f}MB {share:>36.2f}")


if __name__ == "__main__":
    main()
