"""All mcpdask benchmarks in one run: a JSON report and a short table (Markdown).

    python -m benchmarks.run [--quick] [--skip-ww] [--only physics,scaling,lazy] [--out DIR]

Writes DIR/report.json (every number, the machine, load averages) and DIR/table.md (the headline
numbers against the targets, then the details), and prints the table. DIR defaults to
benchmarks/results/. The parts run one after the other so they do not compete for the cores:
physics (one core), scaling (LocalClusters of 1 and 2 workers; it leaves its paper cube for) lazy.
A full run takes about 10 minutes on 2 cores, half of it the WW method (--skip-ww).
"""

import argparse
import json
import os
import shutil
import tempfile
import time

import numpy as np

from benchmarks import lazy, physics, scaling

PARTS = ("physics", "scaling", "lazy")


def _med(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else float("nan")


def headline(report):
    """(quantity, measured, target) rows: the numbers the issue asks for."""
    rows = []
    ph = report.get("physics")
    if ph:
        ttp = ph["time_to_precision"]
        for method in ph["methods"]:
            rs = [r for r in ttp if r["method"] == method]
            if rs:
                rows.append((
                    f"`{method}` to 1%: s per point (min-max of {len(rs)} points)",
                    f"{min(r['wall_s'] for r in rs):.3g}-{max(r['wall_s'] for r in rs):.3g} s, "
                    f"{_med([r['n_eval'] for r in rs]):.0f} evals",
                    "< 2 s (etl)" if method == "etl" else "",
                ))  # fmt: skip
        for prec in (0.01, 0.001):
            rs = [r for r in ph["ratios"] if r["precision"] == prec]
            if rs:
                rows.append((
                    f"etl-direct/etl at {prec:.1%}: wall (evals)",
                    f"x{min(r['wall_ratio'] for r in rs):.2f}-{max(r['wall_ratio'] for r in rs):.2f}"
                    f" (x{min(r['n_eval_ratio'] for r in rs):.2f}-"
                    f"{max(r['n_eval_ratio'] for r in rs):.2f})",
                    ">= 10",
                ))  # fmt: skip
        for method in ph["methods"]:
            rs = [r for r in ph["integrand_throughput"] if r["method"] == method]
            if rs:
                rows.append((f"`{method}` integrand, evals/s on one core",
                             " / ".join(f"{r['evals_per_s']:.3g} ({r['experiment']})" for r in rs),
                             ""))  # fmt: skip
    sc = report.get("scaling")
    if sc:
        for s in sc["speedup"]:
            rows.append((
                f"{s['name']} scan ({s['points']} points, {s['precision']:g}): 1 -> 2 workers",
                f"{s['wall_1_s']:.2f} s -> {s['wall_2_s']:.2f} s, x{s['speedup']:.2f}",
                ">= 1.7",
            ))  # fmt: skip
        peak = max(max(r["peak_rss_mb_per_worker"]) for r in sc["scans"] + sc["mass_scaling"])
        rows.append(("peak RSS per worker (all scans)", f"{peak:.0f} MB", ""))
        mo = {m["workers"]: m for m in sc.get("machinery_overhead", [])}
        if mo:
            rows.append((
                "scan machinery per point, no physics (1 / 2 workers)",
                " / ".join(f"{mo[n]['per_point_s'] * 1e3:.0f} ms" for n in sorted(mo)),
                "",
            ))  # fmt: skip
    lz = report.get("lazy")
    if lz:
        rows.append((
            f"{lz['n_settings']} limit derivations (open + build + compute)",
            f"{lz['end_to_end_s']:.2f} s ({lz['in_memory_cube_s']:.2f} s from memory)",
            "< 10 s",
        ))  # fmt: skip
    return rows


def markdown(report):
    m = report["machine"]
    lines = [
        f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}; load average "
        f"{m['load_average']} at the start, {report.get('load_average_end')} at the end "
        f"(other jobs shared the machine); {m['date']}; commit {report.get('git')}; "
        f"`python -m benchmarks.run"
        f"{' --quick' if report['quick'] else ''}{' --skip-ww' if report['skip_ww'] else ''}`.",
        "",
        "| quantity | measured | target |",
        "|---|---|---|",
    ]
    lines += [f"| {q} | {v} | {t} |" for q, v, t in headline(report)]
    if report.get("physics_from"):
        pm = report["physics_from"].get("machine") or {}
        lines.append(f"\nPhysics rows from an earlier run ({pm.get('date')}, load average "
                     f"{pm.get('load_average')}).")  # fmt: skip
    details = []
    if report.get("physics"):
        details.append(physics.format_tables(report["physics"]))
    if report.get("scaling"):
        details.append(scaling.format_table(report["scaling"]))
    if report.get("lazy"):
        details.append(lazy.format_table(report["lazy"]))
    return "\n".join(lines), "\n\n".join(details)


