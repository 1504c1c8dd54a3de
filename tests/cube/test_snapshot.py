"""Readers during a scan, the schema-2 layout, plain xarray, and cubes of schema 1.

A reader's snapshot is the status array, read before any data; the writer writes a point's
status after its data. So a reader opening the cube while a scan writes it sees the points
finished before it opened, each with its final numbers, and never a false damage report.
"""

from __future__ import annotations

import io
import threading
import time
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
import xarray as xr
import zarr

import mcpdask
from mcpdask import cube
from mcpdask.cli import main
from mcpdask.experiments import CONFIG_DIR, load_scan
from mcpdask.views.tables import cube_summary

pytestmark = pytest.mark.timeout(300)

NUMBERS = ("dsigma_dx", "dsigma_dx_err", "sigma", "sigma_err", "chi2_dof", "Q", "n_eval", "wall_s")

SCAN = """\
name: busy
experiments: [na64mu, ldmx]
mass_grid: {min_gev: 0.002, max_gev: 1.0, num: 40}
x_bins: {min: 0.0, max: 1.0, num_bins: 50}
vegas: {precision: 0.05, max_evals: 400000}
seed: 5
"""


PACE = {"reads": 0, "started": 0, "reads_per_point": 2.6}
"""The scan's pace: the k-th point starts once the readers have done k * reads_per_point reads
(so that >= 200 reads happen while 80 points are written, whatever the machine's speed)."""
_PACE_LOCK = threading.Lock()


def slow_point(task):
    """Seeded numbers, paced by the readers (see PACE); the heaviest LDMX masses fail with a
    reason, so point notes are written during the scan too."""
    from mcpdask.cube import PointResult, Status

    with _PACE_LOCK:
        k = PACE["started"]
        PACE["started"] += 1
    deadline = time.monotonic() + 30
    while PACE["reads"] < k * PACE["reads_per_point"] and time.monotonic() < deadline:
        time.sleep(0.005)
    n = len(task.x_edges) - 1
    if task.mass_gev > 0.8 and task.energy_gev < 10:
        return PointResult.failed(n, "a failure with a reason", wall_s=0.12)
    rng = np.random.default_rng(task.seed)
    value = float(rng.random()) + 0.1
    return PointResult(rng.random(n) + 0.1, np.full(n, 0.01), value, 0.01, 1.0, 0.5, 100, 0.12,
                       Status.CONVERGED)  # fmt: skip


@pytest.fixture(scope="module")
def threads(threads_client):
    return threads_client


def _read(store):
    ds = mcpdask.open_cube(store)
    values = ds[[*NUMBERS, "status"]].compute()
    return {name: values[name].values for name in (*NUMBERS, "status")} | {
        "notes": dict(ds.attrs["point_notes"])
    }


