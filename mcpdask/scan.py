"""Scans: one Dask task per (experiment, energy, mass) point, each written to the cube as it finishes.

The task is a pure, seeded function of its inputs (`compute_point`), so a point's numbers do not
depend on the number of workers or the order of completion. Rerunning a scan on its store computes
only the missing points; a scan with new masses, energies or experiments extends the cube; a scan
whose physics options differ from the cube's is refused before the store is touched.

>>> point_seed(1234, "na64mu", 160.0, 0.05) == point_seed(1234, "na64mu", 160.0, 0.05)
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import os
import sys
import time
import traceback
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mcpdask import cube as _cube
from mcpdask.errors import McpdaskError, StoreError
from mcpdask.experiments import Experiment, ScanSpec, load_scan


def point_seed(scan_seed: int, experiment: str, energy_gev: float, mass_gev: float) -> int:
    """The VEGAS seed of one point: a function of (scan seed, experiment, energy, mass) only.

    A stable hash (sha256 of the point's name, energy and mass to 12 significant digits) and the
    scan seed feed numpy's SeedSequence; the first 32-bit word of its state is the seed.
    """
    text = f"{experiment}|{float(energy_gev):.12g}|{float(mass_gev):.12g}"
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "little")
    return int(np.random.SeedSequence([int(scan_seed), digest]).generate_state(1)[0])


@dataclass(frozen=True)
class PointTask:
    """Everything one point needs: shipped to a worker, turned into numbers by `compute_point`."""

    experiment: str
    lepton: str
    target: dict
    energy_gev: float
    mass_gev: float
    x_min: float
    x_max: float
    x_edges: tuple[float, ...]
    process: str
    method: str
    inelastic: bool
    precision: float
    max_evals: int
    seed: int

    @property
    def key(self) -> str:
        """A Dask key that names the point and hashes all its inputs."""
        digest = hashlib.sha256(repr(self).encode()).hexdigest()[:16]
        return f"mcpdask-point-{self.experiment}-{self.energy_gev:g}-{self.mass_gev:.6g}-{digest}"


def make_task(spec: ScanSpec, exp: Experiment, energy: float, mass: float) -> PointTask:
    return PointTask(
        experiment=exp.name,
        lepton=exp.lepton,
        target=exp.target_dict,
        energy_gev=float(energy),
        mass_gev=float(mass),
        x_min=exp.x_min,
        x_max=exp.x_max,
        x_edges=tuple(float(x) for x in spec.x_edges),
        process=spec.physics.process,
        method=spec.physics.method,
        inelastic=bool(spec.physics.inelastic),
        precision=float(spec.vegas.precision),
        max_evals=int(spec.vegas.max_evals),
        seed=point_seed(spec.seed, exp.name, energy, mass),
    )


@functools.cache
def keep_freed_memory_for_reuse() -> None:
    """Raise glibc's trim and mmap thresholds (64 and 32 MiB) once per process.

    vegas batches allocate and free numpy arrays thousands of times per point; Dask starts
    workers with MALLOC_TRIM_THRESHOLD_=65536, so glibc hands that memory back to the kernel at
    every free and page-faults it in again: about half of a point's CPU time
    (benchmarks/physics.py, 'allocator'). Without glibc (or mallopt) nothing changes.
    """
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(m_trim_threshold, 64 << 20)
        libc.mallopt(m_mmap_threshold, 32 << 20)
    except (OSError, AttributeError):
        pass


def compute_point(task: PointTask) -> dict[str, Any]:
    """Integrate one point with the physics core; never raises (a failure is status 3 + reason)."""
    keep_freed_memory_for_reuse()
    start = time.perf_counter()
    nbins = len(task.x_edges) - 1
    try:
        from mcpdask.physics.constants import lepton_mass
        from mcpdask.physics.integrate import cross_section

        closed = _closed_result(task, lepton_mass(task.lepton))
        if closed is not None:
            return closed

        res = cross_section(
            lepton=task.lepton,
            target=dict(task.target),
            energy_gev=task.energy_gev,
            mass_gev=task.mass_gev,
            x_min=task.x_min,
            x_max=task.x_max,
            process=task.process,
            method=task.method,
            x_edges=np.asarray(task.x_edges),
            precision=task.precision,
            max_evals=task.max_evals,
            seed=task.seed,
            inelastic=task.inelastic,
        )
        return result_from_physics(res, nbins)
    except Exception as exc:  # noqa: BLE001 - a failed point is recorded, the scan goes on
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
        return failed_result(
            nbins, f"{type(exc).__name__}: {exc}{where}", time.perf_counter() - start
        )


def _closed_result(task: PointTask, m_lepton: float) -> dict[str, Any] | None:
    """Status below_threshold (zero cross section) when the pair cannot be made in the cut window:
    2 m_chi >= x_max E0 (or >= E0 - m_lepton). Bins above the window, if any, stay NaN."""
    threshold = 2.0 * task.mass_gev if task.process == "mcp" else task.mass_gev
    available = min(task.x_max, 1.0 - m_lepton / task.energy_gev) * task.energy_gev
    if threshold < available:
        return None
    edges = np.asarray(task.x_edges)
    x_open = min(threshold / task.energy_gev, 1.0 - m_lepton / task.energy_gev)
    dsig = np.where(edges[1:] <= x_open, 0.0, np.nan)
    return {
        "dsigma_dx": dsig,
        "dsigma_dx_err": dsig.copy(),
        "sigma": 0.0,
        "sigma_err": 0.0,
        "chi2_dof": np.nan,
        "Q": np.nan,
        "n_eval": 0,
        "wall_s": 0.0,
        "status": _cube.BELOW_THRESHOLD,
        "reason": f"{'2 m_chi' if task.process == 'mcp' else 'm_V'} = {threshold:.6g} GeV is not "
        f"below x_max * E0 = {available:.6g} GeV: no signal in the cut window",
    }


def result_from_physics(res: Any, nbins: int) -> dict[str, Any]:
    """The cube's per-point fields from a CrossSectionResult (checked by `checked_result`)."""
    status = _cube.STATUS_CODES.get(str(res.status))
    if status is None or status == _cube.MISSING:
        raise ValueError(f"unknown status {res.status!r} from the physics core")
    dsig = np.asarray(res.dsigma_dx_pb, dtype=float)
    dsig_err = np.asarray(res.dsigma_dx_err_pb, dtype=float)
    if dsig.shape != (nbins,) or dsig_err.shape != (nbins,):
        raise ValueError(f"physics returned {dsig.shape} bins, expected {nbins}")
    reason = None
    if status == _cube.BUDGET_EXHAUSTED:
        rel = float(res.sigma_err_pb) / float(res.sigma_pb) if res.sigma_pb else float("inf")
        reason = (
            f"precision {float(res.precision):.3g} not reached within max_evals: relative error "
            f"{rel:.3g} after {int(res.n_eval)} evaluations (raise vegas.max_evals or loosen "
            "vegas.precision)"
        )
    result = {
        "dsigma_dx": dsig,
        "dsigma_dx_err": dsig_err,
        "sigma": float(res.sigma_pb),
        "sigma_err": float(res.sigma_err_pb),
        "chi2_dof": float(res.chi2_dof),
        "Q": float(res.Q),
        "n_eval": int(res.n_eval),
        "wall_s": float(res.wall_s),
        "status": status,
        "reason": reason,
    }
    return checked_result(result, nbins)


def checked_result(result: Any, nbins: int) -> dict[str, Any]:
    """A point's result as it may be stored: well-formed, and numbers consistent with its status.

    A measured point (converged, budget_exhausted) needs finite, non-negative sigma and
    sigma_err, finite dsigma_dx and errors in every bin and evaluations > 0; anything else (NaN
    or inf from the integrator, missing keys, wrong shapes, unknown status) becomes status failed
    with the reason, so NaN is never stored as converged. This is what `cube.verify_store`
    checks on open.
    """
    try:
        status = int(result["status"])
        out = {name: result[name] for name in _cube.DATA_VARS}
        out["reason"] = result.get("reason")
        for name in ("dsigma_dx", "dsigma_dx_err"):
            out[name] = np.asarray(out[name], dtype=float)
            if out[name].shape != (nbins,):
                raise ValueError(f"{name} has shape {out[name].shape}, expected ({nbins},)")
        for name in ("sigma", "sigma_err", "chi2_dof", "Q", "wall_s"):
            out[name] = float(out[name])
        out["n_eval"] = int(out["n_eval"])
        if status not in _cube.DONE_STATUSES:
            raise ValueError(f"status {status} is not a finished point's status")
        out["status"] = status
    except Exception as exc:  # noqa: BLE001 - a malformed result is a failed point
        return failed_result(nbins, f"malformed point result: {type(exc).__name__}: {exc}")
    bad = []
    if status in (_cube.CONVERGED, _cube.BUDGET_EXHAUSTED):
        for name in ("sigma", "sigma_err"):
            if not (np.isfinite(out[name]) and out[name] >= 0):
                bad.append(f"{name} = {out[name]!r}")
        for name in ("dsigma_dx", "dsigma_dx_err"):
            n_bad = int(np.sum(~np.isfinite(out[name])))
            if n_bad:
                bad.append(f"{name} not finite in {n_bad} of {nbins} bins")
        if out["n_eval"] <= 0:
            bad.append("no evaluations")
    elif status == _cube.BELOW_THRESHOLD and out["sigma"] != 0:
        bad.append(f"below threshold with sigma = {out['sigma']!r}")
    if bad:
        was = _cube.STATUS_NAMES[status]
        return failed_result(
            nbins,
            f"integration gave unusable numbers ({'; '.join(bad)}); "
            f"reported as {was}, stored as failed",
            out["wall_s"],
        )
    return out


def failed_result(nbins: int, reason: str, wall_s: float = float("nan")) -> dict[str, Any]:
    nan = np.full(nbins, np.nan)
    return {
        "dsigma_dx": nan,
        "dsigma_dx_err": nan,
        "sigma": np.nan,
        "sigma_err": np.nan,
        "chi2_dof": np.nan,
        "Q": np.nan,
        "n_eval": 0,
        "wall_s": float(wall_s),
        "status": _cube.FAILED,
        "reason": reason,
    }


# --------------------------------------------------------------------------------------------


@dataclass
class ScanReport:
    """What a scan did: points in the scan, already done, submitted, written, by status."""

    store: Path
    scan: str
    n_points: int
    n_already_done: int
    n_submitted: int
    n_written: int = 0
    n_lost: int = 0
    created: bool = False
    added: dict = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    wall_s: float = 0.0
    lost: list = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"scan {self.scan!r} -> {self.store}",
            (
                f"{self.n_points} points: {self.n_already_done} already in the store, "
                f"{self.n_submitted} computed in {self.wall_s:.1f} s"
            ),
        ]
        if self.statuses:
            parts.append("new points: " + ", ".join(f"{n} {s}" for s, n in self.statuses.items()))
        if self.n_lost:
            parts.append(f"{self.n_lost} points lost to worker errors (rerun to retry them)")
        return "\n".join(parts)


