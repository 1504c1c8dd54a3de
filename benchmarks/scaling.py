"""Scan scaling: the quick and paper scans with 1 and 2 workers, a compute-bound variant of the
paper scan, wall time against the number of masses, peak memory per worker and where a scan's
time goes (compute in the tasks vs scheduler, transfer and Zarr writes).

    python -m benchmarks.scaling [--quick] [--out FILE.json] [--keep-paper-store DIR]

One LocalCluster per worker count (single-threaded worker processes, no dashboard) is started
once and reused; each scan writes into a fresh temporary store with `mcpdask.scan(config,
store, client=...)`, so the timings exclude cluster start-up (measured separately). The workers
import the physics before the first timed scan. Peak memory: RSS of each worker process sampled
every 20 ms with psutil during the scan (and the kernel's ru_maxrss, the lifetime peak).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

import mcpdask
from benchmarks.physics import load_average, machine

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
TUNED_MALLOC = {"MALLOC_TRIM_THRESHOLD_": 64 * 2**20, "MALLOC_MMAP_THRESHOLD_": 64 * 2**20}
"""Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536: glibc then returns freed memory to
the kernel after nearly every numpy batch and page-faults it back in (system time, ~half of a
point's CPU; see benchmarks.physics.allocator_effect). The tuned variant keeps 64 MiB and,
as the points run in a worker thread (its own malloc arena), also serves allocations up to
64 MiB from the heap instead of mmap/munmap."""


def _worker_info():
    import resource

    import mcpdask.physics.integrate  # noqa: F401 - the import is part of the warm-up

    return {
        "pid": os.getpid(),
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


class Cluster:
    """A LocalCluster with n single-threaded worker processes and its Client."""

    def __init__(self, n_workers, environ=None):
        import dask
        from distributed import Client, LocalCluster

        start = time.perf_counter()
        # glibc reads MALLOC_* when the process starts: they must be in the nanny's
        # pre-spawn environment (the `env` of a Nanny is applied too late). distributed lets
        # os.environ override that config and writes it into os.environ when it spawns
        # (an earlier cluster leaves MALLOC_TRIM_THRESHOLD_=65536 there): set both, restore.
        saved = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}
        for k in saved:
            del os.environ[k]
        os.environ.update({k: str(v) for k, v in (environ or {}).items()})
        overrides = {f"distributed.nanny.pre-spawn-environ.{k}": str(v)
                     for k, v in (environ or {}).items()}  # fmt: skip
        try:
            with dask.config.set(overrides):
                self.cluster = LocalCluster(
                    n_workers=n_workers, threads_per_worker=1, processes=True,
                    dashboard_address=":0",
                )  # fmt: skip
                self.client = Client(self.cluster, set_as_default=False)
                self.client.wait_for_workers(n_workers)
        finally:
            for k in [k for k in os.environ if k.startswith("MALLOC_")]:
                del os.environ[k]
            os.environ.update(saved)
        self.environ = self._startup_malloc_env()
        self.startup_s = time.perf_counter() - start
        start = time.perf_counter()
        self.client.run(_worker_info)
        self.warmup_s = time.perf_counter() - start
        self.n_workers = n_workers

    def _startup_malloc_env(self):
        """MALLOC_* variables each worker process started with (from /proc/PID/environ)."""
        out = {}
        for w in self.worker_info():
            try:
                with open(f"/proc/{w['pid']}/environ", "rb") as fh:
                    env = [e.decode() for e in fh.read().split(b"\0") if e.startswith(b"MALLOC_")]
            except OSError:
                env = ["unknown"]
            out[str(w["pid"])] = " ".join(env) or "glibc default"
        return out

    def worker_info(self):
        return list(self.client.run(_worker_info).values())

    def close(self):
        self.client.close()
        self.cluster.close()


def _cpu_seconds(procs):
    """user + system CPU seconds used so far by each process (psutil)."""
    out = {}
    for pid, proc in procs.items():
        try:
            t = proc.cpu_times()
            out[pid] = t.user + t.system
        except Exception:  # noqa: BLE001
            out[pid] = float("nan")
    return out


class RssSampler:
    """Peak RSS (MB) of each of the given processes, sampled every `interval` seconds."""

    def __init__(self, pids, interval=0.02):
        import psutil

        self.procs = {pid: psutil.Process(pid) for pid in pids}
        self.peak = dict.fromkeys(pids, 0.0)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            for pid, proc in self.procs.items():
                try:
                    self.peak[pid] = max(self.peak[pid], proc.memory_info().rss / 2**20)
                except Exception:  # noqa: BLE001 - a worker that died has no RSS
                    pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._loop_once()
        self._thread.start()
        return self

    def _loop_once(self):
        for pid, proc in self.procs.items():
            self.peak[pid] = max(self.peak[pid], proc.memory_info().rss / 2**20)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def scan_config(base, workdir, name, **changes):
    """A temporary scan YAML: `base` (a config in configs/) with top-level keys replaced and
    vegas/mass_grid entries updated; returns its path."""
    with open(CONFIGS / base) as fh:
        cfg = yaml.safe_load(fh)
    for key, value in changes.items():
        if key in ("vegas", "mass_grid") and isinstance(value, dict) and key in cfg:
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    cfg["name"] = name
    path = Path(workdir) / f"{name}.yaml"
    with open(path, "w") as fh:
        yaml.safe_dump(cfg, fh)
    return path


def timed_scan(cluster, config, workdir, keep=None, profile=False):
    """One scan into a fresh store; wall times, task compute times and peak worker memory."""
    store = Path(keep) if keep else Path(tempfile.mkdtemp(dir=workdir)) / "cube.zarr"
    if store.exists():
        shutil.rmtree(store)
    pids = [w["pid"] for w in cluster.worker_info()]
    load_before = load_average()
    profiler = cProfile.Profile() if profile else None
    with RssSampler(pids) as rss:
        cpu_before = _cpu_seconds(rss.procs)
        own_before = os.times()
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        with cluster.client.as_current():  # mcpdask.scan's as_completed uses the default client
            report = mcpdask.scan(config, store, client=cluster.client, progress=False)
        if profiler:
            profiler.disable()
        total = time.perf_counter() - start
        cpu_after, own_after = _cpu_seconds(rss.procs), os.times()
    worker_cpu = sum(cpu_after[p] - cpu_before[p] for p in pids)
    cube = mcpdask.open_cube(store)
    wall = cube["wall_s"].values
    status = cube["status"].values
    computed = np.isfinite(wall) & (status != 0)
    task_s = float(np.nansum(wall[computed]))
    row = {
        "config": Path(config).stem,
        "workers": cluster.n_workers,
        "points": int(report.n_points),
        "masses": int(cube.sizes["mass"]),
        "precision": float(yaml.safe_load(open(config))["vegas"]["precision"]),
        "wall_s": total,  # mcpdask.scan end to end: create the store, submit, compute, write
        "compute_phase_s": float(report.wall_s),  # submit -> last point written
        "task_compute_s": task_s,  # sum over points of the time inside compute_point
        "mean_task_s": task_s / max(int(computed.sum()), 1),
        "statuses": dict(report.statuses),
        # how busy the workers were in the compute phase: 1 = no overhead at all
        "worker_efficiency": task_s / (cluster.n_workers * report.wall_s)
        if report.wall_s
        else None,
        "peak_rss_mb_per_worker": [round(v, 1) for v in rss.peak.values()],
        # CPU seconds: the workers (all their threads) and the scan process (scheduler, client,
        # Zarr writes); wall/CPU > 1 means the cores were shared with other jobs
        "worker_cpu_s": worker_cpu,
        "scan_process_cpu_s": (own_after.user - own_before.user)
        + (own_after.system - own_before.system),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
    cube.close()
    if profiler:
        row["main_process_profile"] = _profile_summary(profiler)
    if not keep:
        shutil.rmtree(store.parent, ignore_errors=True)
    return row


def _profile_summary(profiler, n=12):
    """The scan process's time by function (cumulative), for the overhead breakdown."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    wanted = ("write", "create_cube", "as_completed", "submit", "_todo", "add_history", "result",
              "check_compatible", "_open_raw", "PointWriter", "__next__", "scan")  # fmt: skip
    rows = []
    for (filename, _line, func), (_cc, _nc, tt, ct, _callers) in stats.stats.items():
        if func in wanted and ("mcpdask" in filename or "distributed" in filename):
            rows.append({"function": f"{Path(filename).name}:{func}", "cumulative_s": round(ct, 4),
                         "own_s": round(tt, 4)})  # fmt: skip
    rows.sort(key=lambda r: -r["cumulative_s"])
    return rows[:n]