def git_revision():
    """The commit the benchmark ran on (and whether mcpdask/ had uncommitted changes)."""
    import subprocess

    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "mcpdask"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        return rev + (" (mcpdask/ modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def run(quick=False, skip_ww=False, parts=PARTS, log=print, physics_from=None):
    report = {
        "machine": physics.machine(),
        "git": git_revision(),
        "quick": quick,
        "skip_ww": skip_ww,
        "parts": list(parts),
        "timing_s": {},
    }
    workdir = tempfile.mkdtemp(prefix="mcpdask-bench-")
    paper = os.path.join(workdir, "paper.zarr")
    try:
        if physics_from:
            with open(physics_from) as fh:
                earlier = json.load(fh)
            report["physics"] = earlier.get("physics", earlier)
            report["physics_from"] = {"file": physics_from, "machine": earlier.get("machine")}
            log(f"physics: taken from {physics_from}")
        elif "physics" in parts:
            start = time.perf_counter()
            methods = [m for m in physics.METHODS if not (skip_ww and m == "ww")]
            log("physics (one core) ...")
            report["physics"] = physics.run(quick=quick, methods=methods)
            report["timing_s"]["physics"] = time.perf_counter() - start
        if "scaling" in parts:
            start = time.perf_counter()
            log("scaling (LocalClusters of 1 and 2 workers) ...")
            report["scaling"] = scaling.run(
                quick=quick, workdir=os.path.join(workdir, "scaling"), keep_paper_store=paper,
                log=log,
            )  # fmt: skip
            report["timing_s"]["scaling"] = time.perf_counter() - start
        if "lazy" in parts:
            start = time.perf_counter()
            if not os.path.exists(paper):
                log("lazy: scanning a paper cube first (not timed) ...")
                lazy.paper_store(workdir)
            log("lazy limits ...")
            report["lazy"] = lazy.run(paper, repeats=1 if quick else 3)
            report["timing_s"]["lazy"] = time.perf_counter() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["load_average_end"] = physics.load_average()
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (~2 minutes)")
    parser.add_argument("--skip-ww", action="store_true", help="leave out the slow WW method")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--out", default="benchmarks/results", help="output directory")
    parser.add_argument("--physics-from", default=None, metavar="REPORT.json",
                        help="reuse the physics part of an earlier report (it takes ~10 min)")  # fmt: skip
    args = parser.parse_args(argv)
    parts = [p for p in args.only.split(",") if p]
    if set(parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(set(parts) - set(PARTS))}; allowed: {PARTS}")
    report = run(quick=args.quick, skip_ww=args.skip_ww, parts=parts,
                 physics_from=args.physics_from)  # fmt: skip
    os.makedirs(args.out, exist_ok=True)
    head, details = markdown(report)
    with open(os.path.join(args.out, "report.json"), "w") as fh:
        json.dump(report, fh, indent=1, default=str)
    with open(os.path.join(args.out, "table.md"), "w") as fh:
        fh.write(head + "\n\n```\n" + details + "\n```\n")
    print(head + "\n\n" + details)
    print(f"\nwritten {args.out}/report.json and {args.out}/table.md")


if __name__ == "__main__":
    main()
