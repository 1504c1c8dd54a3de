"""Scans at scale (issue 17): machinery per point, scheduler throughput, the paper scan 1 -> 2
workers as whole commands, a 0.1 per cent point cold and warm-started, and a ~10^4-point scan on
2 cores end to end, killed part-way and resumed.

    python -m benchmarks.scale [--only machinery,paper,point,big] [--repeats 3] [--out FILE.json]

Every part records the load average before and after it; medians over `--repeats`.
- machinery: the paper scan (80 points, 100 x bins) and a 9600-point variant with a point
  function that does no physics (a canned result), on LocalClusters of 1 and 2 workers: seconds
  per point of the compute phase (schedule, ship, write). Also with the writes taken out (a
  writer that keeps nothing): the scheduler's throughput in points per second, and from it the
  largest number of workers a scan of 1 per cent points keeps busy (throughput x point time).
  The scan writes its batches with PointWriter.write_batch (one chunk write per variable and
  (experiment, energy), then the statuses).
- paper: `mcpdask scan CONFIG --store NEW --workers N` as a subprocess (cluster start-up and
  imports included), N = 1, 2, cold (chain_length 1) and warm (as shipped).
- point: one core, precision 0.001: the six benchmark points (NA64mu, LDMX x m_chi 0.01, 0.05,
  0.3 GeV) cold, and warm: each one the 5th point of a chain over the paper's mass grid.
- big: 3 experiments x ~30 energies x 110 masses at 1 per cent, `mcpdask scan --workers 2` with
  progress; SIGKILLed at about 40 per cent, then rerun to the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from benchmarks.physics import load_average, machine
from benchmarks.scaling import CONFIGS, canned_point, clusters

BIG_MASSES = 110


def _median(xs):
    return float(statistics.median(xs))


class NullWriter:
    """A PointWriter that keeps nothing (for the scheduler's throughput alone)."""

    def __init__(self, real):
        self.real = real

    def status(self):
        return self.real.status()

    def index(self, *point):
        return self.real.index(*point)

    def write_batch(self, items):
        pass


def _scan_config(path, base, **changes):
    cfg = yaml.safe_load((CONFIGS / base).read_text())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        elif value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg))
    return path


def machinery(workdir, repeats, log):
    import cloudpickle

    import benchmarks.scaling as scaling
    import mcpdask
    from mcpdask import cube
    from mcpdask.scanning import runner

    cloudpickle.register_pickle_by_value(scaling)
    paper = _scan_config(workdir / "paper.yaml", "paper.yaml", name="paper")
    many = _scan_config(workdir / "many.yaml", "paper.yaml", name="many",
                        experiments=["na64mu", {"name": "ldmx", "energies_gev":
                                                [float(e) for e in np.linspace(4.0, 8.0, 119)]}],
                        mass_grid={"num": 80})  # fmt: skip
    real_writer = cube.PointWriter
    writers = {"PointWriter": real_writer,  # batched: the scan uses PointWriter.write_batch
               "no writes": lambda store, lock=None: NullWriter(real_writer(store))}  # fmt: skip
    rows = []
    with clusters((1, 2)) as cl:
        for n, c in cl.items():
            for config in (paper, many):
                for wname, wcls in writers.items():
                    walls = []
                    for _ in range(repeats):
                        store = Path(tempfile.mkdtemp(dir=workdir)) / "cube.zarr"
                        cube.PointWriter = wcls
                        runner.cube.PointWriter = wcls
                        try:
                            with c.client.as_current():
                                rep = mcpdask.scan(config, store, client=c.client, progress=False,
                                                   point_function=canned_point)  # fmt: skip
                        finally:
                            cube.PointWriter = real_writer
                            runner.cube.PointWriter = real_writer
                        walls.append(rep.wall_s)
                        shutil.rmtree(store.parent, ignore_errors=True)
                    row = {"workers": n, "scan": config.stem, "points": rep.n_points,
                           "writer": wname, "compute_phase_s": _median(walls),
                           "per_point_ms": 1e3 * _median(walls) / rep.n_points,
                           "points_per_s": rep.n_points / _median(walls)}  # fmt: skip
                    rows.append(row)
                    log(f"  machinery {config.stem:<6} {n}w {wname:<12} "
                        f"{row['per_point_ms']:7.2f} ms/point  {row['points_per_s']:8.0f} points/s")  # fmt: skip
    return rows


