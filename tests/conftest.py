"""Shared fixtures: one small real cube (configs/quick.yaml, ~15-60 s) built once per session."""

from pathlib import Path

import pytest

QUICK = Path(__file__).resolve().parents[1] / "configs" / "quick.yaml"


@pytest.fixture(scope="session")
def quick_cube_store(tmp_path_factory) -> Path:
    """Path of a quick-scan cube (2 experiments x 3 masses, real physics); treat as read-only."""
    import mcpdask

    store = tmp_path_factory.mktemp("quick_cube") / "quick.zarr"
    mcpdask.scan(QUICK, store, progress=False)
    return store