def canned_point(task):
    """A point function with no physics: a fixed converged result (scan machinery only)."""
    from mcpdask.cube import PointResult, Status

    n = len(task.x_edges) - 1
    return PointResult(np.ones(n), np.full(n, 0.01), 1.0, 0.01, 1.0, 0.5, 1, 0.0, Status.CONVERGED)


def machinery_overhead(cluster, config, workdir):
    """The paper scan with `canned_point` instead of the physics: the per-point cost of
    submitting, scheduling, shipping back and writing a point, with no compute at all."""
    import cloudpickle

    import benchmarks.scaling as this

    cloudpickle.register_pickle_by_value(this)  # workers need not import benchmarks
    store = Path(tempfile.mkdtemp(dir=workdir)) / "cube.zarr"
    start = time.perf_counter()
    with cluster.client.as_current():
        report = mcpdask.scan(config, store, client=cluster.client, progress=False,
                              point_function=canned_point)  # fmt: skip
    total = time.perf_counter() - start
    shutil.rmtree(store.parent, ignore_errors=True)
    return {"workers": cluster.n_workers, "points": report.n_points, "wall_s": total,
            "compute_phase_s": report.wall_s, "per_point_s": report.wall_s / report.n_points}  # fmt: skip


def write_cost(config, workdir, n=None):
    """Seconds per PointWriter.write (10 Zarr chunk writes) on a fresh cube, no cluster."""
    from mcpdask import cube as _cube
    from mcpdask.experiments import load_scan
    from mcpdask.scanning import make_task

    spec = load_scan(config)
    store = Path(tempfile.mkdtemp(dir=workdir)) / "cube.zarr"
    _cube.create_cube(store, spec)
    writer = _cube.PointWriter(store)
    tasks = [make_task(spec, spec.experiment(e), en, m) for e, en, m in spec.points()][:n]
    results = [canned_point(t) for t in tasks]
    start = time.perf_counter()
    for t, r in zip(tasks, results, strict=True):
        writer.write(t.experiment, t.energy_gev, t.mass_gev, r)
    per_point = (time.perf_counter() - start) / len(tasks)
    shutil.rmtree(store.parent, ignore_errors=True)
    return {"points": len(tasks), "per_point_write_s": per_point}


