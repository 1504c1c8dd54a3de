"""Static publication figures from a stored cube (matplotlib, PDF and PNG), the paper's figure set.

  (a) dsigma_dx      dsigma/dx versus x for several masses, one panel per experiment
  (b) sigma          the cross section inside each experiment's cut versus m_chi
  (c) reach          eps_lim versus m_chi: brem, meson and combined channels, existing limits shaded
  (d) ratio          ETL / WW and ETL / IWW versus m_chi (the approximations computed here with
                     mcpdask.physics.integrate.cross_section: IWW is fast, WW ~1-2 s a point, so
                     WW only on request and at the masses asked for)

Everything but (d) is derived from the stored cube without integrating; all at each experiment's
nominal beam energy. Axes carry units; sizes suit a two-column paper (7 in wide).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from mcpdask.errors import McpdaskError, PhysicsInputError
from mcpdask.limits import Exposure, Statistics, limits_dataset
from mcpdask.references import ReferenceCurve
from mcpdask.views.browser import CHANNELS, EXPERIMENT_COLORS, OVERLAY_COLORS, require_variables

FIGURES = ("dsigma_dx", "sigma", "reach", "ratio")
RATIO_METHODS = ("iww", "ww")
_NEEDS = {
    "dsigma_dx": ("dsigma_dx", "dsigma_dx_err", "status", "x_edge", "x_min", "nominal_energy"),
    "sigma": ("sigma", "sigma_err", "status", "x_min", "x_max", "nominal_energy"),
    "reach": (
        "dsigma_dx",
        "dsigma_dx_err",
        "status",
        "x_edge",
        "leptons_on_target",
        "thickness_cm",
        "target_X0",
        "x_min",
        "nominal_energy",
    ),  # fmt: skip
    "ratio": (
        "sigma",
        "sigma_err",
        "status",
        "lepton",
        "target",
        "x_min",
        "x_max",
        "nominal_energy",
    ),
}
_LINESTYLE = {"brem": "-", "meson": ":", "combined": "--"}
_RC = {
    "font.size": 9,
    "axes.labelsize": 10,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "lines.linewidth": 1.6,
    "savefig.dpi": 200,
    "pdf.fonttype": 42,
}


def _nominal(cube: xr.Dataset, name: str) -> xr.Dataset:
    """One experiment at its nominal beam energy."""
    one = cube.sel(experiment=name)
    return one.sel(energy=float(one["nominal_energy"].values), method="nearest")


def _pick_masses(masses: np.ndarray, n: int = 5) -> np.ndarray:
    if masses.size <= n:
        return masses
    idx = np.unique(np.round(np.linspace(0, masses.size - 1, n)).astype(int))
    return masses[idx]


def _mass_label(m: float) -> str:
    return f"{m * 1e3:.3g} MeV" if m < 1 else f"{m:.3g} GeV"


def _experiment_label(one: xr.Dataset, name: str) -> str:
    lepton = (
        {"mu": "μ", "e": "e"}.get(str(one["lepton"].values), "") if "lepton" in one.coords else ""
    )
    return f"{name} ({lepton} {float(one['nominal_energy'].values):g} GeV)"


def figure_dsigma_dx(cube: xr.Dataset, masses: Sequence[float] | None = None):
    """(a) dsigma/dx (bin averages, eps = 1) versus x, one panel per experiment; the region
    excluded by the recoil cut x < x_min is shaded."""
    import matplotlib.pyplot as plt

    require_variables(cube, _NEEDS["dsigma_dx"], "figure (a) dsigma/dx")
    names = [str(e) for e in cube["experiment"].values]
    edges = np.asarray(cube["x_edge"].values, dtype=float)
    chosen = (
        _pick_masses(np.asarray(cube["mass"].values, float))
        if masses is None
        else np.asarray(masses, float)
    )
    fig, axes = plt.subplots(
        1, len(names), figsize=(3.5 * len(names), 3.0), squeeze=False, sharey=False
    )
    cmap = plt.get_cmap("viridis")
    for ax, name in zip(axes[0], names, strict=True):
        one = _nominal(cube, name)
        spectra = one["dsigma_dx"].sel(mass=chosen, method="nearest").compute()
        status = one["status"].sel(mass=chosen, method="nearest").compute()
        for k, m in enumerate(chosen):
            values = np.asarray(spectra.isel(mass=k).values, float)
            if int(status.isel(mass=k)) != 1 or not np.any(values > 0):
                continue
            values = np.where(values > 0, values, np.nan)
            ax.stairs(
                values,
                edges,
                color=cmap(k / max(len(chosen) - 1, 1)),
                label=f"m_χ = {_mass_label(m)}",
                linewidth=1.5,
            )
        x_min = float(one["x_min"].values)
        ax.axvspan(edges[0], x_min, color="0.85", zorder=0, label=f"cut x < {x_min:g}")
        ax.set_yscale("log")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel("missing-energy fraction x = E_miss / E₀")
        ax.set_title(_experiment_label(one, name))
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].set_ylabel("dσ/dx at ε = 1 [pb]")
    axes[0][-1].legend(loc="best", frameon=False)
    fig.tight_layout()
    return fig


def figure_sigma(cube: xr.Dataset):
    """(b) cross section inside each experiment's cut (x_min < x < x_max, eps = 1) versus m_chi."""
    import matplotlib.pyplot as plt

    require_variables(cube, _NEEDS["sigma"], "figure (b) cross section")
    fig, ax = plt.subplots(figsize=(4.2, 3.3))
    for i, name in enumerate(str(e) for e in cube["experiment"].values):
        one = _nominal(cube, name)
        ok = (one["status"] == 1).compute()
        sigma = one["sigma"].where(ok).compute()
        err = one["sigma_err"].where(ok).compute()
        mass = np.asarray(sigma["mass"].values, float)
        cut = f"{float(one['x_min'].values):g} < x < {float(one['x_max'].values):g}"
        ax.errorbar(
            mass, sigma.values, yerr=err.values, marker="o", markersize=3, capsize=2,
            color=EXPERIMENT_COLORS[i % len(EXPERIMENT_COLORS)], label=f"{_experiment_label(one, name)}, {cut}",
        )  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("m_χ [GeV]")
    ax.set_ylabel("σ(l N → l N χχ̄) at ε = 1 [pb]")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def figure_reach(
    cube: xr.Dataset,
    overlays: Sequence[ReferenceCurve] = (),
    exposure: Exposure | None = None,
    statistics: Statistics | None = None,
):
    """(c) eps_lim versus m_chi per experiment for the brem, meson and combined channels, at the
    cube's nominal exposures or `exposure` (mcpdask.limits.Exposure), existing limits
    shaded with a legend."""
    import matplotlib.pyplot as plt

    require_variables(cube, _NEEDS["reach"], "figure (c) reach")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = limits_dataset(cube, exposure, statistics, channels=list(CHANNELS)).compute()
    lim = ds["eps_limit"].where(np.isfinite(ds["eps_limit"]))
    mass = np.asarray(lim["mass"].values, float)
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    finite = lim.values[np.isfinite(lim.values)]
    y_low = 10 ** math.floor(math.log10(finite.min()) - 0.3) if finite.size else 1e-6
    x_lo, x_hi = mass.min() / 1.5, mass.max() * 1.5
    for k, ov in enumerate(overlays):
        m, e = ov.polygon(eps_top=10.0)
        color = OVERLAY_COLORS[k % len(OVERLAY_COLORS)]
        ax.fill(
            m,
            e,
            facecolor=color,
            alpha=0.22,
            edgecolor=color,
            linewidth=0.8,
            label=ov.name,
            zorder=1,
        )
    for i, name in enumerate(str(e) for e in lim["experiment"].values):
        color = EXPERIMENT_COLORS[i % len(EXPERIMENT_COLORS)]
        for chan in CHANNELS:
            y = lim.sel(experiment=name, channel=chan).values
            if not np.any(np.isfinite(y)):
                continue
            ax.plot(
                mass,
                y,
                _LINESTYLE[chan],
                color=color,
                label=f"{name} {chan}",
                zorder=3,
                linewidth=2,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_low, 1.0)
    ax.set_xlabel("m_χ [GeV]")
    n_up = lim.attrs.get("n_up")
    ax.set_ylabel(
        "ε upper limit [e]" + (f"  (N_up = {n_up:.3g})" if isinstance(n_up, float) else "")
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, ncol=1)
    fig.tight_layout()
    return fig