def default_store(spec: ScanSpec) -> Path:
    """Where a scan writes without --store: ./mcpdask-store/<scan name>.zarr."""
    return Path.cwd() / "mcpdask-store" / f"{spec.name}.zarr"


def scan(
    config: str | Path | ScanSpec,
    store: str | Path | None = None,
    client: Any = None,
    *,
    n_workers: int | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    point_function: Callable[[PointTask], dict] | None = None,
    log: Callable[[str], None] | None = None,
) -> ScanReport:
    """Run a scan into a Zarr cube and return a ScanReport.

    config: a scan YAML path or a ScanSpec. store: the cube's path (default
    ./mcpdask-store/<name>.zarr).
    client: a dask.distributed Client, or a zero-argument callable returning (client, closer)
    that is called only when there is something to compute (mcpdask.cluster.client_factory);
    without one, a LocalCluster with `n_workers` (default: one
    per core) single-threaded worker processes is started and closed. Only points missing from
    the store are computed (and failed ones with retry_failed). `point_function` replaces the
    physics (for testing the machinery); it must be a pure function of a PointTask.
    """
    spec = config if isinstance(config, ScanSpec) else load_scan(config)
    if store is None:
        store = default_store(spec)
        store.parent.mkdir(parents=True, exist_ok=True)
    store = Path(store)
    log = log or (lambda msg: None)
    point_function = point_function or compute_point
    if not store.parent.exists():
        raise StoreError(f"{store}: parent directory {store.parent} does not exist")

    # one writer per store: a second scan is refused while this one runs (see cube.StoreLock)
    lock = _cube.StoreLock(store, purpose=f"scan {spec.name}").acquire()
    try:
        if lock.stale_holder:
            log(
                f"took over the lock of an earlier scan that is no longer running "
                f"(pid {lock.stale_holder.get('pid')} on {lock.stale_holder.get('host')})"
            )
        n_removed = _cube.clean_leftovers(store)
        if n_removed:
            log(f"removed {n_removed} leftovers of an interrupted write")
        return _scan_locked(
            spec, store, client, n_workers, progress, retry_failed, point_function, log
        )
    finally:
        lock.release()


