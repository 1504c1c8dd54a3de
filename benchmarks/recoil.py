"""What recoil-lepton bins cost: a paper-scan point at 1 per cent with and without 42 p_T bins.

    python -m benchmarks.recoil [--repeats 5]

Same seed, same vegas run (the bins only add bookkeeping): the totals are identical, the wall
time ratio is the cost. Points: NA64mu (160 GeV mu, Pb, x > 0.5) and LDMX (8 GeV e, Al, x > 0.7)
at m_chi = 0.01, 0.1, 0.3 GeV, 100 x bins; p_T bins log-spaced 1e-4 .. 10 GeV plus under/overflow.
"""

import argparse
import statistics
import time

import numpy as np

from benchmarks.physics import load_average, machine
from mcpdask.physics.integrate import cross_section

POINTS = [("mu", "Pb", 160.0, 0.5), ("e", "Al", 8.0, 0.7)]
MASSES = (0.01, 0.1, 0.3)
PT_EDGES = np.r_[0.0, np.geomspace(1e-4, 10.0, 41), np.inf]


def run(repeats: int = 5) -> list[dict]:
    rows = []
    x_edges = np.linspace(0.0, 1.0, 101)
    for lepton, target, energy, x_min in POINTS:
        for mass in MASSES:
            times = {"plain": [], "recoil": []}
            for _ in range(repeats):
                for kind, pts in (("plain", None), ("recoil", PT_EDGES)):
                    start = time.perf_counter()
                    r = cross_section(lepton, target, energy, mass, x_min, x_edges=x_edges,
                                      precision=0.01, seed=7, pt_edges=pts)  # fmt: skip
                    times[kind].append(time.perf_counter() - start)
            plain, recoil = (statistics.median(times[k]) for k in ("plain", "recoil"))
            rows.append({"point": f"{lepton} {target} {energy:g} GeV m={mass:g}", "plain_s": plain,
                         "recoil_s": recoil, "ratio": recoil / plain, "n_eval": r.n_eval})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{machine()}; load average {load_average()}")
    print(f"{'point':<28}{'plain [s]':>10}{'recoil [s]':>11}{'ratio':>7}")
    for row in run(args.repeats):
        print(
            f"{row['point']:<28}{row['plain_s']:>10.3f}{row['recoil_s']:>11.3f}{row['ratio']:>7.2f}"
        )


if __name__ == "__main__":
    main()