def approximation_ratios(
    cube: xr.Dataset,
    methods: Sequence[str] = ("iww",),
    masses: Sequence[float] | None = None,
    *,
    precision: float | None = None,
    progress=None,
) -> xr.Dataset:
    """sigma_ETL (from the cube) / sigma_method (integrated now) per experiment, method and mass,
    with errors: a Dataset with `ratio`, `ratio_err` and `wall_s` along (experiment,
    approximation, mass). masses: a subset of the cube's masses (default all); WW takes ~1-2 s a point."""
    from mcpdask.physics.integrate import cross_section

    require_variables(cube, _NEEDS["ratio"], "figure (d) ratio")
    stored = str(cube.attrs.get("method", "etl"))
    if not stored.startswith("etl"):
        raise McpdaskError(
            f"figure (d) needs an ETL cube; this cube was made with method {stored!r}"
        )
    bad = [m for m in methods if m not in RATIO_METHODS]
    if bad or not methods:
        raise PhysicsInputError(
            f"ratio methods must be among {', '.join(RATIO_METHODS)}, got {list(methods)}"
        )
    cube_masses = np.asarray(cube["mass"].values, float)
    if masses is None:
        chosen = cube_masses
    else:
        chosen = []
        for m in masses:
            i = int(np.argmin(np.abs(cube_masses - m)))
            if not np.isclose(cube_masses[i], m, rtol=1e-6):
                raise PhysicsInputError(
                    f"ratio mass {m:g} GeV is not in the cube's masses {cube_masses.tolist()}"
                )
            chosen.append(cube_masses[i])
        chosen = np.asarray(chosen)
    prec = precision or max(float(cube.attrs.get("vegas_precision", 0.01)), 0.01)
    inelastic = bool(cube.attrs.get("inelastic", False))
    names = [str(e) for e in cube["experiment"].values]
    shape = (len(names), len(methods), len(chosen))
    ratio, ratio_err, wall = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape)
    for a, name in enumerate(names):
        one = _nominal(cube, name).sel(mass=chosen)
        sigma = np.asarray(one["sigma"].values, float)
        sigma_err = np.asarray(one["sigma_err"].values, float)
        ok = np.asarray(one["status"].values) == 1
        energy = float(one["nominal_energy"].values)
        for b, method in enumerate(methods):
            for c, m in enumerate(chosen):
                if not ok[c]:
                    continue
                start = time.perf_counter()
                res = cross_section(
                    str(one["lepton"].values), str(one["target"].values), energy, float(m),
                    float(one["x_min"].values), float(one["x_max"].values), method=method,
                    precision=prec, seed=1000 + c, inelastic=inelastic,
                )  # fmt: skip
                wall[a, b, c] = time.perf_counter() - start
                if progress is not None:
                    progress(f"{name} {method} m = {_mass_label(m)}: {wall[a, b, c]:.1f} s")
                if res.sigma_pb > 0:
                    ratio[a, b, c] = sigma[c] / res.sigma_pb
                    ratio_err[a, b, c] = ratio[a, b, c] * math.hypot(
                        sigma_err[c] / sigma[c], res.sigma_err_pb / res.sigma_pb
                    )
    coords = {"experiment": names, "approximation": list(methods), "mass": chosen}
    dims = ("experiment", "approximation", "mass")
    return xr.Dataset(
        {"ratio": (dims, ratio), "ratio_err": (dims, ratio_err), "wall_s": (dims, wall)},
        coords=coords,
    )