def _scan_locked(spec, store, client, n_workers, progress, retry_failed, point_function, log):
    # 1. everything that can refuse the scan, before the store is touched
    exposure = []
    if store.exists():
        ds = _cube._open_raw(store, locked=True)
        _cube.check_compatible(ds, spec, store)
        exposure = _cube.exposure_changes(ds, spec)
        ds.close()
        created = False
    else:
        created = True
    tasks = {(t.experiment, t.energy_gev, t.mass_gev): t for t in _tasks(spec)}
    if exposure:
        # exposure-like values do not enter the integration: take the config's, keep the points
        _cube.update_exposure(store, exposure)
        log(
            "updated exposure of the stored experiments (points kept): "
            + "; ".join(
                f"{name} {coord} {_fmt(have)} -> {_fmt(want)}"
                for name, _i, coord, have, want in exposure
            )
        )
    if not created and not any(_cube.missing_coordinates(ds, spec).values()):
        todo = _todo(_cube.PointWriter(store), tasks, retry_failed)
        if not todo:  # nothing to do: no cluster, no write
            log(
                f"all {len(tasks)} points of {spec.name!r} are already in {store}; "
                "nothing to compute"
            )
            return ScanReport(
                store=store,
                scan=spec.name,
                n_points=len(tasks),
                n_already_done=len(tasks),
                n_submitted=0,
            )

    # 2. create or extend (a LocalCluster of our own starts first: its workers import the
    #    physics while the store is prepared)
    own_cluster = None
    if client is not None and not hasattr(client, "submit") and callable(client):
        # a factory (mcpdask.cluster.client_factory) returning (client, closer): a batch cluster
        # starts only now that there are points to compute; scan closes both when done
        client, own_cluster = client()
    if client is not None:
        check_client(client)
    else:
        client, own_cluster = _local_client(n_workers)
        log(f"started a LocalCluster with {len(client.scheduler_info()['workers'])} workers")
    try:
        return _prepare_and_run(
            spec, store, client, created, tasks, retry_failed, point_function, progress, log
        )
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()


