"""Physics benchmarks on one core: time and evaluations to a relative precision per method,
integrand throughput, and the WW/IWW-to-ETL ratio over a mass grid.

    python -m benchmarks.physics [--quick] [--skip-ww] [--methods etl,iww] [--out FILE.json]

WW costs ~1 ms per integrand evaluation (a chi quadrature per point) and dominates a full run
(~15-25 s per point): --skip-ww leaves it out of every section, and WW runs one seed by default
(--ww-repeats) where the other methods run three.
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from mcpdask.physics.integrate import VegasSettings, cross_section, point_integrand
from mcpdask.physics.materials import get_material

EXPERIMENTS = {
    "NA64mu": {"lepton": "mu", "target": "Pb", "energy_gev": 160.0, "x_min": 0.5},
    "LDMX": {"lepton": "e", "target": "Al", "energy_gev": 8.0, "x_min": 0.7},
}
METHODS = ("etl", "etl-direct", "ww", "iww")


def time_to_precision(
    masses=(0.01, 0.05, 0.3), methods=METHODS, precision=0.01, repeats=3, ww_repeats=1
):
    """Wall seconds (median of `repeats` seeds; `ww_repeats` for WW) and evaluations to reach
    `precision` on the total. vegas spends a minimum budget (5 warm-up + 3 production
    iterations, ~74k evaluations) and at 1 per cent usually stops there with a smaller error than
    asked: `n_eval_extrapolated` = n_eval * (rel_err / precision)^2 is the budget the achieved
    error per evaluation implies, a floor-free measure of the method's efficiency."""
    rows = []
    for name, exp in EXPERIMENTS.items():
        for mass in masses:
            for method in methods:
                n_runs = ww_repeats if method == "ww" else repeats
                runs = [
                    cross_section(**exp, mass_gev=mass, method=method, precision=precision, seed=s)
                    for s in range(n_runs)
                ]
                rel = [r.sigma_err_pb / r.sigma_pb for r in runs]
                rows.append(
                    {
                        "experiment": name,
                        "mass_gev": mass,
                        "method": method,
                        "sigma_pb": float(np.median([r.sigma_pb for r in runs])),
                        "precision": precision,
                        "rel_err": float(np.median(rel)),
                        "status": sorted({r.status for r in runs}),
                        "wall_s": float(np.median([r.wall_s for r in runs])),
                        "n_eval": int(np.median([r.n_eval for r in runs])),
                        "n_eval_extrapolated": int(
                            np.median(
                                [
                                    r.n_eval * (e / precision) ** 2
                                    for r, e in zip(runs, rel, strict=True)
                                ]
                            )
                        ),
                        "seeds": n_runs,
                    }
                )
    return rows


def ratios(rows, numerator="etl-direct", denominator="etl"):
    """numerator/denominator of wall seconds and evaluations, per (experiment, mass)."""
    by_key = {(r["experiment"], r["mass_gev"], r["method"]): r for r in rows}
    out = []
    for (name, mass, method), den in by_key.items():
        num = by_key.get((name, mass, numerator))
        if method != denominator or num is None:
            continue
        out.append(
            {
                "experiment": name,
                "mass_gev": mass,
                "precision": den.get("precision"),
                "ratio": f"{numerator}/{denominator}",
                "wall_ratio": num["wall_s"] / den["wall_s"],
                "n_eval_ratio": num["n_eval"] / den["n_eval"],
                "n_eval_extrapolated_ratio": (
                    num["n_eval_extrapolated"] / den["n_eval_extrapolated"]
                    if "n_eval_extrapolated" in num
                    else None
                ),
            }
        )
    return out


def evaluations_for_precision(masses=(0.05,), precision=0.01, neval=2_000):
    """Evaluations needed when vegas starts small (neval per iteration), so the comparison of
    etl and etl-direct is not masked by a fixed minimum budget."""
    rows = []
    settings = VegasSettings(neval=neval, warmup_iterations=5, min_iterations=2)
    for name, exp in EXPERIMENTS.items():
        for mass in masses:
            for method in ("etl", "etl-direct"):
                runs = [
                    cross_section(
                        **exp,
                        mass_gev=mass,
                        method=method,
                        precision=precision,
                        seed=s,
                        vegas_settings=settings,
                    )  # fmt: skip
                    for s in range(5)
                ]
                rows.append(
                    {
                        "experiment": name,
                        "mass_gev": mass,
                        "method": method,
                        "neval_per_iteration": neval,
                        "n_eval": int(np.median([r.n_eval for r in runs])),
                        "wall_s": float(np.median([r.wall_s for r in runs])),
                    }
                )
    return rows


