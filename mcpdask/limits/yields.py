"""Signal yields from a stored cube (PHYSICS.md 3 and 5), lazily: nothing here integrates.

Bremsstrahlung yield (paper Eq. 4), per (experiment, energy, mass):

    N = eps^2 * LOT * (rho_T N_A / A) * L_T * efficiency * 1e-36 cm^2/pb * I,
    I = Integral_{x_min}^{x_max} dsigma/dx(eps = 1) dx   [pb]   (mcpdask.limits.xbins)

Meson channel (PHYSICS.md 5): N_sig,V = N_V(LOT, L_T) * Br(V -> chi chibar); N_V is the yield the
experiment's definition gives at its nominal exposure (recorded in the cube at scan time), scaled
linearly in LOT and in L_T/X0, and it refers to the nominal beam energy only: at any other energy
of the cube the meson channels are NaN. Channels: "brem", one per meson (e.g. "rho"), "meson" (sum
of mesons) and "combined" (brem + all mesons: the limit from the SUM of signal yields).

Results are NaN where a point is masked (status not converged, or NaN data) and 0 where the
signal is exactly zero (above the meson threshold m_V / 2, no meson channel, below the pair
threshold).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from mcpdask.cube.schema import Status
from mcpdask.errors import (
    InelasticOmittedWarning,
    MaskedPointsWarning,
    PhysicsInputError,
    StoreError,
)
from mcpdask.limits.xbins import check_cut, integrate_x, x_edges
from mcpdask.physics.constants import AVOGADRO
from mcpdask.physics.materials import get_material
from mcpdask.physics.mesons import (
    PDG_VECTOR_MESONS,
    Meson,
    as_mesons,
    branching_ratio_chichi_per_eps2,
    meson_yield,
)

__all__ = ["CHANNEL_BREM", "CHANNEL_COMBINED", "CHANNEL_MESON", "Exposure", "masked_points",
           "signal_yield"]  # fmt: skip

PB_TO_CM2 = 1e-36
"""1 pb in cm^2."""

CHANNEL_BREM = "brem"
CHANNEL_MESON = "meson"
CHANNEL_COMBINED = "combined"

_REQUIRED_VARS = ("dsigma_dx", "dsigma_dx_err", "sigma", "sigma_err", "status")
_REQUIRED_COORDS = ("x_edge", "target_A", "target_density", "target_X0", "thickness_cm",
                    "leptons_on_target", "x_min", "x_max", "nominal_energy")  # fmt: skip
_MAX_NAMED_POINTS = 12


@dataclass(frozen=True)
class Exposure:
    """Overrides of what the cube records per experiment; None keeps the cube's value.

    Each is a scalar (all selected experiments), a mapping {experiment: value}, a 1-D sequence (a
    new dimension: "exposure", "x_cut", "x_cut_max", "thickness", "efficiency") or a DataArray
    (broadcast lazily). The target thickness is given in cm or in radiation lengths of each
    experiment's own target (`thickness_x0`), not both.
    """

    leptons_on_target: Any = None
    x_min: Any = None
    x_max: Any = None
    thickness_cm: Any = None
    thickness_x0: Any = None
    efficiency: Any = None

    def __post_init__(self):
        if self.thickness_cm is not None and self.thickness_x0 is not None:
            raise PhysicsInputError("give the target thickness in cm or in X0, not both")


def _check_cube(cube: xr.Dataset) -> None:
    if not isinstance(cube, xr.Dataset):
        raise StoreError(f"expected an xarray Dataset (an opened cube), got {type(cube).__name__}")
    missing = [v for v in _REQUIRED_VARS if v not in cube.variables]
    missing += [c for c in _REQUIRED_COORDS if c not in cube.variables]
    if missing:
        raise StoreError(f"not an mcpdask cube: missing {', '.join(missing)}")


def _experiment_names(cube: xr.Dataset, experiment) -> list[str]:
    available = [str(e) for e in cube["experiment"].values]
    if experiment is None:
        return available
    names = [experiment] if isinstance(experiment, str) else list(experiment)
    for name in names:
        if name not in available:
            raise PhysicsInputError(f"unknown experiment {name!r}; the cube has {available}")
    if not names:
        raise PhysicsInputError("no experiment selected")
    return names


def _nearest_energy_index(energies: np.ndarray, value: float, what: str) -> int:
    if energies.size == 0:
        raise StoreError("the cube has no beam energies")
    i = int(np.argmin(np.abs(energies - value)))
    if not np.isclose(energies[i], value, rtol=1e-6, atol=0.0):
        raise PhysicsInputError(
            f"{what} {value:g} GeV is not in the cube's energies {[float(e) for e in energies]}"
        )
    return i


def _select(cube: xr.Dataset, names: list[str], energy) -> xr.Dataset:
    """The cube restricted to `names`; energy None: each experiment's nominal energy (energy dim
    dropped, `energy` kept as a coordinate along experiment); a number: that energy for all;
    "all": keep the energy dimension."""
    sub = cube.sel(experiment=names)
    if isinstance(energy, str):
        if energy != "all":
            raise PhysicsInputError(f"energy must be a number, None or 'all', got {energy!r}")
        return sub
    energies = np.asarray(cube["energy"].values, dtype=float)
    if energy is not None:
        i = _nearest_energy_index(energies, float(energy), "energy")
        return sub.isel(energy=i)
    parts = []
    for name in names:
        one = sub.sel(experiment=[name])
        nominal = float(one["nominal_energy"].values[0])
        i = _nearest_energy_index(energies, nominal, f"nominal energy of {name!r},")
        parts.append(one.isel(energy=i))
    return xr.concat(parts, dim="experiment", data_vars="all", coords="different", compat="equals")


def _per_experiment(value, default: xr.DataArray, what: str, new_dim: str) -> xr.DataArray:
    """An override as a DataArray that broadcasts against the experiment dimension.

    None -> the cube's per-experiment default; a scalar -> that for all experiments; a 1-D
    sequence or array -> a new dimension `new_dim` with the values as its coordinate; a DataArray
    -> used as is (any dims; an `experiment` dim is aligned by label); a mapping
    {experiment: value} -> per experiment (others keep the default).
    """
    if value is None:
        return default
    if isinstance(value, Mapping):
        out = default.copy()
        names = [str(e) for e in default["experiment"].values]
        for key, v in value.items():
            if key not in names:
                raise PhysicsInputError(f"{what}: unknown experiment {key!r}; selected are {names}")
            try:
                out.loc[{"experiment": key}] = float(v)
            except (TypeError, ValueError):
                raise PhysicsInputError(f"{what} for {key!r}: not a number: {v!r}") from None
        return out
    if isinstance(value, xr.DataArray):
        return value
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return xr.DataArray(float(arr))
    if arr.ndim == 1:
        return xr.DataArray(arr, dims=new_dim, coords={new_dim: arr})
    raise PhysicsInputError(
        f"{what}: give a scalar, a 1-D sequence or a DataArray, got {arr.ndim}-D"
    )


def _check_positive(da: xr.DataArray, what: str, *, upper: float | None = None) -> None:
    """Raise on values <= 0 (or > upper); skipped for dask-backed overrides (not computed here)."""
    if da.chunks is not None:
        return
    vals = np.asarray(da.values, dtype=float)
    bad = ~np.isfinite(vals) | (vals <= 0)
    if upper is not None:
        bad |= vals > upper
    if np.any(bad):
        v = vals[bad].flat[0]
        where = ""
        if "experiment" in da.dims:
            idx = np.argwhere(bad)[0][da.dims.index("experiment")]
            where = f" (experiment {str(da['experiment'].values[idx])!r})"
        rng = f"in (0, {upper:g}]" if upper is not None else "> 0"
        raise PhysicsInputError(f"{what} must be {rng}, got {v:g}{where}")


def _along(sub: xr.Dataset, name: str) -> xr.DataArray:
    """A per-experiment coordinate as a plain DataArray (only the experiment index attached)."""
    return xr.DataArray(
        np.asarray(sub[name].values),
        dims=("experiment",),
        coords={"experiment": sub["experiment"].values},
        name=name,
    )


def masked_points(status: xr.DataArray, usable: xr.DataArray | None = None) -> list[str]:
    """Descriptions ("na64mu E=160 GeV m=0.05 GeV (failed)") of the points of a status array whose
    numbers a derivation cannot use: not converged nor below threshold, unless `usable` (same
    shape) accepts them (a budget-exhausted point within the precision tolerance)."""
    values = np.asarray(status.values)
    bad = (values != Status.CONVERGED) & (values != Status.BELOW_THRESHOLD)
    if usable is not None:
        bad &= ~np.asarray(usable.values, dtype=bool)
    out = []
    for idx in np.argwhere(bad):
        labels = []
        for dim, i in zip(status.dims, idx, strict=True):
            if dim == "experiment":
                labels.append(str(status["experiment"].values[i]))
            elif dim == "energy":
                labels.append(f"E={float(status['energy'].values[i]):g} GeV")
            elif dim == "mass":
                labels.append(f"m={float(status['mass'].values[i]):g} GeV")
        if "energy" not in status.dims and "energy" in status.coords:
            e = status["energy"]
            energy = e.values[idx[status.dims.index("experiment")]] if e.ndim else e.values
            labels.insert(1, f"E={float(energy):g} GeV")
        code = int(values[tuple(idx)])
        what = Status(code).label if code in set(Status) else f"status {code}"
        if code == Status.BUDGET_EXHAUSTED:
            what += ", precision beyond the tolerance"
        labels.append(f"({what})")
        out.append(" ".join(labels))
    return out


def _warn_masked(points: list[str]) -> None:
    if not points:
        return
    shown = "; ".join(points[:_MAX_NAMED_POINTS])
    more = (
        f"; and {len(points) - _MAX_NAMED_POINTS} more" if len(points) > _MAX_NAMED_POINTS else ""
    )
    warnings.warn(
        f"{len(points)} cube point(s) not usable, their limits are masked (NaN): {shown}{more}",
        MaskedPointsWarning,
        stacklevel=3,
    )


def _definition(cube: xr.Dataset, name: str) -> dict:
    """Experiment `name` as the cube recorded it at scan time ({} for cubes older than that)."""
    return cube.attrs.get("experiment_definitions", {}).get(name) or {}


def recorded_mesons(cube: xr.Dataset, name: str) -> tuple[Meson, ...]:
    """The meson inputs of experiment `name` as the cube recorded them at scan time (attribute
    `experiment_definitions`): hand-set yields (`mesons`, an explicit override) and mesons
    computed from photoproduction (`meson_production`; their yield_at_nominal_exposure is None);
    () if the experiment has none or the cube predates the record."""
    definition = _definition(cube, name)
    handset = as_mesons(definition.get("mesons") or ())
    production = definition.get("meson_production") or {}
    have = {m.name for m in handset}
    computed = tuple(
        replace(PDG_VECTOR_MESONS[n], yield_at_nominal_exposure=None,
                source="computed from photoproduction (meson_production)")
        for n in production.get("mesons", ()) if n not in have
    )  # fmt: skip
    return handset + computed


def _resolve_mesons(mesons, names: list[str], sub: xr.Dataset) -> dict[str, tuple[Meson, ...]]:
    """{experiment: mesons}. None: as recorded in the cube; a mapping {experiment: specs}; a list
    of specs: for the one selected experiment. Specs without a reference exposure refer to the
    cube's nominal leptons_on_target and thickness of that experiment."""

    def nominal(name):
        one = sub.sel(experiment=name)
        lot = float(one["leptons_on_target"].values)
        x0 = float(one["thickness_cm"].values) / float(one["target_X0"].values)
        return {"reference_lot": lot, "reference_thickness_x0": x0}

    def filled(name, specs):
        ref = nominal(name)
        return tuple(
            replace(m, **{k: v for k, v in ref.items() if getattr(m, k) is None})
            for m in as_mesons(specs)
        )

    if sub.attrs.get("process") == "vector":  # a dark-photon cube: V -> chi chibar does not exist
        if mesons:
            raise PhysicsInputError(
                "this cube holds dark-photon (process vector) cross sections: there is no "
                "vector-meson channel V -> chi chibar for that model"
            )
        return {n: () for n in names}
    if mesons is None:
        if "experiment_definitions" not in sub.attrs:
            warnings.warn(
                "this cube predates recorded experiment definitions, so it has no meson inputs: "
                "rerun its scan config on it (`mcpdask scan CONFIG --store STORE`, nothing is "
                "recomputed) to record them, or pass mesons explicitly",
                UserWarning,
                stacklevel=4,
            )
        return {n: filled(n, recorded_mesons(sub, n)) for n in names}
    if isinstance(mesons, Mapping):
        unknown = [k for k in mesons if k not in names]
        if unknown:
            raise PhysicsInputError(
                f"mesons given for unknown experiment {unknown[0]!r}; selected are {names}"
            )
        return {n: filled(n, mesons.get(n, ())) for n in names}
    specs = list(mesons)
    if specs and len(names) != 1:
        raise PhysicsInputError(
            f"mesons given as a list but {len(names)} experiments are selected; "
            "pass a mapping {experiment: [mesons]}"
        )
    return {n: filled(n, specs) for n in names}


