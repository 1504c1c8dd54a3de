"""Shared fixtures: one small real cube (configs/quick.yaml, ~15-60 s) built once per session."""

import hashlib
from pathlib import Path

import pytest

from mcpdask.experiments import CONFIG_DIR

QUICK = CONFIG_DIR / "quick.yaml"


@pytest.fixture(scope="session")
def quick_cube_store(tmp_path_factory) -> Path:
    """Path of a quick-scan cube (2 experiments x 3 masses, real physics); treat as read-only."""
    import mcpdask

    store = tmp_path_factory.mktemp("quick_cube") / "quick.zarr"
    mcpdask.scan(QUICK, store, progress=False)
    return store


@pytest.fixture
def store_checksum():
    """A function: the fingerprint of a store (names, contents and modification times of every
    file under it), to show that a refused operation left it untouched."""

    def checksum(path: Path) -> str:
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode())
            h.update(f.read_bytes())
            h.update(str(f.stat().st_mtime_ns).encode())
        return h.hexdigest()

    return checksum


def _fake_point(task):
    """A point function with no physics (for testing the scan machinery): seeded numbers."""
    import numpy as np

    from mcpdask.cube import PointResult, Status

    n = len(task.x_edges) - 1
    value = float(np.random.default_rng(task.seed).random())
    return PointResult(np.full(n, value), np.full(n, 0.01), value, 0.01, 1.0, 0.5, 1, 0.0,
                       Status.CONVERGED)  # fmt: skip


@pytest.fixture
def fake_point():
    """The machinery-only point function (threads only: it lives in this conftest)."""
    return _fake_point


@pytest.fixture(scope="module")
def threads_client():
    """A dask Client of one in-process worker with two threads (quick to start; point functions
    defined in test modules need no pickling)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                     dashboard_address=None) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):  # fmt: skip
        yield client