def _run_cli(config, store, workers, extra=()):
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "mcpdask", "scan", str(config), "--store", str(store),
         "--workers", str(workers), "--no-progress", *extra],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, out.stdout


def paper_commands(workdir, repeats, log):
    configs = {
        "cold": _scan_config(
            workdir / "paper-cold.yaml", "paper.yaml", name="paper-cold", vegas={"chain_length": 1}
        ),  # fmt: skip
        "warm (shipped)": CONFIGS / "paper.yaml",
        "warm, 0.1 per cent": _scan_config(
            workdir / "paper-fine.yaml", "paper.yaml", name="paper-fine", vegas={"precision": 0.001}
        ),  # fmt: skip
    }
    out = []
    for label, config in configs.items():
        walls = {1: [], 2: []}
        compute = {1: [], 2: []}
        for rep in range(repeats):
            for n in (1, 2) if rep % 2 == 0 else (2, 1):
                store = Path(tempfile.mkdtemp(dir=workdir)) / "p.zarr"
                wall, stdout = _run_cli(config, store, n)
                walls[n].append(wall)
                m = re.search(r"computed in ([\d.]+) s", stdout)
                compute[n].append(float(m.group(1)) if m else float("nan"))
                shutil.rmtree(store.parent, ignore_errors=True)
        row = {"config": label, "wall_1_s": _median(walls[1]), "wall_2_s": _median(walls[2]),
               "compute_1_s": _median(compute[1]), "compute_2_s": _median(compute[2]),
               "walls": walls, "computes": compute}  # fmt: skip
        row["speedup"] = row["wall_1_s"] / row["wall_2_s"]
        row["compute_speedup"] = row["compute_1_s"] / row["compute_2_s"]
        # what no scheduler can beat: the command's fixed part (imports, cluster start, cube
        # creation, shut-down) with the compute phase halved exactly
        row["fixed_s"] = row["wall_1_s"] - row["compute_1_s"]
        row["ideal_speedup"] = row["wall_1_s"] / (row["fixed_s"] + row["compute_1_s"] / 2)
        out.append(row)
        log(f"  paper {label:<15} whole command {row['wall_1_s']:.2f} s -> {row['wall_2_s']:.2f} s "
            f"x{row['speedup']:.2f}; compute {row['compute_1_s']:.2f} -> {row['compute_2_s']:.2f} s "
            f"x{row['compute_speedup']:.2f}; fixed {row['fixed_s']:.2f} s, ideal x{row['ideal_speedup']:.2f}")  # fmt: skip
    return out


def point_times(repeats, log, precision=0.001):
    from mcpdask.experiments import load_scan
    from mcpdask.physics.integrate import cross_section
    from mcpdask.scanning.point import keep_freed_memory_for_reuse

    keep_freed_memory_for_reuse()  # as in a scan's workers
    spec = load_scan(CONFIGS / "paper.yaml")
    masses = np.asarray(spec.masses_gev)
    edges = np.asarray(spec.x_edges)
    setups = {"na64mu": ("mu", "Pb", 160.0, 0.5), "ldmx": ("e", "Al", 8.0, 0.7)}
    rows = []
    for name, (lep, tgt, energy, xmin) in setups.items():
        for m in (0.01, 0.05, 0.3):
            i = int(np.argmin(np.abs(np.log(masses / m))))
            chain = masses[max(0, i - 4) : i]  # the 4 lighter neighbours, then the point
            cold, warm = [], []
            for rep in range(repeats):
                kw = {"x_edges": edges, "precision": precision, "seed": 100 + rep}
                cold.append(cross_section(lep, tgt, energy, m, xmin, **kw).wall_s)
                grid = None
                for mm in chain:
                    grid = cross_section(lep, tgt, energy, mm, xmin, warm_grid=grid,
                                         **kw).trained_grid  # fmt: skip
                r = cross_section(lep, tgt, energy, m, xmin, warm_grid=grid, **kw)
                warm.append(r.wall_s)
            row = {"experiment": name, "mass": m, "cold_s": _median(cold), "warm_s": _median(warm),
                   "warm_n_eval": r.n_eval}  # fmt: skip
            rows.append(row)
            log(f"  0.1% point {name:<7} m={m:<5} cold {row['cold_s']:.3f} s  warm "
                f"{row['warm_s']:.3f} s")  # fmt: skip
    return rows