def _parse_channels(channels, meson_names: list[str], vector: bool) -> list[str]:
    """The requested channels; a dark-photon cube has only the bremsstrahlung one."""
    everything = (
        [CHANNEL_BREM] if vector else [CHANNEL_BREM, *meson_names, CHANNEL_MESON, CHANNEL_COMBINED]
    )
    if channels is None or (isinstance(channels, str) and channels == "all"):
        return everything
    items = channels.split(",") if isinstance(channels, str) else list(channels)
    out: list[str] = []
    for raw in items:
        ch = str(raw).strip()
        expanded = everything if ch == "all" else [ch]
        for c in expanded:
            if c not in everything:
                raise PhysicsInputError(
                    f"unknown channel {c!r}; allowed: {', '.join(['all', *everything])}"
                )
            if c not in out:
                out.append(c)
    if not out:
        raise PhysicsInputError("no channel selected")
    return out


def _overrides(exposure: Exposure, sub: xr.Dataset, edges: np.ndarray) -> dict[str, xr.DataArray]:
    """The exposure of each selected experiment: the cube's values with `exposure`'s overrides,
    checked (positive numbers, a cut inside the stored bins). The one place where a thickness in
    X0 becomes cm."""
    x0 = _along(sub, "target_X0")
    if exposure.thickness_x0 is not None:
        thick = _per_experiment(exposure.thickness_x0, x0 * 0 + np.nan, "thickness_x0",
                                "thickness")  # fmt: skip
        _check_positive(thick, "target thickness_x0")
        thick = thick * x0
    else:
        thick = _per_experiment(exposure.thickness_cm, _along(sub, "thickness_cm"),
                                "thickness_cm", "thickness")  # fmt: skip
        _check_positive(thick, "target thickness_cm")
    eff_default = _along(sub, "efficiency") if "efficiency" in sub.coords else xr.DataArray(1.0)
    out = {
        "leptons_on_target": _per_experiment(exposure.leptons_on_target,
                                             _along(sub, "leptons_on_target"),
                                             "leptons_on_target", "exposure"),
        "thickness_cm": thick,
        "x_min": _per_experiment(exposure.x_min, _along(sub, "x_min"), "x_min", "x_cut"),
        "x_max": _per_experiment(exposure.x_max, _along(sub, "x_max"), "x_max", "x_cut_max"),
        "efficiency": _per_experiment(exposure.efficiency, eff_default, "efficiency",
                                      "efficiency"),
    }  # fmt: skip
    _check_positive(out["leptons_on_target"], "leptons_on_target (exposure)")
    _check_positive(out["efficiency"], "efficiency", upper=1.0)
    if exposure.x_max is None:  # a stored x_max a hair beyond the last edge (rounding) is that edge
        hi = out["x_max"]
        out["x_max"] = xr.where(np.abs(hi - edges[-1]) <= 1e-9 * (edges[-1] - edges[0]),
                                edges[-1], hi)  # fmt: skip
    check_cut(out["x_min"], out["x_max"], edges)
    return out


