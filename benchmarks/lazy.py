"""Lazy derivation: time to derive eps limits for 1000 exposure settings from a stored paper cube.

    python -m benchmarks.lazy [--store PAPER.zarr] [--settings 1000] [--out FILE.json]

`mcpdask.eps_limits(cube, Exposure(leptons_on_target=<1-D array>))` adds an `exposure` dimension, so
the 1000 settings are one lazy graph: timed are building it (nothing computed), computing it
from the Zarr store, the same from a cube already loaded in memory, and a loop of separate
scalar calls (extrapolated to 1000 from a few). Without --store a paper cube is scanned first
(2 workers, into a temporary directory; not part of the timings).
"""

import argparse
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import mcpdask
from benchmarks.physics import load_average, machine
from mcpdask.experiments import CONFIG_DIR as CONFIGS
from mcpdask.limits import Exposure, eps_limits


def _timed(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(min(times)), value


def run(store, n_settings=1000, repeats=3, n_scalar=5):
    """Timings (median and min over `repeats`) of deriving limits for n_settings exposures."""
    exposures = np.geomspace(1e9, 1e17, n_settings)
    cube = mcpdask.open_cube(store)
    out = {
        "machine": machine(),
        "store": str(store),
        "cube_cells": int(cube.sizes["experiment"] * cube.sizes["energy"] * cube.sizes["mass"]),
        "x_bins": int(cube.sizes["x"]),
        "n_settings": n_settings,
        "load_average_before": load_average(),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # masked points / divide by zero: not timed here
        build_med, build_min, lim = _timed(
            lambda: eps_limits(cube, Exposure(leptons_on_target=exposures)), repeats
        )
        out["dims"] = {d: int(n) for d, n in lim.sizes.items()}
        out["n_limits"] = int(lim.size)
        out["graph_tasks"] = len(lim.data.__dask_graph__()) if hasattr(lim.data, "dask") else None

        def end_to_end():
            fresh = mcpdask.open_cube(store)
            return eps_limits(fresh, Exposure(leptons_on_target=exposures)).compute()

        e2e_med, e2e_min, values = _timed(end_to_end, repeats)
        comp_med, comp_min, _ = _timed(lambda: lim.compute(), repeats)
        loaded = cube.load()
        mem_med, mem_min, _ = _timed(
            lambda: eps_limits(loaded, Exposure(leptons_on_target=exposures)).compute(), repeats
        )
        start = time.perf_counter()
        for lot in exposures[:: max(1, n_settings // n_scalar)][:n_scalar]:
            eps_limits(mcpdask.open_cube(store), Exposure(leptons_on_target=float(lot))).compute()
        scalar_s = (time.perf_counter() - start) / n_scalar
    finite = np.isfinite(values.values)
    out.update(
        {
            "build_graph_s": build_med,
            "compute_s": comp_med,
            "end_to_end_s": e2e_med,  # open the store, build, compute: the number to report
            "end_to_end_min_s": e2e_min,
            "in_memory_cube_s": mem_med,
            "scalar_call_s": scalar_s,
            "scalar_loop_extrapolated_s": scalar_s * n_settings,
            "finite_fraction": float(finite.mean()),
            "load_average_after": load_average(),
        }
    )
    cube.close()
    return out


def paper_store(workdir, n_workers=2):
    """Scan configs/paper.yaml into workdir/paper.zarr (the fixture when no store is given)."""
    store = Path(workdir) / "paper.zarr"
    mcpdask.scan(CONFIGS / "paper.yaml", store, run_on=mcpdask.RunOn(workers=n_workers),
                 progress=False)  # fmt: skip
    return store


def format_table(r):
    return "\n".join([
        f"lazy limits: {r['n_settings']} exposure settings x {r['cube_cells']} cube cells "
        f"({r['n_limits']} limits, dims {r['dims']}, {r['graph_tasks']} tasks)",
        f"  build the lazy graph       {r['build_graph_s']:8.3f} s",
        f"  compute (from Zarr)        {r['compute_s']:8.3f} s",
        f"  open + build + compute     {r['end_to_end_s']:8.3f} s   (target < 10 s)",
        f"  from an in-memory cube     {r['in_memory_cube_s']:8.3f} s",
        f"  one scalar call            {r['scalar_call_s']:8.3f} s   "
        f"(x {r['n_settings']} = {r['scalar_loop_extrapolated_s']:.0f} s as a loop)",
    ])  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="a paper cube (default: scan one)")
    parser.add_argument("--settings", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/lazy.json")
    args = parser.parse_args(argv)
    tmp = None
    store = args.store
    if store is None:
        tmp = tempfile.mkdtemp(prefix="mcpdask-bench-lazy-")
        store = paper_store(tmp)
    try:
        report = run(store, n_settings=args.settings, repeats=args.repeats)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=1)
    print(format_table(report))
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