@contextmanager
def clusters(counts, environ=None):
    made = {}
    try:
        for n in counts:
            made[n] = Cluster(n, environ)
        yield made
    finally:
        for c in made.values():
            c.close()


def run(quick=False, workdir=None, keep_paper_store=None, repeats=None, log=print):
    """The scaling benchmark as a dict. keep_paper_store: a path where the (2-worker) paper cube
    is left for the lazy benchmark."""
    repeats = repeats or (1 if quick else 2)
    own_tmp = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="mcpdask-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    out = {"machine": machine(), "repeats": repeats, "scans": [], "mass_scaling": []}
    try:
        configs = {
            "quick": scan_config("quick.yaml", workdir, "quick"),
            "paper": scan_config("paper.yaml", workdir, "paper"),
        }
        # compute bound: the same 80 points at 0.2 per cent (each point ~5x the work)
        configs["paper-0.2%"] = scan_config(
            "paper.yaml", workdir, "paper-prec0p002", vegas={"precision": 0.002}
        )
        if quick:
            configs.pop("paper-0.2%")
        grid_sizes = (5, 10, 20) if quick else (10, 20, 40, 80)
        with clusters((1, 2)) as cl, clusters((1, 2), TUNED_MALLOC) as tuned:
            out["cluster_startup_s"] = {str(n): c.startup_s for n, c in cl.items()}
            out["worker_warmup_s"] = {str(n): c.warmup_s for n, c in cl.items()}
            # a throw-away scan on each cluster: first-call costs (imports, zarr, numba caches)
            for c in [*cl.values(), *tuned.values()]:
                timed_scan(c, configs["quick"], workdir)
            runs = [(name, cfg, cl) for name, cfg in configs.items()]
            runs += [(f"{name}, trim 64M", configs[name], tuned)
                     for name in ("paper", "paper-0.2%") if name in configs]  # fmt: skip
            for rep in range(repeats):
                for name, cfg, cset in runs:
                    # alternate 1,2 / 2,1 so a drift in the machine's load hits both alike
                    order = list(cset.items()) if rep % 2 == 0 else list(cset.items())[::-1]
                    for n, c in order:
                        keep = (
                            keep_paper_store if (name == "paper" and n == 2 and rep == 0) else None
                        )
                        row = timed_scan(c, cfg, workdir, keep=keep)
                        row["name"], row["repeat"] = name, rep
                        row["worker_startup_malloc_env"] = c.environ
                        out["scans"].append(row)
                        log(
                            f"  scan {name:<20} {n} worker(s): {row['wall_s']:6.2f} s "
                            f"(tasks {row['task_compute_s']:6.2f} s, efficiency "
                            f"{row['worker_efficiency']:.2f}, load {row['load_average_before'][0]})"
                        )
            for num in grid_sizes:
                cfg = scan_config("paper.yaml", workdir, f"paper-{num}m", mass_grid={"num": num})
                for n, c in cl.items():
                    row = timed_scan(c, cfg, workdir)
                    row["name"] = f"paper, {num} masses"
                    out["mass_scaling"].append(row)
                    log(f"  {num:3d} masses, {n} worker(s): {row['wall_s']:6.2f} s")
            # where the scan process spends its time (one profiled paper scan on 2 workers)
            prof = timed_scan(cl[2], configs["paper"], workdir, profile=True)
            out["profiled_paper_scan"] = prof
            out["machinery_overhead"] = [
                machinery_overhead(c, configs["paper"], workdir) for c in cl.values()
            ]
        out["write_cost"] = write_cost(configs["paper"], workdir)
        out["speedup"] = speedups(out["scans"])
        out["machine"]["load_average_end"] = load_average()
        return out
    finally:
        if own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)


