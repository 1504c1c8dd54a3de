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
