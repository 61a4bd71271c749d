"""Child process for the fuzz test: decode each mutated stream, report one line per stream.

Usage: python -m tests.fuzz_child CASES.pickle ADDRESS_SPACE_LIMIT_BYTES

Each line is ``index outcome detail`` with outcome ``ok``, ``format`` (a
FormatError), ``memory`` (a MemoryError, detail = the header's volume in
bytes) or ``other`` (any other exception: a bug). A crash or hang shows up
in the parent as a missing line.
"""

import pickle
import resource
import sys

import crackle
from crackle.codec import decompress_range


def exercise(stream: bytes) -> None:
    """Every entry point that reads a stream."""
    crackle.labels(stream)
    crackle.num_labels(stream)
    crackle.contains(stream, 7)
    crackle.contains_range(stream, 0, 1000)
    if crackle.num_labels(stream):
        crackle.min(stream)
        crackle.max(stream)
    head = crackle.header(stream)
    crackle.decompress(stream, verify=False)
    crackle.decompress(stream, parallel=1)
    if head.sz:
        crackle.labels_for_z_range(stream, head.sz // 2, head.sz)
        decompress_range(stream, head.sz // 2, head.sz, 0, verify=False)
        crackle.CrackleArray(stream)[:, :, -1]
        label = int(crackle.labels(stream)[0]) if crackle.num_labels(stream) else 0
        crackle.decompress(stream, label=label, crop=True)


def main():
    cases = pickle.loads(open(sys.argv[1], "rb").read())
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for index, (_, stream) in enumerate(cases):
        try:
            exercise(stream)
            outcome, detail = "ok", ""
        except crackle.FormatError as err:
            outcome, detail = "format", str(err).replace("\n", " ")[:200]
        except MemoryError:
            try:
                outcome, detail = "memory", str(crackle.header(stream).nbytes)
            except crackle.FormatError:
                outcome, detail = "other", "MemoryError before the header was read"
        except Exception as err:  # noqa: BLE001 - the point is to catch anything unexpected
            outcome, detail = "other", f"{type(err).__name__}: {err}".replace("\n", " ")[:300]
        print(index, outcome, detail, flush=True)


if __name__ == "__main__":
    main()