def speedups(rows):
    """1-worker / 2-worker wall time per scan (median over repeats), end to end and for the
    compute phase only."""
    out = []
    for name in dict.fromkeys(r["name"] for r in rows):
        one = [r for r in rows if r["name"] == name and r["workers"] == 1]
        two = [r for r in rows if r["name"] == name and r["workers"] == 2]
        if not one or not two:
            continue
        med = lambda rs, k: float(np.median([r[k] for r in rs]))  # noqa: E731
        out.append({
            "name": name,
            "points": one[0]["points"],
            "precision": one[0]["precision"],
            "wall_1_s": med(one, "wall_s"),
            "wall_2_s": med(two, "wall_s"),
            "speedup": med(one, "wall_s") / med(two, "wall_s"),
            "compute_phase_speedup": med(one, "compute_phase_s") / med(two, "compute_phase_s"),
            "mean_task_s": med(one, "mean_task_s"),
            "efficiency_1": med(one, "worker_efficiency"),
            "efficiency_2": med(two, "worker_efficiency"),
            "peak_rss_mb_per_worker": max(max(r["peak_rss_mb_per_worker"]) for r in one + two),
            "worker_cpu_1_s": med(one, "worker_cpu_s"),
            "worker_cpu_2_s": med(two, "worker_cpu_s"),
            "scan_process_cpu_2_s": med(two, "scan_process_cpu_s"),
        })  # fmt: skip
    return out