def integrand_throughput(n_points=200_000, mass=0.05, methods=METHODS):
    """Integrand evaluations per second per core of each method (one batch of n_points)."""
    rows = []
    rng = np.random.default_rng(0)
    for name, exp in EXPERIMENTS.items():
        for method in methods:
            point, ndim = point_integrand(
                method, "mcp", exp["lepton"], get_material(exp["target"]), exp["energy_gev"], mass
            )
            n = n_points if method not in ("ww",) else n_points // 50
            x = rng.uniform(exp["x_min"], 1.0, n)
            u = rng.random((n, max(ndim, 1)))
            point(x[:1000], u[:1000])  # warm caches
            start = time.perf_counter()
            point(x, u)
            elapsed = time.perf_counter() - start
            rows.append({"experiment": name, "method": method, "evals_per_s": n / elapsed})
    return rows


def profile_point(method="etl", precision=0.01, n_points=20, experiment="NA64mu", mass=0.05):
    """Where a point's CPU time goes (cProfile on process time, so other jobs on the machine do
    not distort the shares): the integrand (split into its parts), vegas itself (grid
    adaptation and sampling, compiled code inside vegas), our per-iteration bookkeeping
    (stratified sums per x bin), and the rest (set-up, result)."""
    import cProfile
    import io
    import pstats

    exp = EXPERIMENTS[experiment]
    edges = np.linspace(0.0, 1.0, 101)  # the paper's 100 x bins

    def points():
        for seed in range(n_points):
            cross_section(**exp, mass_gev=mass, method=method, precision=precision, seed=seed,
                          x_edges=edges)  # fmt: skip

    points()  # warm caches
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    points()
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO()).stats
    cum, own = {}, {}
    for (filename, _line, func), (_cc, _nc, tt, ct, _callers) in stats.items():
        key = f"{os.path.basename(filename)}:{func}"
        cum[key] = cum.get(key, 0.0) + ct
        own[key] = own.get(key, 0.0) + tt
    total = cum.get("integrate.py:cross_section", 0.0)
    integrand = cum.get("integrate.py:evaluate", 0.0)
    parts = {
        "integrand": integrand,
        "  kinematics.emission": cum.get("kinematics.py:emission", 0.0),
        "  lepton tensor (closed form)": cum.get("_amplitude_closed_form.py:tensor_minus_g", 0.0)
        + cum.get("_amplitude_closed_form.py:tensor_rr", 0.0),
        "  pair decay (etl-direct)": cum.get("kinematics.py:pair_decay", 0.0),
        "  form factor": cum.get("formfactor.py:g2", 0.0),
        # vegas.Integrator calls are compiled: their time is the caller's own time
        "vegas warm-up: sampling + grid adaptation": own.get("integrate.py:_run_vegas", 0.0),
        "production: vegas sampling + per-bin stratified sums": own.get(
            "integrate.py:_one_iteration", 0.0
        )
        + cum.get("integrate.py:_stratified_sums", 0.0)
        + cum.get("integrate.py:components", 0.0),
    }
    parts["rest (set-up, chi2, result)"] = (
        total - integrand - parts["vegas warm-up: sampling + grid adaptation"]
        - parts["production: vegas sampling + per-bin stratified sums"]
    )  # fmt: skip
    return {
        "method": method,
        "experiment": experiment,
        "mass_gev": mass,
        "precision": precision,
        "x_bins": 100,
        "cpu_s_per_point": total / n_points,
        "shares": {k: v / total for k, v in parts.items()},
    }


ALLOCATOR_SETTINGS = {
    "glibc default": {},
    "dask worker default (MALLOC_TRIM_THRESHOLD_=65536)": {"MALLOC_TRIM_THRESHOLD_": "65536"},
    "MALLOC_TRIM_THRESHOLD_=64 MiB": {"MALLOC_TRIM_THRESHOLD_": str(64 * 2**20)},
}


