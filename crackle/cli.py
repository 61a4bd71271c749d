"""The ``crackle``, ``cckl`` and ``dckl`` commands.

Two styles, as crackle-codec's users have both:

* one command with flags: ``crackle data.npy`` writes ``data.ckl`` (the
  source is kept), ``-d`` decompresses, ``-t`` tests integrity;
* subcommands: ``crackle convert|info|labels|test|stack|renumber|warmup ...``
  (``convert`` removes the source unless ``-k``, as crackle-codec's does);
  ``cckl`` and ``dckl`` compress and decompress.

Every failure prints one line naming the file and the command exits non-zero;
other files are still processed.
"""

import argparse
import os
import sys
from pathlib import Path

from . import codec, files
from .encoder import compress
from .errors import FormatError
from .recoding import reencode
from .stacking import recompress, zstack

SUBCOMMANDS = ("convert", "info", "labels", "test", "meta", "stack", "renumber", "downsample", "warmup")
_FORMATS = ("ckl", "npy")
_PROGRESS_BYTES = 256 << 20  # inputs at least this large get a progress bar


class CommandError(Exception):
    """A failure reported as one line, without a traceback."""


def _strip(path: str) -> tuple:
    """``(name without .gz/.ckl/.npy, kind)``."""
    name = path[:-3] if path.endswith(".gz") else path
    for kind in _FORMATS:
        if name.endswith("." + kind):
            return name[: -len(kind) - 1], kind
    raise CommandError(f"{path}: not a .ckl, .ckl.gz, .npy or .npy.gz file")


def convert_file(src: str, to: str, allow_pins: bool = False, markov=None, gzip: bool = False,
                 keep: bool = True, parallel: int = 0, recompress_stream: bool = False) -> str:
    """Convert ``src`` to ``to`` ("ckl" or "npy") beside it; returns the new path. The source is
    removed afterwards unless ``keep`` (only once the output is complete)."""
    if to not in _FORMATS:
        raise CommandError(f"--to {to}: not supported (this build writes ckl and npy; tiff, nrrd and nii "
                           "need libraries crackle does not depend on)")
    base, kind = _strip(src)
    if not os.path.exists(src):
        raise CommandError(f"{src}: no such file")
    out = f"{base}.{to}" + (".gz" if gzip else "")
    if os.path.abspath(out) == os.path.abspath(src):
        raise CommandError(f"{src}: already a {to} file")
    if kind == "npy":
        labels = files.load(src)
        if to == "ckl":
            files.save(compress(labels, allow_pins=int(allow_pins), markov_model_order=int(markov or 0),
                                parallel=parallel), out)
        else:
            files.save(labels, out)
    else:
        stream = files.bload(src)
        if to == "npy":
            files.save_numpy(stream, out)
        else:
            if markov is not None:
                stream = reencode(stream, int(markov), parallel)
            if recompress_stream:
                stream = recompress(stream, parallel)
            files.save(stream, out)
    if not keep:
        os.unlink(src)
    return out


def _print_header(src: str) -> None:
    print(f"{src}:\n{codec.header(files.bload(src)).details()}")


def _print_labels(src: str) -> None:
    print(f"{src}: " + " ".join(str(int(v)) for v in codec.labels(files.bload(src))))


def test_file(src: str) -> bool:
    """Print which sections of ``src`` are intact; True if every checksum matches."""
    if not os.path.exists(src):
        raise CommandError(f"{src}: no such file")
    report = codec.check(files.read_bytes(src))
    print(f"testing {src}...")
    names = {"header": "header", "crack_index": "crack index", "labels": "labels section"}
    for key, human in names.items():
        state = report[key]
        if state is None:
            print(f"{human}: not checked" + (" (format v0 has no checksum)" if report["header"] else ""))
        else:
            print(f"{human}: {'ok' if state else 'DAMAGED'}")
    if report["z"] is None:
        print("slices: not checked")
    elif report["z"]:
        print(f"slices: DAMAGED at z = {', '.join(str(z) for z in report['z'])}")
    else:
        print("slices: ok")
    return report["header"] is True and report["crack_index"] is True and report["labels"] is not False \
        and not report["z"]


def write_meta(src: str, skip_empty: bool = False, print_only: bool = False) -> None:
    """Write ``src``'s ``.meta.parquet`` sidecar beside it (or print the table)."""
    from . import analysis

    stream = files.bload(src)
    if skip_empty and codec.num_labels(stream) <= 1 and codec.contains(stream, 0):
        return
    if print_only:
        print(f"{src}:\n{analysis.to_parquet(stream).to_pandas()}")
    else:
        analysis.write_sidecar(stream, analysis.sidecar_path(src))