def format_table(report):
    lines = ["scans (LocalCluster, single-threaded workers, start-up excluded; median of "
             f"{report['repeats']}); eff = sum of task times / (workers x compute phase)",
             f"{'scan':<20} {'points':>6} {'prec':>6} {'task [s]':>8} {'1 worker':>9} "
             f"{'2 workers':>9} {'2/1':>5} {'eff1':>5} {'eff2':>5} {'peak RSS':>9} "
             f"{'worker CPU 1w/2w':>17} {'scan proc CPU':>13}"]  # fmt: skip
    for s in report["speedup"]:
        lines.append(
            f"{s['name']:<20} {s['points']:>6d} {s['precision']:>6g} {s['mean_task_s']:>8.3f} "
            f"{s['wall_1_s']:>8.2f}s {s['wall_2_s']:>8.2f}s {s['speedup']:>5.2f} "
            f"{s['efficiency_1']:>5.2f} {s['efficiency_2']:>5.2f} {s['peak_rss_mb_per_worker']:>6.0f} MB"
            f" {s['worker_cpu_1_s']:>7.1f}/{s['worker_cpu_2_s']:<7.1f}s {s['scan_process_cpu_2_s']:>11.1f}s"
        )
    starts = report.get("cluster_startup_s", {})
    lines.append(
        "cluster start-up: " + ", ".join(f"{n} worker(s) {t:.1f} s" for n, t in starts.items())
    )
    lines += ["", "wall time vs number of masses (paper config, 2 experiments, 1 per cent)"]
    by = {}
    for r in report["mass_scaling"]:
        by.setdefault(r["masses"], {})[r["workers"]] = r
    lines.append(
        f"{'masses':>6} {'points':>6} {'1 worker':>9} {'2 workers':>9} {'s/point (2w)':>12}"
    )
    for m, d in sorted(by.items()):
        one, two = d.get(1), d.get(2)
        lines.append(
            f"{m:>6d} {(one or two)['points']:>6d} "
            f"{one['wall_s'] if one else float('nan'):>8.2f}s {two['wall_s'] if two else float('nan'):>8.2f}s "
            f"{(two['wall_s'] / two['points']) if two else float('nan'):>12.3f}"
        )
    for m in report.get("machinery_overhead", []):
        lines.append(f"paper scan without physics (canned points), {m['workers']} worker(s): "
                     f"{m['compute_phase_s']:.2f} s = {m['per_point_s'] * 1e3:.0f} ms per point")  # fmt: skip
    if report.get("write_cost"):
        lines.append(f"one point's Zarr write (PointWriter.write, no cluster): "
                     f"{report['write_cost']['per_point_write_s'] * 1e3:.0f} ms")  # fmt: skip
    prof = report.get("profiled_paper_scan")
    if prof:
        lines += ["", f"scan process profile, paper scan on 2 workers ({prof['wall_s']:.2f} s, "
                  f"tasks {prof['task_compute_s']:.2f} s):"]  # fmt: skip
        for r in prof["main_process_profile"][:8]:
            lines.append(f"  {r['function']:<40} {r['cumulative_s']:>7.3f} s")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quick scans only, smaller grids")
    parser.add_argument("--out", default="benchmarks/results/scaling.json")
    parser.add_argument("--keep-paper-store", default=None, help="leave the paper cube here")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    report = run(quick=args.quick, keep_paper_store=args.keep_paper_store, repeats=args.repeats)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=1, default=str)
    print(format_table(report))
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