def yields_at_eps1(
    cube: xr.Dataset,
    exposure: Exposure | None = None,
    *,
    experiment=None,
    energy=None,
    channels="all",
    mesons=None,
    precision_tolerance: float | None = None,
) -> xr.Dataset:
    """Signal yields at eps = 1 (`n_signal`, `n_signal_err`, `usable`), lazily; see
    `signal_yield`."""
    _check_cube(cube)
    exposure = exposure or Exposure()
    # the per-experiment coordinates are tiny: read them once (xarray.open_zarr leaves them lazy)
    small = [c for c in cube.coords if c not in cube.indexes and cube[c].dims == ("experiment",)]
    cube = cube.assign_coords({c: cube[c].load() for c in small})
    names = _experiment_names(cube, experiment)
    edges = x_edges(cube)
    sub = _select(cube, names, energy)
    setting = _overrides(exposure, sub, edges)
    lot, thick, eff = setting["leptons_on_target"], setting["thickness_cm"], setting["efficiency"]

    mesons_by_exp = _resolve_mesons(mesons, names, sub)
    meson_names: list[str] = []
    for ms in mesons_by_exp.values():
        meson_names += [m.name for m in ms if m.name not in meson_names]
    vector = cube.attrs.get("process") == "vector"
    chans = _parse_channels(channels, meson_names, vector)

    # masking: the status and totals are small and read once, here
    status = sub["status"].copy(data=np.asarray(sub["status"].values))
    ok = usable_points(sub, status, precision_tolerance)
    points = masked_points(status, ok)
    closed = status == Status.BELOW_THRESHOLD

    mass = sub["mass"]
    n_target = _along(sub, "target_density") * AVOGADRO / _along(sub, "target_A")  # per cm^3
    factor = lot * n_target * thick * eff * PB_TO_CM2

    results: dict[str, tuple[xr.DataArray, xr.DataArray]] = {}
    need_brem = any(c in (CHANNEL_BREM, CHANNEL_COMBINED) for c in chans)
    if need_brem:
        below_pair = xr.DataArray(edges[1:], dims="x") * sub["energy"] <= 2.0 * mass
        f = xr.where(below_pair, 0.0, sub["dsigma_dx"])
        f_err = xr.where(below_pair, 0.0, sub["dsigma_dx_err"])
        integral, integral_err = integrate_x(f, f_err, edges, setting["x_min"], setting["x_max"])
        if integral.chunks is not None:  # one number per cube chunk: gather them into one block
            integral = integral.chunk(dict.fromkeys(integral.dims, -1))
            integral_err = integral_err.chunk(dict.fromkeys(integral_err.dims, -1))
        n_brem = xr.where(closed, 0.0, xr.where(ok, factor * integral, np.nan))
        n_brem_err = xr.where(closed, 0.0, xr.where(ok, factor * integral_err, np.nan))
        for name in names:
            if _definition(cube, name).get("target_model") == "shower":
                shower, shower_err = _shower_brem(cube, name, sub, setting, edges, points,
                                                  precision_tolerance)  # fmt: skip
                is_this = n_brem["experiment"] == name
                n_brem = xr.where(is_this, shower, n_brem)
                n_brem_err = xr.where(is_this, shower_err, n_brem_err)
        results[CHANNEL_BREM] = (n_brem, n_brem_err)

    # mesons: N_V refers to the nominal beam energy; NaN at any other energy
    thick_x0 = thick / _along(sub, "target_X0")
    nominal_e = _along(sub, "nominal_energy")
    at_nominal = xr.where(abs(sub["energy"] - nominal_e) <= 1e-6 * nominal_e, 1.0, np.nan)
    if any(c not in (CHANNEL_BREM,) for c in chans):
        handset = [
            n
            for n in names
            if any(m.yield_at_nominal_exposure is not None for m in mesons_by_exp[n])
        ]
        _warn_off_nominal(at_nominal, handset)  # fmt: skip

    def pick(da, name):
        return da.sel(experiment=name) if "experiment" in da.dims else da

    per_meson: dict[str, xr.DataArray] = {}
    for mname in meson_names:
        parts = []
        for name in names:
            spec = {m.name: m for m in mesons_by_exp[name]}.get(mname)
            if spec is None:
                n_sig = xr.zeros_like(mass, dtype=float)
            elif spec.yield_at_nominal_exposure is None:  # computed from photoproduction
                per_lepton = _computed_meson_yield(cube, name, mname, sub, setting, thick_x0)
                n_sig = (per_lepton * pick(lot, name) * pick(eff, name)
                         * branching_ratio_chichi_per_eps2(mass, spec))  # fmt: skip
            else:
                n_v = meson_yield(spec, pick(lot, name), pick(thick_x0, name))
                n_sig = (n_v * pick(eff, name) * branching_ratio_chichi_per_eps2(mass, spec)
                         * pick(at_nominal, name))  # fmt: skip
            parts.append(n_sig.reset_coords(drop=True).expand_dims(experiment=[name]))
        per_meson[mname] = xr.concat(parts, dim="experiment", coords="minimal", compat="override")
        results[mname] = (per_meson[mname], xr.zeros_like(per_meson[mname]))
    total = sum(per_meson.values()) if meson_names else xr.zeros_like(mass, dtype=float)
    results[CHANNEL_MESON] = (total, xr.zeros_like(total))
    if CHANNEL_COMBINED in chans:
        n_brem, n_brem_err = results[CHANNEL_BREM]
        results[CHANNEL_COMBINED] = (n_brem + total, n_brem_err + 0.0 * total)

    channel = xr.DataArray(chans, dims="channel", name="channel")
    concat = {"dim": channel, "coords": "minimal", "compat": "override", "join": "exact"}
    n = xr.concat([results[c][0] for c in chans], **concat)
    n_err = xr.concat([results[c][1] for c in chans], **concat)
    lead = [d for d in ("experiment", "energy", "mass", "channel") if d in n.dims]
    n = n.transpose(*lead, ...)
    n_err = n_err.transpose(*lead, ...)
    keep = {"experiment", "energy", "mass", "channel", "nominal_energy", "lepton", "target"}
    drop = [c for c in n.coords if c not in keep and c not in n.dims]
    ds = xr.Dataset(
        {"n_signal": n.drop_vars(drop), "n_signal_err": n_err.drop_vars(drop, errors="ignore")}
    )
    ds["n_signal"].attrs.update(
        long_name="signal events at eps = 1 (scale with eps^2)", units="events"
    )
    ds["n_signal_err"].attrs.update(long_name="statistical error of n_signal", units="events")
    ds["usable"] = (ok | closed).reset_coords(drop=True)
    ds["usable"].attrs.update(
        long_name="the point's numbers are used (converged, below threshold, or budget exhausted "
        "within the precision tolerance)",
        masked_points=points,
    )
    ds.attrs.update(model_attrs(cube))
    ds.attrs["precision_tolerance"] = _tolerance(cube, precision_tolerance)
    if need_brem:
        _warn_masked(points)
        _warn_inelastic(cube, sub, names)
    return ds