def figure_ratio(ratios: xr.Dataset):
    """(d) sigma_ETL / sigma_WW and sigma_ETL / sigma_IWW versus m_chi (from approximation_ratios)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.3))
    markers = {"iww": "s", "ww": "o"}
    for i, name in enumerate(str(e) for e in ratios["experiment"].values):
        for method in (str(m) for m in ratios["approximation"].values):
            r = ratios.sel(experiment=name, approximation=method)
            ax.errorbar(
                r["mass"].values, r["ratio"].values, yerr=r["ratio_err"].values,
                marker=markers.get(method, "o"), markersize=3.5, capsize=2,
                linestyle="-" if method == "ww" else "--",
                color=EXPERIMENT_COLORS[i % len(EXPERIMENT_COLORS)], label=f"{name}: ETL / {method.upper()}",
            )  # fmt: skip
    ax.axhline(1.0, color="0.4", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("m_χ [GeV]")
    ax.set_ylabel("σ_ETL / σ_approx (same cut)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def write_figures(
    cube: xr.Dataset,
    out: str | Path,
    overlays: Sequence[ReferenceCurve] = (),
    *,
    ratio_methods: Sequence[str] = ("iww",),
    ratio_masses: Sequence[float] | None = None,
    figures: Sequence[str] = FIGURES,
    progress=None,
) -> list[dict]:
    """Write the figures (PDF and PNG) into directory `out` (created); returns one record per
    figure: name, paths, seconds. Raises StoreError naming missing cube variables first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unknown = [f for f in figures if f not in FIGURES]
    if unknown:
        raise McpdaskError(f"unknown figure {unknown[0]!r}; known: {', '.join(FIGURES)}")
    for name in figures:  # every check before any work
        require_variables(cube, _NEEDS[name], f"figure {name}")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise McpdaskError(f"cannot create output directory {out}: {exc.strerror}") from None
    records = []
    with plt.rc_context(_RC):
        for letter, name in zip("abcd", FIGURES, strict=True):
            if name not in figures:
                continue
            start = time.perf_counter()
            if name == "dsigma_dx":
                fig = figure_dsigma_dx(cube)
            elif name == "sigma":
                fig = figure_sigma(cube)
            elif name == "reach":
                fig = figure_reach(cube, overlays)
            else:
                fig = figure_ratio(
                    approximation_ratios(cube, ratio_methods, ratio_masses, progress=progress)
                )
            paths = []
            for ext in ("pdf", "png"):
                path = out / f"fig_{letter}_{name}.{ext}"
                fig.savefig(path, bbox_inches="tight")
                paths.append(path)
            plt.close(fig)
            records.append(
                {
                    "figure": f"({letter}) {name}",
                    "paths": paths,
                    "seconds": time.perf_counter() - start,
                }
            )
    return records
