"""Physics benchmarks on one core: time and evaluations to a relative precision per method,
integrand throughput, and the WW/IWW-to-ETL ratio over a mass grid.

    python -m benchmarks.physics [--quick] [--out FILE.json]
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from mcpdask.physics.constants import lepton_mass
from mcpdask.physics.integrate import VegasSettings, _point_function, cross_section
from mcpdask.physics.materials import get_material

EXPERIMENTS = {
    "NA64mu": {"lepton": "mu", "target": "Pb", "energy_gev": 160.0, "x_min": 0.5},
    "LDMX": {"lepton": "e", "target": "Al", "energy_gev": 8.0, "x_min": 0.7},
}
METHODS = ("etl", "etl-direct", "ww", "iww")


def time_to_precision(masses=(0.01, 0.05, 0.3), methods=METHODS, precision=0.01, repeats=3):
    """Wall seconds (median of `repeats` seeds) and evaluations to reach `precision` on the total."""
    rows = []
    for name, exp in EXPERIMENTS.items():
        for mass in masses:
            for method in methods:
                runs = [
                    cross_section(**exp, mass_gev=mass, method=method, precision=precision, seed=s)
                    for s in range(repeats)
                ]
                rows.append(
                    {
                        "experiment": name,
                        "mass_gev": mass,
                        "method": method,
                        "sigma_pb": float(np.median([r.sigma_pb for r in runs])),
                        "rel_err": float(np.median([r.sigma_err_pb / r.sigma_pb for r in runs])),
                        "status": sorted({r.status for r in runs}),
                        "wall_s": float(np.median([r.wall_s for r in runs])),
                        "n_eval": int(np.median([r.n_eval for r in runs])),
                    }
                )
    return rows


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


def integrand_throughput(n_points=200_000, mass=0.05):
    """Integrand evaluations per second per core of each method (one batch of n_points)."""
    rows = []
    rng = np.random.default_rng(0)
    for name, exp in EXPERIMENTS.items():
        m_lepton = lepton_mass(exp["lepton"])
        for method in METHODS:
            point, ndim = _point_function(
                method, "mcp", m_lepton, get_material(exp["target"]), exp["energy_gev"], mass, False
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


def ww_over_etl(masses=None, precision=0.01):
    """sigma(WW)/sigma(ETL) and sigma(IWW)/sigma(ETL) for both experiments over a mass grid."""
    masses = masses if masses is not None else np.geomspace(0.001, 1.0, 7)
    rows = []
    for name, exp in EXPERIMENTS.items():
        for mass in masses:
            values = {
                method: cross_section(
                    **exp, mass_gev=float(mass), method=method, precision=precision, seed=1
                )
                for method in ("etl", "ww", "iww")
            }
            etl = values["etl"]
            rows.append(
                {
                    "experiment": name,
                    "mass_gev": float(mass),
                    "etl_pb": etl.sigma_pb,
                    "ww_over_etl": values["ww"].sigma_pb / etl.sigma_pb,
                    "iww_over_etl": values["iww"].sigma_pb / etl.sigma_pb,
                }
            )
    return rows


def machine():
    return {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def format_tables(report):
    lines = ["time to 1% on sigma(x > x_min), one core (median of 3 seeds)",
             f"{'experiment':<8} {'m_chi':>6} {'method':<11} {'sigma [pb]':>11} {'rel.err':>7} "
             f"{'evals':>8} {'wall [s]':>8}"]  # fmt: skip
    for r in report["time_to_precision"]:
        lines.append(
            f"{r['experiment']:<8} {r['mass_gev']:>6g} {r['method']:<11} {r['sigma_pb']:>11.4g} "
            f"{r['rel_err']:>7.2%} {r['n_eval']:>8d} {r['wall_s']:>8.3f}"
        )
    lines += ["", "evaluations to 1% starting from 2000 per iteration (median of 5 seeds)"]
    for r in report["evaluations_for_precision"]:
        lines.append(
            f"{r['experiment']:<8} {r['mass_gev']:>6g} {r['method']:<11} {r['n_eval']:>8d} {r['wall_s']:>8.3f} s"
        )
    lines += ["", "integrand throughput (evaluations per second, one core)"]
    for r in report["integrand_throughput"]:
        lines.append(f"{r['experiment']:<8} {r['method']:<11} {r['evals_per_s']:>12.3g}")
    lines += ["", "WW and IWW over ETL, sigma(x > x_min)"]
    for r in report["ww_over_etl"]:
        lines.append(
            f"{r['experiment']:<8} m_chi={r['mass_gev']:<8.3g} ETL={r['etl_pb']:<10.4g} "
            f"WW/ETL={r['ww_over_etl']:.3f}  IWW/ETL={r['iww_over_etl']:.3f}"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer masses, for a smoke run")
    parser.add_argument("--out", default="benchmarks/results/physics.json")
    args = parser.parse_args(argv)
    masses = (0.05,) if args.quick else (0.01, 0.05, 0.3)
    ratio_masses = np.geomspace(0.001, 1.0, 3 if args.quick else 7)
    report = {
        "machine": machine(),
        "time_to_precision": time_to_precision(masses=masses, repeats=1 if args.quick else 3),
        "evaluations_for_precision": evaluations_for_precision(),
        "integrand_throughput": integrand_throughput(),
        "ww_over_etl": ww_over_etl(ratio_masses),
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=1)
    print(format_tables(report))
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