def model_attrs(cube: xr.Dataset) -> dict[str, str]:
    """What the cube's mass and eps mean: a millicharged particle (process mcp) or an invisible
    dark photon (process vector)."""
    if cube.attrs.get("process") == "vector":
        return {"model": "dark photon A' (invisible)", "mass_label": "m_A'",
                "eps_meaning": "kinetic mixing eps of the dark photon"}  # fmt: skip
    return {"model": "millicharged particle chi", "mass_label": "m_chi",
            "eps_meaning": "millicharge eps (units of e)"}  # fmt: skip


def _tolerance(cube: xr.Dataset, precision_tolerance: float | None) -> float:
    if precision_tolerance is None:
        return 2.0 * float(cube.attrs.get("vegas_precision", 0.01))
    if not (np.isfinite(precision_tolerance) and precision_tolerance >= 0):
        raise PhysicsInputError(
            f"precision tolerance must be a relative error >= 0, got {precision_tolerance!r}"
        )
    return float(precision_tolerance)


def usable_points(sub: xr.Dataset, status: xr.DataArray, precision_tolerance) -> xr.DataArray:
    """Points whose stored numbers a derivation uses: converged ones, and budget-exhausted ones
    whose achieved relative error of sigma is within the tolerance (default: twice the cube's
    requested VEGAS precision; 0 accepts converged points only)."""
    tolerance = _tolerance(sub, precision_tolerance)
    sigma = np.asarray(sub["sigma"].values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.asarray(sub["sigma_err"].values, dtype=float) / sigma
    near = (np.asarray(status.values) == Status.BUDGET_EXHAUSTED) & (sigma > 0) & (rel <= tolerance)
    return (status == Status.CONVERGED) | status.copy(data=near)


def _warn_off_nominal(at_nominal: xr.DataArray, with_mesons: list[str]) -> None:
    """Say why meson channels are NaN at a beam energy other than an experiment's nominal one."""
    off = [n for n in with_mesons if np.isnan(at_nominal.sel(experiment=n).values).any()]
    if off:
        warnings.warn(
            f"the meson yields of {', '.join(off)} refer to the nominal beam energy: the meson and "
            "combined channels are NaN at other beam energies",
            UserWarning,
            stacklevel=4,
        )


INELASTIC_WARNING_FRACTION = 0.05
"""Above this estimated fraction of the yield from the omitted incoherent term, limits say so."""


def inelastic_fraction_estimate(lepton_masses, target_z, target_a, energy, mass, vector: bool):
    """A lower estimate of what the incoherent (inelastic, nucleon) term would add to an
    elastic-only yield: the ratio of Tsai's inelastic to elastic photon flux over the IWW t range
    [(m_V^2 / 2E0)^2, m_V^2 + m_l^2] at m_V = 2 m_chi (m_A' for a dark photon), minus 1. The exact
    ETL ratio is larger (PHYSICS.md 11: LDMX 0.3 GeV +33 per cent, 1 GeV x 11.7; this estimate
    gives +20 per cent and x 6): a warning sign, not a correction."""
    from mcpdask.physics.materials import Material
    from mcpdask.physics.ww import photon_flux_chi

    out = np.zeros(np.broadcast(lepton_masses, target_z, energy, mass).shape)
    it = np.nditer([lepton_masses, target_z, target_a, energy, mass], flags=["multi_index"])
    for m_l, z, a, e0, m in it:
        m_v = float(m) if vector else 2.0 * float(m)
        if not (np.isfinite(e0) and m_v < e0):
            continue
        mat = Material("target", float(z), float(a), 1.0, 1.0)
        t_min, t_max = (m_v**2 / (2.0 * float(e0))) ** 2, m_v**2 + float(m_l) ** 2
        el = photon_flux_chi(mat, t_min, t_max, inelastic=False)
        out[it.multi_index] = photon_flux_chi(mat, t_min, t_max, inelastic=True) / el - 1.0
    return out


def _warn_inelastic(cube: xr.Dataset, sub: xr.Dataset, names: list[str]) -> None:
    """Warn where the elastic-only yield (the paper's default) misses more than a few per cent."""
    if cube.attrs.get("inelastic", False):
        return
    from mcpdask.physics.constants import lepton_mass

    mass = np.asarray(sub["mass"].values, dtype=float)
    found = []
    for name in names:
        one = sub.sel(experiment=name)
        e0 = np.atleast_1d(np.asarray(one["energy"].values, dtype=float))[:, None]
        frac = inelastic_fraction_estimate(
            lepton_mass(str(one["lepton"].values)), float(one["target_Z"].values),
            float(one["target_A"].values), e0, mass[None, :], cube.attrs.get("process") == "vector",
        )  # fmt: skip
        over = frac.max(axis=0) > INELASTIC_WARNING_FRACTION
        if over.any():
            found.append(f"{name} from m = {mass[over].min():.3g} GeV (up to "
                         f"+{frac.max():.0%} at {mass[np.argmax(frac.max(axis=0))]:.3g} GeV)")  # fmt: skip
    if found:
        warnings.warn(
            "elastic-only cross sections (as in the paper): the omitted incoherent term would add "
            "more than 5 per cent of the yield for " + "; ".join(found) + " (photon-flux "
            "estimate, a lower bound; scan with physics.inelastic: true for the exact ETL)",
            InelasticOmittedWarning,
            stacklevel=4,
        )


def signal_yield(
    cube: xr.Dataset,
    exposure: Exposure | None = None,
    *,
    eps=1.0,
    experiment=None,
    energy=None,
    channels="all",
    mesons=None,
    precision_tolerance: float | None = None,
) -> xr.Dataset:
    """Signal yields N_sig (paper Eq. 4 and the meson channel) as a lazy Dataset with `n_signal`
    and `n_signal_err`, dims (experiment, [energy], mass, channel, [exposure, ...]), and `usable`.

    exposure: overrides of the cube's per-experiment values (see `Exposure`). energy None: each
    experiment's nominal beam energy; a number; or "all" (keep the energy dimension). channels:
    "all", or a comma-separated string / list of "brem", "meson", "combined" and meson names.
    mesons: None for the inputs the cube recorded at scan time, a list of Meson / dicts for a
    single selected experiment, or {experiment: [...]}. precision_tolerance: see `eps_limits`.
    """
    ds = yields_at_eps1(cube, exposure, experiment=experiment, energy=energy, channels=channels,
                        mesons=mesons, precision_tolerance=precision_tolerance)  # fmt: skip
    out = ds[["n_signal", "n_signal_err"]] * eps**2
    out["usable"] = ds["usable"]
    out.attrs = dict(ds.attrs)
    for v in ds.data_vars:
        out[v].attrs = dict(ds[v].attrs)
    out["n_signal"].attrs["long_name"] = "signal events"
    return out


def _computed_meson_yield(cube, name, meson, sub, setting, thick_x0) -> xr.DataArray:
    """N_V per beam lepton of experiment `name` from photoproduction, at the selected beam
    energy, cut and thickness (each may carry a dimension of its own)."""
    from mcpdask.limits.targets import meson_yield_per_beam_lepton

    definition = _definition(cube, name)
    production = dict(definition["meson_production"])
    if production.get("absorber") is not None:
        production["absorber"] = get_material(production["absorber"])
    target = get_material(definition["target"])
    model = definition.get("target_model", "thin")

    def one(e0, x_min, t_x0):
        return meson_yield_per_beam_lepton(meson, production, target, model, float(e0),
                                           float(x_min), float(t_x0))  # fmt: skip

    def pick(da):
        return da.sel(experiment=name) if "experiment" in da.dims else da

    e0 = sub["energy"].sel(experiment=name) if "experiment" in sub["energy"].dims else sub["energy"]
    out = xr.apply_ufunc(one, e0.reset_coords(drop=True), pick(setting["x_min"]).reset_coords(drop=True),
                         pick(thick_x0).reset_coords(drop=True), vectorize=True)  # fmt: skip
    return out


def _shower_brem(cube, name, sub, setting, edges, points, precision_tolerance):
    """N_brem / (nothing else) of a shower experiment: LOT n X0 eff 1e-36 sum_j w_j I(E_j) over
    the cube's energies (mcpdask.limits.targets), with its error; NaN with a stated reason where
    the cube cannot carry it."""
    from mcpdask.limits.targets import shower_coverage_problem, shower_weights

    one = cube.sel(experiment=name)
    energies = np.asarray(one["energy"].values, dtype=float)
    sel = sub.sel(experiment=name)
    e0s = np.atleast_1d(np.asarray(sel["energy"].values, dtype=float))
    if e0s.size != 1:
        warnings.warn(
            f"{name}: the shower model folds over the cube's energies; select one beam "
            "energy (its limits are NaN for energy='all')",
            UserWarning,
            stacklevel=5,
        )
        nan = xr.full_like(sel["status"], np.nan, dtype=float)
        return nan, nan
    e0 = float(e0s[0])

    def pick(key):
        da = setting[key]
        return da.sel(experiment=name) if "experiment" in da.dims else da

    x_lo, x_hi, thick_cm = pick("x_min"), pick("x_max"), pick("thickness_cm")
    lot, eff = pick("leptons_on_target"), pick("efficiency")
    x0_cm = float(one["target_X0"].values)
    n_target = float(one["target_density"].values) * AVOGADRO / float(one["target_A"].values)
    nodes = energies[(energies <= e0 * (1 + 1e-9))]
    node = xr.DataArray(nodes, dims="energy", coords={"energy": nodes})

    def weights(x_min, t_cm):
        valid = nodes > x_min * e0 * (1 + 1e-9)
        w = np.zeros(nodes.size)
        problem = shower_coverage_problem(energies, e0, x_min)
        if problem is not None:
            return np.full(nodes.size, np.nan)
        w[valid] = shower_weights(e0, t_cm / x0_cm, x_min, nodes[valid])
        return w

    w = xr.apply_ufunc(weights, x_lo.reset_coords(drop=True), thick_cm.reset_coords(drop=True),
                       output_core_dims=[["energy"]], vectorize=True).assign_coords(energy=nodes)  # fmt: skip
    problems = {shower_coverage_problem(energies, e0, float(v)) for v in np.ravel(x_lo.values)}
    problems.discard(None)
    for problem in problems:
        warnings.warn(f"{name}: {problem}; its limits are NaN", UserWarning, stacklevel=5)

    data = one.sel(energy=nodes)
    x_lo_j = np.minimum(x_lo.reset_coords(drop=True) * e0 / node, edges[-1])
    x_hi_j = np.minimum(x_hi.reset_coords(drop=True) * e0 / node, edges[-1])
    usable_j = x_lo_j < x_hi_j - 1e-12
    x_lo_j = xr.where(usable_j, x_lo_j, edges[0])
    x_hi_j = xr.where(usable_j, x_hi_j, edges[-1])
    below_pair = xr.DataArray(edges[1:], dims="x") * node <= 2.0 * data["mass"]
    f = xr.where(below_pair, 0.0, data["dsigma_dx"])
    f_err = xr.where(below_pair, 0.0, data["dsigma_dx_err"])
    integral, integral_err = integrate_x(f, f_err, edges, x_lo_j, x_hi_j)
    w = xr.where(usable_j, w, 0.0)
    status = data["status"].copy(data=np.asarray(data["status"].values))
    ok = usable_points(data, status, precision_tolerance) | (status == Status.BELOW_THRESHOLD)
    needed = (w > 0).any([d for d in w.dims if d != "energy"]) if w.ndim > 1 else w > 0
    bad = needed & ~ok
    for label in masked_points(status.where(needed, Status.CONVERGED).astype(np.int8),
                               ok | ~needed):  # fmt: skip
        if label not in points:
            points.append(label)
    unused = (status == Status.BELOW_THRESHOLD) | (w == 0)  # outside the fold: may be NaN
    total = (w * xr.where(unused, 0.0, integral)).sum("energy", skipna=False)
    total_err = np.sqrt(
        ((w * xr.where(unused, 0.0, integral_err)) ** 2).sum("energy", skipna=False)
    )
    any_bad = bad.any("energy")
    factor = (
        lot.reset_coords(drop=True) * n_target * x0_cm * eff.reset_coords(drop=True) * PB_TO_CM2
    )
    n = xr.where(any_bad, np.nan, factor * total)
    n_err = xr.where(any_bad, np.nan, factor * total_err)
    return n, n_err
