"""Shared fixtures: paths to the shared spec and data, golden vectors, seeds, the reference oracle."""

import gzip
import json
import os
import secrets
from pathlib import Path

import numpy as np
import pytest

from tests.children import ROOT, child_env  # noqa: F401 (shared with the tests that start children)
from tests.reference import ensure_reference
from tests.servers import s3_server

SHARED = ROOT.parent / "shared"
DATA = Path(os.environ.get("CRACKLE_TEST_DATA", SHARED / "data"))
VECTORS = SHARED / "spec" / "vectors"


def load_manifest() -> list:
    """The golden vector cases listed in ``manifest.json``."""
    return json.loads((VECTORS / "manifest.json").read_text())["cases"]


def load_vector(name: str) -> tuple:
    """``(stream bytes, input array)`` of one golden vector."""
    return (VECTORS / f"{name}.ckl").read_bytes(), np.load(VECTORS / f"{name}.npy")


@pytest.fixture(scope="session")
def connectomics_stream() -> bytes:
    """The shared 512^3 connectomics volume as written by crackle-codec (pins, Markov 7)."""
    return gzip.decompress((DATA / "connectomics.npy.ckl.gz").read_bytes())


@pytest.fixture(scope="session")
def reference():
    """Make sure crackle-codec is installed for the subprocess oracle (never imported here)."""
    return ensure_reference()


@pytest.fixture
def seed() -> int:
    """A fresh random seed per test run (override with CRACKLE_TEST_SEED); printed so failures can be replayed."""
    value = int(os.environ.get("CRACKLE_TEST_SEED", secrets.randbits(32)))
    print(f"seed: CRACKLE_TEST_SEED={value}")
    return value


@pytest.fixture(scope="session")
def s3():
    """``(s3fs filesystem, storage_options)`` for a bucket "volumes" on an in-process S3 server."""
    import s3fs

    with s3_server("volumes") as options:
        yield s3fs.S3FileSystem(**options), options


@pytest.fixture(scope="module")
def client():
    """A local cluster of 2 worker processes (1 thread each), the default scheduler while in use."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client