async def _warm_up() -> None:
    """Import the physics on a worker ahead of its first point (a coroutine: run without wait)."""
    import mcpdask.physics.integrate  # noqa: F401


def _prepare_and_run(
    spec, store, client, created, tasks, retry_failed, point_function, progress, log
) -> ScanReport:
    if point_function is compute_point:
        client.run(_warm_up, wait=False)
    if created:
        _cube.create_cube(store, spec)
        added = {}
        log(f"created cube {store}")
    else:
        added = _cube.extend_cube(store, spec)
        if any(added.values()):
            log(
                f"extended cube {store}: "
                + ", ".join(f"{len(v)} new {k}" for k, v in added.items() if v)
            )
    writer = _cube.PointWriter(store)
    todo = _todo(writer, tasks, retry_failed)
    report = ScanReport(
        store=store,
        scan=spec.name,
        n_points=len(tasks),
        n_already_done=len(tasks) - len(todo),
        n_submitted=len(todo),
        created=created,
        added=added,
    )
    if not todo:
        log(f"all {len(tasks)} points of {spec.name!r} are already in {store}; nothing to compute")
        return report
    _cube.add_history(
        store,
        {
            "scan": spec.name,
            "config": spec.source,
            "points_submitted": len(todo),
            "mcpdask_version": _version(),
        },
    )

    # 3. compute, writing each point as it finishes
    start = time.perf_counter()
    try:
        _run(client, todo, writer, report, point_function, progress, spec.name)
    finally:
        report.wall_s = time.perf_counter() - start
    return report