def point_times(method="etl", precisions=(0.01, 0.001), n_seeds=10, mass=0.05):
    """CPU, user and system seconds per point (paper x bins), both experiments: the numbers
    `allocator_effect` collects from a fresh process."""
    edges = np.linspace(0.0, 1.0, 101)
    rows = []
    for name, exp in EXPERIMENTS.items():
        for prec in precisions:
            kw = dict(exp, mass_gev=mass, method=method, precision=prec, x_edges=edges)
            cross_section(**kw, seed=99)
            t0, wall0 = os.times(), time.perf_counter()
            for seed in range(n_seeds):
                cross_section(**kw, seed=seed)
            t1, wall1 = os.times(), time.perf_counter()
            rows.append({
                "experiment": name, "method": method, "precision": prec,
                "wall_s": (wall1 - wall0) / n_seeds,
                "user_s": (t1.user - t0.user) / n_seeds,
                "sys_s": (t1.system - t0.system) / n_seeds,
            })  # fmt: skip
    return rows


def allocator_effect(settings=None, n_seeds=10):
    """etl points in fresh processes under glibc malloc settings. numpy allocates and frees
    arrays of ~10^4-10^5 doubles per vegas batch; when glibc hands that memory back to the
    kernel at every free (trim/munmap), the next batch page-faults it in again: system time."""
    import subprocess
    import sys

    rows = []
    for label, env in (settings or ALLOCATOR_SETTINGS).items():
        code = f"import json; from benchmarks.physics import point_times; " \
               f"print(json.dumps(point_times(n_seeds={n_seeds})))"  # fmt: skip
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        proc = subprocess.run([sys.executable, "-c", code], env={**full_env, **env},
                              capture_output=True, text=True, check=True)  # fmt: skip
        for row in json.loads(proc.stdout.strip().splitlines()[-1]):
            rows.append({"allocator": label, **row})
    return rows


def ww_over_etl(masses=None, precision=0.01, with_ww=True):
    """sigma(WW)/sigma(ETL) and sigma(IWW)/sigma(ETL) for both experiments over a mass grid
    (WW/ETL is None with with_ww=False)."""
    masses = masses if masses is not None else np.geomspace(0.001, 1.0, 7)
    methods = ("etl", "ww", "iww") if with_ww else ("etl", "iww")
    rows = []
    for name, exp in EXPERIMENTS.items():
        for mass in masses:
            values = {
                method: cross_section(
                    **exp, mass_gev=float(mass), method=method, precision=precision, seed=1
                )
                for method in methods
            }
            etl = values["etl"]
            rows.append(
                {
                    "experiment": name,
                    "mass_gev": float(mass),
                    "etl_pb": etl.sigma_pb,
                    "ww_over_etl": values["ww"].sigma_pb / etl.sigma_pb if with_ww else None,
                    "iww_over_etl": values["iww"].sigma_pb / etl.sigma_pb,
                }
            )
    return rows