def _stack_dir(source: str, output: str) -> None:
    folder = Path(source)
    if not folder.is_dir():
        raise CommandError(f"{source}: not a directory")
    parts = sorted(p for p in folder.iterdir() if p.name.endswith((".ckl", ".ckl.gz")))
    if not parts:
        raise CommandError(f"{source}: no .ckl files")
    files.save(zstack([files.bload(p) for p in parts]), output)


def _renumber(source: str, output: str, parallel: int) -> None:
    from .operations import renumber

    files.save(renumber(files.bload(source), 0, parallel)[0], output)


def _downsample(source: str, output: str, sparse: bool, times: int, parallel: int) -> None:
    from .stacking import mode_pooling_2x2x1

    stream = files.bload(source)
    for _ in range(times):
        stream = mode_pooling_2x2x1(stream, sparse, parallel)
    files.save(stream, output)


def _each(paths: list, action, progress: bool = True) -> int:
    """Run ``action`` on every path; failures print one line. Returns the exit status."""
    failures = 0
    large = sum(os.path.getsize(p) for p in paths if os.path.isfile(p)) >= _PROGRESS_BYTES
    iterator = paths
    if progress and (len(paths) > 1 or large) and sys.stderr.isatty():
        from tqdm import tqdm

        iterator = tqdm(paths, unit="file", leave=False)
    for path in iterator:
        try:
            if action(path) is False:
                failures += 1
        except (CommandError, FormatError, ValueError, OSError) as err:
            message = str(err) if str(err).startswith(str(path)) else f"{path}: {err}"
            print(f"crackle: {message}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


def _common(parser: argparse.ArgumentParser, short_parallel: bool = True) -> None:
    flags = ("-p", "--parallel") if short_parallel else ("--parallel",)
    parser.add_argument(*flags, type=int, default=0, metavar="N", help="threads (0: every core)")
    parser.add_argument("-z", dest="gzip", action="store_true", help="gzip the output")


def _seed_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crackle",
        description="Compress .npy label volumes to Crackle (.ckl), decompress them, or test them.",
        epilog=(f"Subcommands ({', '.join(SUBCOMMANDS)}) take over when given first: 'crackle convert "
                "--help'. To work on a file named like a subcommand, write it as a path, e.g. ./info. "
                "Unlike 'crackle convert', this form keeps the source files."),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help=".npy, .npy.gz, .ckl or .ckl.gz files")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("-d", "--decompress", action="store_true", help="decompress .ckl files to .npy")
    action.add_argument("-t", "--test", action="store_true",
                        help="test integrity: exit 0 if every checksum matches, else name the damaged sections")
    parser.add_argument("-m", "--markov", type=int, default=None, metavar="ORDER",
                        help="Markov model order for crack codes (0-15; default 0)")
    parser.add_argument("-p", "--pins", "--allow-pins", dest="allow_pins", action="store_true",
                        help="allow pins labels (smaller for large, boundary-sparse volumes)")
    parser.add_argument("-M", "--meta", action="store_true",
                        help="also write each .ckl file's .ckl.meta.parquet sidecar (voxel counts, bounding boxes)")
    _common(parser, short_parallel=False)
    return parser