def big_config(workdir):
    return _scan_config(
        workdir / "big.yaml", "three.yaml", name="big",
        experiments=[
            {"name": "na64mu", "energies_gev": [float(e) for e in np.linspace(40, 160, 30)]},
            {"name": "ldmx", "energies_gev": [float(e) for e in np.linspace(4, 8, 30)]},
            {"name": "na64e", "energies_gev": [60.0, 100.0]},
        ],
        mass_grid={"num": BIG_MASSES},
    )  # fmt: skip


def big_scan(workdir, log, kill_fraction=0.4):
    """The ~10^4-point scan: killed (SIGKILL of the whole process group) once about
    `kill_fraction` of the points are stored, then rerun; progress lines kept."""
    import zarr

    from mcpdask.experiments import load_scan

    config = big_config(workdir)
    n_points = len(load_scan(config).points())
    store = workdir / "big.zarr"
    cmd = [sys.executable, "-m", "mcpdask", "scan", str(config), "--store", str(store),
           "--workers", "2"]  # fmt: skip
    load_before = load_average()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    done = 0
    while proc.poll() is None:
        time.sleep(0.5)
        try:
            done = int(np.count_nonzero(zarr.open_group(store, mode="r")["status"][...]))
        except Exception:  # noqa: BLE001 - not created yet
            continue
        if done >= kill_fraction * n_points:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    first = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace")
    progress = [p.strip() for p in re.split(r"[\r\n]", stderr) if "pt/s" in p or "it/s" in p]
    log(f"  big scan: killed after {first:.0f} s with {done} of {n_points} points stored")
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    second = time.perf_counter() - start
    progress2 = [p.strip() for p in re.split(r"[\r\n]", out.stderr) if "pt/s" in p]
    log(f"  big scan: resumed, finished in {second:.0f} s; total {first + second:.0f} s")
    import mcpdask

    ds = mcpdask.open_cube(store)
    status = ds.status.values
    result = {
        "points": n_points, "killed_after_s": first, "stored_at_kill": done,
        "resume_s": second, "total_s": first + second, "resume_stdout": out.stdout[-600:],
        "progress_first": progress[-3:], "progress_resume": progress2[-3:],
        "statuses": {int(s): int((status == s).sum()) for s in np.unique(status)},
        "median_point_s": float(np.nanmedian(np.where(status == 1, ds.wall_s.values, np.nan))),
        "load_before": load_before, "load_after": load_average(),
    }  # fmt: skip
    shutil.rmtree(store, ignore_errors=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="machinery,paper,point,big")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/scale.json")
    args = parser.parse_args(argv)
    parts = args.only.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="mcpdask-scale-"))
    report = {"machine": machine(), "repeats": args.repeats, "commit": _commit()}
    try:
        for part, fn in (
            ("machinery", lambda: machinery(workdir, args.repeats, print)),
            ("paper", lambda: paper_commands(workdir, args.repeats, print)),
            ("point", lambda: point_times(args.repeats, print)),
            ("big", lambda: big_scan(workdir, print)),
        ):
            if part in parts:
                before = load_average()
                report[part] = {"rows": fn(), "load_before": before, "load_after": load_average()}
                print(f"  ({part}: load {before} -> {report[part]['load_after']})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1, default=str))
    print(f"written {args.out}")


def _commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()  # fmt: skip
    except OSError:
        return None


if __name__ == "__main__":
    main()