def cpu_model():
    """The CPU model name from /proc/cpuinfo (platform.processor() is often just x86_64)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine():
    return {
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average": load_average(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def format_tables(report):
    lines = ["time to precision on sigma(x > x_min), one core (median over seeds); evals* = "
             "n_eval * (rel.err / precision)^2",
             f"{'experiment':<8} {'m_chi':>6} {'method':<11} {'prec':>5} {'sigma [pb]':>11} "
             f"{'rel.err':>7} {'evals':>8} {'evals*':>8} {'wall [s]':>8}"]  # fmt: skip
    for r in report["time_to_precision"] + report.get("tight_precision", []):
        lines.append(
            f"{r['experiment']:<8} {r['mass_gev']:>6g} {r['method']:<11} "
            f"{r.get('precision', 0.01):>5g} {r['sigma_pb']:>11.4g} {r['rel_err']:>7.2%} "
            f"{r['n_eval']:>8d} {r.get('n_eval_extrapolated', 0):>8d} {r['wall_s']:>8.3f}"
        )
    if report.get("ratios"):
        lines += ["", "etl-direct / etl (wall, evals, evals*)"]
        for r in report["ratios"]:
            lines.append(
                f"{r['experiment']:<8} m_chi={r['mass_gev']:<6g} prec={r['precision']:<6g} "
                f"wall x{r['wall_ratio']:.2f}  evals x{r['n_eval_ratio']:.2f}  "
                f"evals* x{r['n_eval_extrapolated_ratio']:.2f}"
            )
    lines += ["", "evaluations to 1% starting from 2000 per iteration (median of 5 seeds)"]
    for r in report["evaluations_for_precision"]:
        lines.append(
            f"{r['experiment']:<8} {r['mass_gev']:>6g} {r['method']:<11} {r['n_eval']:>8d} {r['wall_s']:>8.3f} s"
        )
    for p in report.get("profile", []):
        lines += ["", f"where a {p['method']} point's CPU time goes ({p['experiment']}, m_chi = "
                  f"{p['mass_gev']:g}, precision {p['precision']:g}, {p['x_bins']} x bins: "
                  f"{p['cpu_s_per_point'] * 1e3:.0f} ms CPU per point, cProfile)"]  # fmt: skip
        for k, v in p["shares"].items():
            if v > 0:
                lines.append(f"  {k:<55} {v:>6.1%}")
    if report.get("allocator"):
        lines += ["", "etl point (100 x bins, m_chi = 0.05) under glibc malloc settings: "
                  "wall s per point (user + sys)"]  # fmt: skip
    for r in report.get("allocator", []):
        lines.append(
            f"  {r['allocator']:<51} {r['experiment']:<7} {r['precision']:>5g} "
            f"{r['wall_s']:>7.3f} s ({r['user_s']:.3f} + {r['sys_s']:.3f})"
        )
    lines += ["", "integrand throughput (evaluations per second, one core)"]
    for r in report["integrand_throughput"]:
        lines.append(f"{r['experiment']:<8} {r['method']:<11} {r['evals_per_s']:>12.3g}")
    if report.get("ww_over_etl"):
        lines += ["", "WW and IWW over ETL, sigma(x > x_min)"]
    for r in report.get("ww_over_etl", []):
        ww = "   -  " if r["ww_over_etl"] is None else f"{r['ww_over_etl']:.3f}"
        lines.append(
            f"{r['experiment']:<8} m_chi={r['mass_gev']:<8.3g} ETL={r['etl_pb']:<10.4g} "
            f"WW/ETL={ww}  IWW/ETL={r['iww_over_etl']:.3f}"
        )
    return "\n".join(lines)


def run(quick=False, methods=METHODS, repeats=None, ww_repeats=1, ratios_over_mass=True):
    """The whole physics benchmark as a dict (what main writes)."""
    methods = tuple(methods)
    with_ww = "ww" in methods
    masses = (0.05,) if quick else (0.01, 0.05, 0.3)
    ratio_masses = np.geomspace(0.001, 1.0, 3 if quick else 7)
    ttp = time_to_precision(
        masses=masses, methods=methods, repeats=repeats or (1 if quick else 3),
        ww_repeats=ww_repeats,
    )  # fmt: skip
    tight = time_to_precision(
        masses=masses, methods=[m for m in ("etl", "etl-direct") if m in methods],
        precision=0.001, repeats=1,
    )  # fmt: skip
    report = {
        "machine": machine(),
        "methods": list(methods),
        "time_to_precision": ttp,
        "tight_precision": tight,
        "ratios": ratios(ttp) + ratios(tight),
        "evaluations_for_precision": evaluations_for_precision(),
        "integrand_throughput": integrand_throughput(methods=methods),
        "profile": [profile_point(m) for m in ("etl", "etl-direct") if m in methods],
        "allocator": allocator_effect(n_seeds=3 if quick else 10) if "etl" in methods else [],
        "ww_over_etl": (
            ww_over_etl(ratio_masses, with_ww=with_ww)
            if ratios_over_mass and {"etl", "iww"} <= set(methods)
            else []
        ),
    }
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer masses, for a smoke run")
    parser.add_argument("--skip-ww", action="store_true", help="leave out the slow WW method")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--ww-repeats", type=int, default=1, help="seeds for WW (default 1)")
    parser.add_argument("--out", default="benchmarks/results/physics.json")
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m and not (args.skip_ww and m == "ww")]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; allowed: {', '.join(METHODS)}")
    report = run(quick=args.quick, methods=methods, ww_repeats=args.ww_repeats)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=1)
    print(format_tables(report))
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