def _subcommand_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crackle", description="Operations on Crackle files.")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert between .ckl and .npy (removes the source unless -k)")
    convert.add_argument("files", nargs="+", metavar="FILE")
    convert.add_argument("--allow-pins", action="store_true", help="allow pins labels")
    convert.add_argument("-m", "--markov", type=int, default=None, metavar="ORDER", help="Markov model order")
    convert.add_argument("-k", "--keep", action="store_true", help="keep the source file")
    convert.add_argument("-t", "--to", default="ckl", help="ckl or npy (default ckl)")
    convert.add_argument("--recompress", action="store_true", help="decode and encode again (after remapping)")
    _common(convert)
    for name, text in (("info", "print the header"), ("labels", "print the labels"),
                       ("test", "check every checksum, name damaged sections")):
        command = commands.add_parser(name, help=text)
        command.add_argument("files", nargs="+", metavar="FILE")
    meta = commands.add_parser("meta", help="write .ckl.meta.parquet sidecars (voxel counts, bounding boxes)")
    meta.add_argument("files", nargs="+", metavar="FILE")
    meta.add_argument("-s", "--skip-empty", action="store_true", help="skip files holding only background")
    meta.add_argument("--print", dest="print_only", action="store_true", help="print the tables instead")
    stack = commands.add_parser("stack", help="zstack every .ckl file of a directory, in name order")
    stack.add_argument("source", metavar="DIR")
    stack.add_argument("-o", "--output", default="merged.ckl")
    downsample = commands.add_parser("downsample", help="2x2x1 mode pooling, -n times")
    downsample.add_argument("source")
    downsample.add_argument("-o", "--output", default="downsampled.ckl")
    downsample.add_argument("-s", "--sparse", action="store_true", help="background does not count in the mode")
    downsample.add_argument("-p", "--parallel", type=int, default=0)
    downsample.add_argument("-n", dest="times", type=int, default=1, help="how many times to pool")
    renumber = commands.add_parser("renumber", help="renumber labels from 0 and refit the dtype")
    renumber.add_argument("source")
    renumber.add_argument("output")
    renumber.add_argument("-p", "--parallel", type=int, default=0)
    warm = commands.add_parser("warmup", help="compile every kernel into Numba's cache (for images and clusters)")
    warm.add_argument("dtypes", nargs="*", metavar="DTYPE", help="label dtypes to warm (default: all)")
    warm.add_argument("-j", "--processes", type=int, default=0, metavar="N",
                      help="parallel processes (0: one per core)")
    warm.add_argument("-q", "--quiet", action="store_true", help="no progress bar or report")
    return parser


def main(argv=None) -> int:
    """Entry point of ``crackle``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        args = _subcommand_parser().parse_args(argv)
        if args.command == "convert":
            return _each(args.files, lambda f: convert_file(
                f, args.to, args.allow_pins, args.markov, args.gzip, args.keep, args.parallel, args.recompress))
        if args.command == "info":
            return _each(args.files, _print_header, progress=False)
        if args.command == "labels":
            return _each(args.files, _print_labels, progress=False)
        if args.command == "test":
            return _each(args.files, test_file, progress=False)
        if args.command == "meta":
            return _each(args.files, lambda f: write_meta(f, args.skip_empty, args.print_only))
        if args.command == "stack":
            return _each([args.source], lambda d: _stack_dir(d, args.output), progress=False)
        if args.command == "warmup":
            from .warmup import warmup

            try:
                warmup(args.dtypes or None, progress=not args.quiet, processes=args.processes)
            except (ValueError, TypeError, RuntimeError) as err:
                print(f"crackle: warmup: {err}", file=sys.stderr)
                return 1
            return 0
        if args.command == "downsample":
            return _each([args.source], lambda s: _downsample(s, args.output, args.sparse, args.times, args.parallel),
                         progress=False)
        return _each([args.source], lambda s: _renumber(s, args.output, args.parallel), progress=False)
    args = _seed_parser().parse_args(argv)
    if args.test:
        return _each(args.files, test_file, progress=False)
    to = "npy" if args.decompress else "ckl"

    def convert(path: str) -> None:
        out = convert_file(path, to, args.allow_pins, args.markov, args.gzip, True, args.parallel)
        if args.meta and to == "ckl":
            write_meta(out)

    return _each(args.files, convert)


def _script(to: str, description: str, argv=None) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("-k", "--keep", action="store_true", help="keep the source file")
    if to == "ckl":
        parser.add_argument("--allow-pins", action="store_true", help="allow pins labels")
        parser.add_argument("-m", "--markov", type=int, default=0, metavar="ORDER", help="Markov model order")
        parser.add_argument("--recompress", action="store_true", help="decode and encode again")
    else:
        parser.add_argument("--to", default="npy", help="npy (default)")
    _common(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return _each(args.files, lambda f: convert_file(
        f, getattr(args, "to", "ckl"), getattr(args, "allow_pins", False), getattr(args, "markov", None),
        args.gzip, args.keep, args.parallel, getattr(args, "recompress", False)))


def cckl(argv=None) -> int:
    """Entry point of ``cckl``: compress .npy files (removes them unless -k, as crackle-codec's)."""
    return _script("ckl", "Compress .npy(.gz) files to Crackle (.ckl); the source is removed unless -k.", argv)


def dckl(argv=None) -> int:
    """Entry point of ``dckl``: decompress .ckl files (removes them unless -k, as crackle-codec's)."""
    return _script("npy", "Decompress Crackle (.ckl) files to .npy; the source is removed unless -k.", argv)