def _todo(writer: _cube.PointWriter, tasks: dict, retry_failed: bool) -> list[PointTask]:
    """The tasks whose points are missing from the store (or failed, with retry_failed)."""
    status = writer.status()
    todo = []
    for point, task in tasks.items():
        s = status[writer.index(*point)]
        if s == _cube.MISSING or (retry_failed and s == _cube.FAILED):
            todo.append(task)
    return todo


def _tasks(spec: ScanSpec) -> list[PointTask]:
    return [
        make_task(spec, spec.experiment(name), energy, mass) for name, energy, mass in spec.points()
    ]


def _run(client, todo, writer, report, point_function, progress, name) -> None:
    from distributed import as_completed
    from tqdm.auto import tqdm

    futures = {}
    for task in todo:
        fut = client.submit(point_function, task, key=task.key, pure=False, retries=0)
        futures[fut] = task
    bar = tqdm(
        total=len(futures),
        desc=f"scan {name}",
        unit="pt",
        disable=not progress,
        smoothing=0.1,
        dynamic_ncols=True,
    )
    try:
        for fut in as_completed(futures, loop=client.loop):  # client need not be the default
            task = futures.pop(fut)
            point = (task.experiment, task.energy_gev, task.mass_gev)
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - worker died or cancelled: point stays missing
                report.n_lost += 1
                report.lost.append((point, f"{type(exc).__name__}: {exc}"))
                bar.update(1)
                continue
            finally:
                fut.release()
            result = checked_result(result, len(task.x_edges) - 1)
            writer.write(*point, result)
            report.n_written += 1
            report.statuses[_cube.STATUS_NAMES[int(result["status"])]] += 1
            bar.update(1)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        bar.close()


def _local_client(n_workers: int | None):
    from distributed import Client, LocalCluster

    n = n_workers or os.cpu_count() or 1
    try:
        import bokeh  # noqa: F401

        dashboard = ":0"
    except ImportError:
        dashboard = None
    cluster = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=dashboard
    )
    return Client(cluster), cluster


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


def _version() -> str:
    from mcpdask import __version__

    return __version__


def check_client(client: Any) -> None:
    if not hasattr(client, "submit"):
        raise McpdaskError(f"client must be a dask.distributed Client, got {type(client).__name__}")


class _CallableModule(types.ModuleType):
    """Lets `mcpdask.scan(config, store, client)` call scan() although mcpdask.scan is a module."""

    def __call__(self, *args, **kwargs) -> ScanReport:
        return scan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
