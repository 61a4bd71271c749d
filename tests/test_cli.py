"""The crackle, cckl and dckl commands, run as subprocesses."""

import gzip
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import crackle
from crackle.codec import stream_view
from tests.conftest import child_env, load_vector

STREAM = load_vector("connectomics_64x64x16")[0]
ARRAY = crackle.decompress(STREAM)


def run(*args, cwd, entry="crackle"):
    code = f"import sys; from crackle.cli import {'main' if entry == 'crackle' else entry} as entry; sys.exit(entry())"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=child_env(), capture_output=True,
                          text=True, timeout=300)


def test_seed_style_round_trips(tmp_path):
    np.save(tmp_path / "a.npy", ARRAY)
    np.save(tmp_path / "b.npy", ARRAY[:, :, :5])
    done = run("a.npy", "b.npy", "-m", "5", "-p", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert crackle.header((tmp_path / "a.ckl").read_bytes()).markov_model_order == 5
    np.testing.assert_array_equal(crackle.load(tmp_path / "b.ckl"), ARRAY[:, :, :5])
    assert (tmp_path / "a.npy").exists()  # this form keeps sources
    (tmp_path / "a.npy").unlink()
    done = run("-d", "-z", "a.ckl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(gzip.open(tmp_path / "a.npy.gz")), ARRAY)
    done = run("a.npy.gz", "-z", cwd=tmp_path)
    assert done.returncode == 0 and crackle.array_equal(gzip.decompress((tmp_path / "a.ckl.gz").read_bytes()), STREAM)


def test_subcommands(tmp_path):
    (tmp_path / "a.ckl").write_bytes(STREAM)
    done = run("info", "a.ckl", cwd=tmp_path)
    assert done.returncode == 0 and "label format" in done.stdout
    done = run("labels", "a.ckl", cwd=tmp_path)
    assert done.stdout.split()[1:] == [str(int(v)) for v in crackle.labels(STREAM)]
    done = run("convert", "a.ckl", "--to", "npy", "-k", cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "a.ckl").exists()
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), ARRAY)
    done = run("convert", "a.npy", "-m", "3", cwd=tmp_path)  # converting overwrites a.ckl, removes a.npy
    assert done.returncode == 0 and not (tmp_path / "a.npy").exists()
    assert crackle.header((tmp_path / "a.ckl").read_bytes()).markov_model_order == 3
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, part in enumerate(crackle.zshatter(STREAM)):
        (parts / f"{i:02d}.ckl").write_bytes(part)
    done = run("stack", "parts", "-o", "merged.ckl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(crackle.load(tmp_path / "merged.ckl"), ARRAY)
    done = run("downsample", "a.ckl", "-n", "2", "-o", "small.ckl", cwd=tmp_path)
    assert done.returncode == 0 and crackle.header((tmp_path / "small.ckl").read_bytes()).shape == (16, 16, 16)
    done = run("renumber", "a.ckl", "r.ckl", cwd=tmp_path)
    assert crackle.max((tmp_path / "r.ckl").read_bytes()) == crackle.num_labels(STREAM) - 1
    np.save(tmp_path / "c.npy", ARRAY)
    assert run("c.npy", cwd=tmp_path, entry="cckl").returncode == 0 and not (tmp_path / "c.npy").exists()
    assert run("c.ckl", "-k", cwd=tmp_path, entry="dckl").returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), ARRAY)


def test_help_lists_the_options(tmp_path):
    text = run("--help", cwd=tmp_path).stdout
    for option in ("-d", "-t", "-m ORDER", "-p", "-z", "convert", "./info"):
        assert option in text
    assert "--to" in run("convert", "--help", cwd=tmp_path).stdout


@pytest.mark.parametrize("section", ["header", "crack index", "labels section", "slices"])
def test_integrity_test_names_the_damaged_section(tmp_path, section):
    view = stream_view(STREAM)
    layout = view.layout
    at = {"header": 9, "crack index": 33, "labels section": layout.labels_offset + 12,
          "slices": layout.slice_crcs_offset + 4 * 7 + 1}[section]
    damaged = bytearray(STREAM)
    damaged[at] ^= 0x04
    (tmp_path / "good.ckl").write_bytes(STREAM)
    (tmp_path / "bad.ckl").write_bytes(bytes(damaged))
    assert run("-t", "good.ckl", cwd=tmp_path).returncode == 0
    done = run("-t", "bad.ckl", cwd=tmp_path)
    assert done.returncode != 0
    assert f"{section}: DAMAGED" in done.stdout
    if section == "slices":
        assert "z = 7" in done.stdout
    assert run("test", "bad.ckl", cwd=tmp_path).returncode != 0


def test_bad_inputs_give_one_line_and_a_non_zero_exit(tmp_path):
    (tmp_path / "junk.ckl").write_bytes(b"junk" * 10)
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    (tmp_path / "notes.txt").write_text("hello")
    for args in (["absent.npy"], ["notes.txt"], ["-d", "junk.ckl"], ["junk.npy"], ["info", "junk.ckl"],
                 ["convert", "junk.ckl", "--to", "tiff"], ["stack", "absent"]):
        done = run(*args, cwd=tmp_path)
        assert done.returncode != 0, args
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("crackle: ") and "Traceback" not in done.stderr, (args, done.stderr)


def test_a_killed_conversion_leaves_the_old_file(tmp_path):
    big = (np.arange(256 * 256 * 64, dtype=np.uint64).reshape(256, 256, 64) // 7)
    (tmp_path / "big.ckl").write_bytes(crackle.compress(big))
    (tmp_path / "big.npy").write_bytes(b"old contents")
    code = textwrap.dedent("""
        import os, signal, sys, crackle.files as files
        real = files.atomic_write
        import contextlib
        @contextlib.contextmanager
        def dying(*args, **kwargs):
            with real(*args, **kwargs) as handle:
                class Out:
                    n = 0
                    def write(self, data):
                        handle.write(data); Out.n += 1
                        if Out.n == 2: os.kill(os.getpid(), signal.SIGKILL)
                yield Out()
        files.atomic_write = dying
        from crackle.cli import main
        sys.exit(main(["-d", "big.ckl"]))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=child_env(), capture_output=True, timeout=300)
    assert done.returncode == -9
    assert (tmp_path / "big.npy").read_bytes() == b"old contents"


def test_children_find_the_project_under_pythonsafepath(tmp_path):
    """With PYTHONSAFEPATH=1, ``-c`` and ``-m`` leave the working folder off sys.path: the children
    that tests start get the project's root from :func:`tests.children.child_env` instead."""
    env = child_env(PYTHONSAFEPATH="1")
    code = "import sys, tests.conftest, crackle; print(sys.flags.safe_path)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr[-2000:]
    (tmp_path / "cases.pickle").write_bytes(pickle.dumps([("one vector", load_vector("tiny_4x4x2_F")[0])]))
    done = subprocess.run([sys.executable, "-m", "tests.fuzz_child", "cases.pickle", str(8 << 30)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.split()[:2] == ["0", "ok"], done.stderr[-2000:]