def test_two_hundred_reads_during_a_scan_see_consistent_snapshots(tmp_path, threads):
    """>= 200 reads (open_cube, every 10th also `mcpdask info` or `limits`) while a real scan
    writes 80 points: no read reports damage, and every read's numbers equal the final cube's
    for the points it saw as finished; the other points read as missing (NaN)."""
    config = tmp_path / "busy.yaml"
    config.write_text(SCAN)
    store = tmp_path / "busy.zarr"
    outcome = {}

    def run_scan():
        try:
            outcome["report"] = mcpdask.scan(
                config, store, threads, progress=False, point_function=slow_point
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            outcome["error"] = exc

    scanner = threading.Thread(target=run_scan)
    scanner.start()
    deadline = time.monotonic() + 60
    while not (store / "zarr.json").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    reads, errors, cli_runs = [], [], 0
    PACE.update(reads=0, started=0)
    while scanner.is_alive():
        try:
            reads.append(_read(store))
            PACE["reads"] = len(reads)
            if len(reads) % 10 == 0:
                argv = ["info", str(store)] if len(reads) % 20 else ["limits", str(store)]
                with redirect_stdout(io.StringIO()):
                    assert main(argv) == 0, argv
                cli_runs += 1
        except Exception as exc:  # noqa: BLE001 - any failure to read is a false alarm here
            errors.append(exc)
    scanner.join()
    assert "error" not in outcome, outcome.get("error")
    assert not errors, errors[:3]
    final = _read(store)
    total = final["status"].size
    done_final = final["status"] != cube.Status.MISSING
    assert int(done_final.sum()) == 80
    mid_scan = 0
    for got in reads:
        done = got["status"] != cube.Status.MISSING
        assert np.all(got["status"][done] == final["status"][done])
        for name in NUMBERS:
            assert np.array_equal(got[name][done], final[name][done], equal_nan=True), name
        assert np.all(np.isnan(got["sigma"][~done])) and np.all(got["n_eval"][~done] == 0)
        for key, note in got["notes"].items():
            assert final["notes"][key] == note
        failed = np.argwhere(got["status"] == cube.Status.FAILED)
        assert len(got["notes"]) >= len(failed)  # every failed point it saw has its note
        mid_scan += 0 < int(done.sum()) < int(done_final.sum())
    assert len(reads) >= 200 and cli_runs >= 20
    assert mid_scan >= 190, (mid_scan, len(reads), total)  # they saw a scan in progress


def test_reader_snapshot_hides_points_written_after_it_opened(tmp_path):
    spec = load_scan(CONFIG_DIR / "quick.yaml")
    store = tmp_path / "cube.zarr"
    cube.create_cube(store, spec)
    writer = cube.PointWriter(store)
    one = cube.PointResult(np.ones(20), np.full(20, 0.01), 1.0, 0.01, 1.0, 0.5, 10, 0.1,
                           cube.Status.CONVERGED)  # fmt: skip
    writer.write("ldmx", 8.0, 0.1, one)
    ds = mcpdask.open_cube(store)
    writer.write("ldmx", 8.0, 0.5, one)  # after the reader opened
    # the data are lazy, but the snapshot holds: the new point is not in it
    assert int((ds.status != 0).sum()) == 1
    assert np.isnan(float(ds.sigma.sel(experiment="ldmx", energy=8.0, mass=0.5)))
    assert float(ds.sigma.sel(experiment="ldmx", energy=8.0, mass=0.1)) == 1.0
    assert int((mcpdask.open_cube(store).status != 0).sum()) == 2


def test_damage_message_does_not_advise_deleting_data(tmp_path):
    spec = load_scan(CONFIG_DIR / "quick.yaml")
    store = tmp_path / "cube.zarr"
    cube.create_cube(store, spec)
    zarr.open_group(store, mode="r+")["status"][0, 0, 0] = 1  # done, without numbers
    with pytest.raises(mcpdask.errors.StoreError) as err:
        mcpdask.open_cube(store)
    text = str(err.value)
    assert "has status converged but sigma missing" in text
    assert "delete" not in text and "Restore the store from a copy" in text


def _paper_cube(tmp_path, threads):
    store = tmp_path / "paper.zarr"
    report = mcpdask.scan(CONFIG_DIR / "paper.yaml", store, threads, progress=False,
                          point_function=_fast_point)  # fmt: skip
    assert report.n_written == 80
    return store


def _fast_point(task):
    from mcpdask.cube import PointResult, Status

    n = len(task.x_edges) - 1
    v = float(np.random.default_rng(task.seed).random()) + 0.1
    return PointResult(np.full(n, v), np.full(n, 0.01), v, 0.01, 1.0, 0.5, 100, 0.0,
                       Status.CONVERGED)  # fmt: skip


def test_layout_one_file_per_experiment_and_energy_and_plain_xarray(tmp_path, threads):
    """The 80-point paper scan: a chunk (file) per (experiment, energy) for each variable,
    consolidated metadata; plain xarray opens it without any warning and with the same numbers."""
    store = _paper_cube(tmp_path, threads)
    files = [p for p in store.rglob("*") if p.is_file()]
    chunk_files = [p for p in files if p.name != "zarr.json"]
    # 10 point variables x 2 (experiment, energy) pairs with points + the coordinates' chunks
    assert len(chunk_files) <= 10 * 2 + 25, len(chunk_files)
    assert len(files) <= 70, len(files)  # schema 1: 764 files
    group = zarr.open_group(store, mode="r")
    assert group["dsigma_dx"].shards is None
    assert group["dsigma_dx"].chunks == (1, 1, 64, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = xr.open_zarr(store)
        sigma = plain.sigma.values
    ds = mcpdask.open_cube(store)
    assert np.array_equal(sigma, ds.sigma.values, equal_nan=True)
    assert "consolidated_metadata" in zarr.open_group(store).metadata.to_dict()


def test_extension_rewrites_the_consolidated_metadata(tmp_path):
    spec = load_scan(CONFIG_DIR / "quick.yaml")
    store = tmp_path / "cube.zarr"
    cube.create_cube(store, spec)
    bigger = spec.replace(masses_gev=np.r_[spec.masses_gev, 0.05])
    cube.extend_cube(store, bigger)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = xr.open_zarr(store)
    assert plain.sizes["mass"] == 4 and plain.dsigma_dx.shape[2] == 4
    assert sorted(plain.mass.values) == sorted(bigger.masses_gev)


def _cube_in_layout(path, spec, schema, inner_chunk_per_point):
    """An empty cube of `spec` written with one chunk per point (schema 1), or as shards of
    per-point inner chunks (the first schema-2 cubes)."""
    from mcpdask.cube import store as cube_store

    ds = cube_store._empty_cube(spec)
    ds.attrs.update(cube.schema.provenance_attrs(spec) | {cube.schema.SCHEMA_ATTR: schema})
    enc = {}
    for name, e in cube_store._encoding(ds).items():
        per_point = tuple(1 if d == "mass" else n for d, n in zip(ds[name].dims, e["chunks"],
                                                                 strict=True))  # fmt: skip
        enc[name] = {**e, "chunks": per_point}
        if inner_chunk_per_point:
            enc[name]["shards"] = e["chunks"]
    ds.to_zarr(path, mode="w-", encoding=enc, consolidated=False, zarr_format=3)
    if schema == 2:
        cube.group.update_attrs(path, consolidated=cube_store.consolidated_metadata(path))


@pytest.mark.parametrize(
    "schema, sharded", [(1, False), (2, True)], ids=["schema 1", "schema 2 sharded"]
)
def test_older_layouts_open_and_scan_in_their_layout(tmp_path, threads, schema, sharded):
    """A cube in the layout of schema 1 (one file per point and variable, no consolidated
    metadata) or of the first schema-2 cubes (shards of per-point inner chunks) opens with its
    numbers, and a scan finishes and extends it in its own layout."""
    spec = load_scan(CONFIG_DIR / "quick.yaml")
    path = tmp_path / "old.zarr"
    _cube_in_layout(path, spec, schema, sharded)
    writer = cube.PointWriter(path)
    one = cube.PointResult(np.full(20, 2.0), np.full(20, 0.01), 2.0, 0.01, 1.0, 0.5, 10, 0.1,
                           cube.Status.CONVERGED)  # fmt: skip
    writer.write("ldmx", 8.0, 0.1, one)
    old = mcpdask.open_cube(path)
    assert old.attrs[cube.schema.SCHEMA_ATTR] == schema
    assert float(old.sigma.sel(experiment="ldmx", energy=8.0, mass=0.1)) == 2.0
    if schema == 1:
        assert "schema 1" in cube_summary(path)
    bigger = spec.replace(masses_gev=np.r_[spec.masses_gev, 0.05])
    report = mcpdask.scan(bigger, path, threads, progress=False, point_function=_fast_point)
    assert report.n_submitted == 2 * 4 - 1
    ds = mcpdask.open_cube(path)
    assert int((ds.status != 0).sum()) == 8 and ds.sizes["mass"] == 4
    assert float(ds.sigma.sel(experiment="ldmx", energy=8.0, mass=0.1)) == 2.0
    sigma = zarr.open_group(path, mode="r")["sigma"]  # its layout is kept
    assert sigma.chunks == (1, 1, 1) and (sigma.shards is not None) == sharded
