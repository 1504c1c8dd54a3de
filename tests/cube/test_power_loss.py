"""A finished point survives power loss: the write sequence of a scan's points replayed with the
last write torn or missing.

Each file write of a local store (cube.storage._put) is: temporary file, fsync, rename, fsync of
the directory; it returns only then. So at a power cut the disk holds every write that returned,
in order, and the one in progress is either absent or a torn temporary `*.partial` file (never a
torn file under its final name). The replay rebuilds each such state from the recorded sequence
and checks that the cube opens (no damage reported), that the points done in it are exactly those
whose status write came before the cut, with their final numbers, and that a rerun finishes.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import mcpdask
from mcpdask import cube
from mcpdask.cube import storage
from mcpdask.experiments import CONFIG_DIR, load_scan

NUMBERS = ("dsigma_dx", "dsigma_dx_err", "sigma", "sigma_err", "chi2_dof", "Q", "n_eval", "wall_s")
POINTS = [
    ("ldmx", 8.0, 0.1, 3.0, None),
    ("na64mu", 160.0, 0.5, np.nan, "a failed point with a reason (its note is written)"),
    ("na64mu", 160.0, 0.01, 5.0, None),
    ("ldmx", 8.0, 0.01, 7.0, None),
]


def result(value, reason):
    if reason:
        return cube.PointResult.failed(20, reason, wall_s=0.2)
    return cube.PointResult(np.full(20, value), np.full(20, value / 100), value, value / 100,
                            1.1, 0.4, 1000, 0.5, cube.Status.CONVERGED)  # fmt: skip


def write_points(store):
    writer = cube.PointWriter(store)
    for exp, energy, mass, value, reason in POINTS:
        writer.write(exp, energy, mass, result(value, reason))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """(empty cube, final cube, [(relative path, bytes)] of every write the points made)."""
    d = tmp_path_factory.mktemp("power")
    before = d / "before.zarr"
    cube.create_cube(before, load_scan(CONFIG_DIR / "quick.yaml"))
    final = d / "final.zarr"
    shutil.copytree(before, final)
    writes = []
    real = storage._put

    def recording(path, value, exclusive=False):
        data = bytes(value.as_buffer_like() if hasattr(value, "as_buffer_like") else value)
        writes.append((path.relative_to(final), data))
        return real(path, value, exclusive)

    storage._put = recording
    try:
        write_points(final)
    finally:
        storage._put = real
    return before, final, writes


def _numbers(store):
    ds = mcpdask.open_cube(store)  # verifies: raises on any damage
    return {n: ds[n].values for n in (*NUMBERS, "status")} | {"notes": ds.attrs["point_notes"]}


@pytest.mark.parametrize("last", ["missing", "torn"])
def test_replay_with_the_last_write_torn_or_missing(recorded, tmp_path, last):
    before, final, writes = recorded
    want = _numbers(final)
    status_writes = [i for i, (p, _d) in enumerate(writes) if p.parts[0] == "status"]
    assert len(status_writes) == len(POINTS)  # one status write per point, each the last
    assert len(writes) >= 6 * len(POINTS)  # data chunks, notes, status (fill-only chunks: none)
    for cut in range(len(writes) + 1):
        store = tmp_path / f"cut{cut}.zarr"
        shutil.copytree(before, store)
        for rel, data in writes[:cut]:  # every write that returned is on disk, in order
            (store / rel).parent.mkdir(parents=True, exist_ok=True)
            (store / rel).write_bytes(data)
        if cut < len(writes) and last == "torn":  # the write in progress: a torn temporary
            rel, data = writes[cut]
            (store / rel).parent.mkdir(parents=True, exist_ok=True)
            (store / rel).with_name(f"{rel.name}.0123abcd.partial").write_bytes(
                data[: len(data) // 2]
            )
        got = _numbers(store)
        done = got["status"] != cube.Status.MISSING
        committed = sum(i < cut for i in status_writes)
        assert int(done.sum()) == committed, (cut, writes[cut - 1][0] if cut else None)
        for name in (*NUMBERS, "status"):
            assert np.array_equal(got[name][done], want[name][done], equal_nan=True), (cut, name)
        assert np.all(np.isnan(got["sigma"][~done]))
        for key, note in got["notes"].items():
            assert want["notes"][key] == note
        if cut in (0, len(writes) // 2, len(writes) - 1):
            # after power returns: the next writer cleans up and rewrites what is missing
            cube.clean_leftovers(store)
            assert not list(store.rglob("*.partial"))
            write_points(store)
            again = _numbers(store)
            for name in (*NUMBERS, "status"):
                assert np.array_equal(again[name], want[name], equal_nan=True), name
            assert again["notes"] == want["notes"]


def test_each_write_is_flushed_before_it_is_renamed_and_its_directory_after(tmp_path, monkeypatch):
    """The order of the system calls of one durable write: write the temporary file, fsync it,
    rename it over the final name, fsync the directory (and the parents of new directories)."""
    log = []
    real_open, real_fsync, real_replace = os.open, os.fsync, os.replace
    fds = {}

    def logged_open(path, flags, *args):
        fd = real_open(path, flags, *args)
        fds[fd] = str(path)
        return fd

    def logged_fsync(fd):
        log.append(("fsync", fds.get(fd)))
        return real_fsync(fd)

    def logged_replace(src, dst):
        log.append(("rename", str(src), str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(storage.os, "open", logged_open)
    monkeypatch.setattr(storage.os, "fsync", logged_fsync)
    monkeypatch.setattr(storage.os, "replace", logged_replace)
    target = tmp_path / "new" / "dir" / "chunk"
    storage._put(target, b"x" * 1000)
    assert target.read_bytes() == b"x" * 1000
    kinds = [entry[0] for entry in log]
    assert kinds == ["fsync", "rename", "fsync", "fsync", "fsync"], log
    tmp = log[0][1]
    assert tmp.endswith(".partial") and log[1][1] == tmp and log[1][2] == str(target)
    assert log[2][1] == str(target.parent)  # the directory entry of the chunk
    assert {log[3][1], log[4][1]} == {str(tmp_path / "new"), str(tmp_path)}  # new directories
    assert not list(tmp_path.rglob("*.partial"))
