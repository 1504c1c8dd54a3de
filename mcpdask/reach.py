"""Lazy yields and epsilon limits from a stored cube (PHYSICS.md 3-5), and reach against existing bounds.

Nothing here integrates: every result is an xarray expression over the cube's stored dsigma/dx bins,
dask-backed when the cube is, computed only where a caller asks for numbers (a table, a plot).

Bremsstrahlung yield (paper Eq. 4), per (experiment, energy, mass):

    N = eps^2 * LOT * (rho_T N_A / A) * L_T * efficiency * 1e-36 cm^2/pb * I,
    I = Integral_{x_min}^{x_max} dsigma/dx(eps = 1) dx   [pb]

Rule for I (`integrate_x`). The stored dsigma_dx is the bin average of dsigma/dx over
[x_edge[i], x_edge[i+1]] (a VEGAS histogram), so a bin lying wholly inside [x_min, x_max]
contributes exactly dsigma_dx[i] * width[i]. In a bin cut by x_min (or x_max), dsigma/dx is
modelled by the quadratic whose averages over that bin and its two neighbours (the two nearest
bins at the ends of the range) equal the stored averages -- a conservative reconstruction, exact
for any quadratic dsigma/dx and third order in the bin width otherwise -- and the partial integral
of that quadratic is used, clipped to [0, the bin's whole integral] as a guard against overshoot
next to a steep edge. It reduces to the plain bin sum when x_min and x_max fall on bin edges (the
usual case). Being linear in the stored averages (I = sum_j w_j dsigma_dx[j], weights from the
edges and the cut only), it is cheap and lazy, and the error follows directly: bins are taken as
independent VEGAS estimates, sigma_I^2 = sum_j (w_j dsigma_dx_err[j])^2. Bins wholly below the
pair threshold (x_edge[i+1] E0 <= 2 m_chi) contribute 0 even if stored as NaN; NaN in any other
bin the cut needs makes the point NaN. x_min outside the stored bins is an error.

Limit. eps_lim = sqrt(N_up / N(eps = 1)). N_up is the classical (Neyman) one-sided Poisson upper
limit on the signal mean at confidence level CL with known expected background b, evaluated for an
observed count equal to the expected background (the "expected" limit; continuous in b):

    P(n <= n_obs | N_up + b) = 1 - CL   <=>   N_up = gammaincinv(n_obs + 1, CL) - b ,  n_obs = b

(the Garwood / chi^2 form N_up + b = chi2.ppf(CL, 2 (n_obs + 1)) / 2). With b = 0 and CL = 0.9 it
is -ln(0.1) = 2.3026, the paper's "2.3". No CLs or Feldman-Cousins construction is applied.

Meson channel (LDMX, PHYSICS.md 5): N_sig,V = N_V(LOT, L_T) * Br(V -> chi chibar); N_V is given at
the experiment's nominal exposure and scaled linearly in LOT and in L_T/X0; it refers to the
nominal beam energy only (NaN at other energies of the cube). Channels: "brem", one per meson
(e.g. "rho"), "meson" (sum of mesons) and "combined" (brem + all mesons: the limit from the SUM of
signal yields, not a combination of limits).

Results are NaN where a point is masked (status != converged, or NaN data) and +inf where the
signal yield is exactly zero (no sensitivity: above the meson threshold m_V / 2, no meson channel,
below the pair threshold).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import special

from mcpdask.errors import MaskedPointsWarning, McpdaskError, PhysicsInputError, StoreError
from mcpdask.physics.constants import AVOGADRO
from mcpdask.physics.mesons import (
    DEFAULT_MESONS_BY_EXPERIMENT,
    Meson,
    as_mesons,
    branching_ratio_chichi_per_eps2,
    meson_yield,
)
from mcpdask.references import ReferenceCurve, read_reference_curves

PB_TO_CM2 = 1e-36
"""1 pb in cm^2."""

STATUS_NAMES = {
    0: "missing",
    1: "converged",
    2: "budget_exhausted",
    3: "failed",
    4: "below_threshold",
}
STATUS_CONVERGED = 1
STATUS_BELOW_THRESHOLD = 4

CHANNEL_BREM = "brem"
CHANNEL_MESON = "meson"
CHANNEL_COMBINED = "combined"

_REQUIRED_VARS = ("dsigma_dx", "dsigma_dx_err", "status")
_REQUIRED_COORDS = (
    "x_edge",
    "target_A",
    "target_density",
    "target_X0",
    "thickness_cm",
    "leptons_on_target",
    "x_min",
    "x_max",
    "nominal_energy",
)
_MAX_NAMED_POINTS = 12


# --------------------------------------------------------------------------------------------
# Poisson upper limit


def poisson_upper_limit(cl: float = 0.9, background=0.0, observed=None):
    """Classical one-sided Poisson upper limit on the signal mean (see the module docstring).

    `observed` defaults to the expected background (the expected limit); it may be non-integer
    (continuous extension through the regularised incomplete gamma function).

    >>> round(poisson_upper_limit(0.9), 4)  # -ln(0.1)
    2.3026
    >>> round(poisson_upper_limit(0.95), 4)  # -ln(0.05)
    2.9957
    >>> round(poisson_upper_limit(0.9, background=3.0), 3)
    3.681
    """
    if not (isinstance(cl, int | float) and 0.0 < cl < 1.0):
        raise PhysicsInputError(f"confidence level must be in (0, 1), got {cl!r}")
    b = np.asarray(background, dtype=float)
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise PhysicsInputError(f"expected background must be finite and >= 0, got {background!r}")
    n = b if observed is None else np.asarray(observed, dtype=float)
    if np.any(n < 0):
        raise PhysicsInputError(f"observed count must be >= 0, got {observed!r}")
    s_up = special.gammaincinv(n + 1.0, cl) - b
    if np.any(s_up <= 0):
        raise PhysicsInputError(
            f"no positive upper limit for CL={cl}, background={background!r}, observed={observed!r}"
        )
    return float(s_up) if s_up.ndim == 0 else s_up


def _resolve_n_up(n_up, cl, background):
    if n_up is not None:
        if background != 0.0 or cl != 0.9:
            raise PhysicsInputError("give either n_up or cl/background, not both")
        arr = np.asarray(n_up, dtype=float)
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise PhysicsInputError(f"n_up must be finite and > 0, got {n_up!r}")
        return n_up
    return poisson_upper_limit(cl, background)


# --------------------------------------------------------------------------------------------
# Selecting from the cube and resolving overrides


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


# --------------------------------------------------------------------------------------------
# The x integral


def _edges(cube: xr.Dataset) -> np.ndarray:
    edges = np.asarray(cube["x_edge"].values, dtype=float)
    if edges.ndim != 1 or edges.size != cube.sizes["x"] + 1 or np.any(np.diff(edges) <= 0):
        raise StoreError("cube x_edge must be nbins+1 increasing bin edges")
    return edges


def _check_cut(x_lo: xr.DataArray, x_hi: xr.DataArray, edges: np.ndarray) -> None:
    """x_min within [first edge, last edge), x_max within (x_min, last edge] (computed, small)."""
    lo_all, hi_all = xr.broadcast(x_lo, x_hi)
    lo_v = np.asarray(lo_all.values, dtype=float)
    hi_v = np.asarray(hi_all.values, dtype=float)
    tol = 1e-9 * (edges[-1] - edges[0])

    def where(bad):
        if "experiment" not in lo_all.dims:
            return ""
        idx = np.argwhere(bad)[0][lo_all.dims.index("experiment")]
        return f" (experiment {str(lo_all['experiment'].values[idx])!r})"

    bad = ~np.isfinite(lo_v) | (lo_v < edges[0] - tol) | (lo_v >= edges[-1] - tol)
    if np.any(bad):
        raise PhysicsInputError(
            f"x_min {lo_v[bad].flat[0]:g} is outside the stored bins "
            f"[{edges[0]:g}, {edges[-1]:g}){where(bad)}"
        )
    bad = ~np.isfinite(hi_v) | (hi_v > edges[-1] + tol)
    if np.any(bad):
        raise PhysicsInputError(
            f"x_max {hi_v[bad].flat[0]:g} is outside the stored bins "
            f"[{edges[0]:g}, {edges[-1]:g}]{where(bad)}"
        )
    bad = hi_v <= lo_v
    if np.any(bad):
        raise PhysicsInputError(
            f"x_min {lo_v[bad].flat[0]:g} must be below x_max {hi_v[bad].flat[0]:g}{where(bad)}"
        )


def _stencil(i: int, n: int) -> list[int]:
    """The bins whose averages fix the quadratic model of bin i: i and its neighbours."""
    if n >= 3:
        first = min(max(i - 1, 0), n - 3)
        return [first, first + 1, first + 2]
    return list(range(n))


def _partial_weights(edges: np.ndarray, i: int, a: float, b: float) -> np.ndarray:
    """Weights w with Integral_a^b dsigma/dx dx = sum_j w_j dsigma_dx[j] for [a, b] inside bin i,
    dsigma/dx modelled as the polynomial (degree = stencil size - 1) whose averages over the
    stencil bins equal the stored averages."""
    n = edges.size - 1
    stencil = _stencil(i, n)
    c = 0.5 * (edges[i] + edges[i + 1])
    k = np.arange(len(stencil))
    lo, hi = edges[stencil] - c, edges[np.array(stencil) + 1] - c
    # A[j, k]: average of (x - c)^k over stencil bin j; m[k]: integral of (x - c)^k over [a, b]
    A = (hi[:, None] ** (k + 1) - lo[:, None] ** (k + 1)) / ((k + 1) * (hi - lo)[:, None])
    m = ((b - c) ** (k + 1) - (a - c) ** (k + 1)) / (k + 1)
    w = np.zeros(n)
    w[stencil] = np.linalg.solve(A.T, m)
    return w


def _cut_weights(edges: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Rows (full, partial 1, partial 2, bin 1 indicator, bin 2 indicator) of weights over x for
    the cut [lo, hi]; partial rows are empty when the cut falls on bin edges."""
    n = edges.size - 1
    width = np.diff(edges)
    a = np.clip(lo, edges[:-1], edges[1:])
    b = np.clip(hi, edges[:-1], edges[1:])
    length = np.maximum(b - a, 0.0)
    tol = 1e-12 * width
    full = length >= width - tol
    out = np.zeros((5, n))
    out[0] = np.where(full, width, 0.0)
    partial = np.flatnonzero((length > tol) & ~full)
    for row, i in enumerate(partial[:2]):
        out[1 + row] = _partial_weights(edges, i, a[i], b[i])
        out[3 + row, i] = 1.0
    return out


def integrate_x(
    dsigma_dx: xr.DataArray,
    dsigma_dx_err: xr.DataArray | None,
    edges: np.ndarray,
    x_lo,
    x_hi,
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """Integral of binned dsigma/dx over [x_lo, x_hi] and its error (rule in the module docstring).

    `dsigma_dx` holds bin averages along `x` for the bins given by `edges`; x_lo and x_hi are
    scalars or DataArrays (any dims, broadcast). Lazy if `dsigma_dx` is: the cut enters only
    through small in-memory weight arrays. The caller validates the cut.

    >>> f = xr.DataArray([0.5, 1.5, 2.5, 3.5], dims="x")  # bin averages of dsigma/dx = 4 x
    >>> round(float(integrate_x(f, None, np.linspace(0, 1, 5), 0.3, 1.0)[0]), 12)  # 2 (1 - 0.09)
    1.82
    """
    edges = np.asarray(edges, dtype=float)
    lo_da = x_lo if isinstance(x_lo, xr.DataArray) else xr.DataArray(float(x_lo))
    hi_da = x_hi if isinstance(x_hi, xr.DataArray) else xr.DataArray(float(x_hi))
    lo_b, hi_b = xr.broadcast(lo_da, hi_da)
    lo_v = np.asarray(lo_b.values, dtype=float)
    hi_v = np.asarray(hi_b.values, dtype=float)
    rows = np.stack(
        [_cut_weights(edges, lo, hi) for lo, hi in zip(lo_v.ravel(), hi_v.ravel(), strict=True)]
    ).reshape(lo_v.shape + (5, edges.size - 1))
    coords = {d: lo_b[d] for d in lo_b.dims if d in lo_b.coords}

    def weight(row):
        return xr.DataArray(rows[..., row, :], dims=(*lo_b.dims, "x"), coords=coords)

    weights = [weight(r) for r in range(5)]
    f = dsigma_dx.drop_vars("x", errors="ignore")
    e = xr.zeros_like(f) if dsigma_dx_err is None else dsigma_dx_err.drop_vars("x", errors="ignore")
    integral, error = xr.apply_ufunc(
        _integrate_bins,
        f,
        e,
        *weights,
        kwargs={"width": np.diff(edges)},
        input_core_dims=[["x"]] * 7,
        output_core_dims=[[], []],
        dask="parallelized",
        output_dtypes=[float, float],
    )
    return integral, (None if dsigma_dx_err is None else error)


def _integrate_bins(f, e, w_full, w_p1, w_p2, ind1, ind2, *, width):
    """numpy core of `integrate_x` over the last axis (x): the weighted sums, partial-bin
    clipping and error, in one pass per cube chunk."""

    def dot(w):  # sum_j w_j f_j over the bins where w != 0 (NaN elsewhere is harmless)
        return np.where(w != 0, f * w, 0.0).sum(axis=-1)

    def clipped_partial(w, indicator):  # 0 <= partial integral <= the whole bin's integral
        whole = np.maximum(dot(indicator * width), 0.0)
        return np.minimum(np.maximum(dot(w), 0.0), whole)

    integral = dot(w_full) + clipped_partial(w_p1, ind1) + clipped_partial(w_p2, ind2)
    w_all = w_full + w_p1 + w_p2
    error = np.sqrt(np.where(w_all != 0, (e * w_all) ** 2, 0.0).sum(axis=-1))
    return integral, error


# --------------------------------------------------------------------------------------------
# Masking


def masked_points(status: xr.DataArray) -> list[str]:
    """Descriptions ("na64mu E=160 GeV m=0.05 GeV (failed)") of the points of a status array that
    are neither converged nor below threshold (computes the status: a small int8 array)."""
    values = np.asarray(status.values)
    bad = (values != STATUS_CONVERGED) & (values != STATUS_BELOW_THRESHOLD)
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
        labels.append(f"({STATUS_NAMES.get(code, f'status {code}')})")
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
        f"{len(points)} cube point(s) not converged, their limits are masked (NaN): {shown}{more}",
        MaskedPointsWarning,
        stacklevel=3,
    )


# --------------------------------------------------------------------------------------------
# Mesons per experiment


def _configured_mesons(name: str) -> tuple[Meson, ...] | None:
    """The mesons of experiment `name` from its config (mcpdask.experiments), None if unavailable."""
    try:
        from mcpdask.experiments import load_experiment
    except ImportError:
        return None
    try:
        exp = load_experiment(name)
    except McpdaskError:  # no such config: fall back to the built-in defaults
        return None
    specs = getattr(exp, "mesons", None)
    if specs is None:
        return None
    return as_mesons(
        specs,
        reference_lot=getattr(exp, "leptons_on_target", None),
        reference_thickness_x0=getattr(exp, "thickness_x0", None),
    )


def _resolve_mesons(mesons, names: list[str], sub: xr.Dataset) -> dict[str, tuple[Meson, ...]]:
    """{experiment: mesons}. None: config, then built-in defaults; a mapping {experiment: specs};
    a list of specs: for the one selected experiment. Dict specs without a reference exposure refer
    to the cube's nominal leptons_on_target and thickness of that experiment."""

    def nominal(name):
        one = sub.sel(experiment=name)
        lot = float(one["leptons_on_target"].values)
        x0 = float(one["thickness_cm"].values) / float(one["target_X0"].values)
        return {"reference_lot": lot, "reference_thickness_x0": x0}

    if mesons is None:
        out = {}
        for name in names:
            configured = _configured_mesons(name)
            if configured is None:
                configured = DEFAULT_MESONS_BY_EXPERIMENT.get(name.lower(), ())
            out[name] = configured
        return out
    if isinstance(mesons, Mapping):
        unknown = [k for k in mesons if k not in names]
        if unknown:
            raise PhysicsInputError(
                f"mesons given for unknown experiment {unknown[0]!r}; selected are {names}"
            )
        return {n: as_mesons(mesons.get(n, ()), **nominal(n)) for n in names}
    specs = list(mesons)
    if specs and len(names) != 1:
        raise PhysicsInputError(
            f"mesons given as a list but {len(names)} experiments are selected; "
            "pass a mapping {experiment: [mesons]}"
        )
    return {n: as_mesons(specs, **nominal(n)) for n in names}


# --------------------------------------------------------------------------------------------
# Yields


def _parse_channels(channels, meson_names: list[str]) -> list[str]:
    everything = [CHANNEL_BREM, *meson_names, CHANNEL_MESON, CHANNEL_COMBINED]
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


def _exposure(leptons_on_target, exposure):
    """`exposure` is an alias of `leptons_on_target` (mcpdask.limits(cube, exposure=...))."""
    if exposure is None:
        return leptons_on_target
    if leptons_on_target is not None:
        raise PhysicsInputError("give either leptons_on_target or its alias exposure, not both")
    return exposure


def _yields_eps1(
    cube: xr.Dataset,
    *,
    experiment,
    energy,
    leptons_on_target,
    x_min,
    x_max,
    thickness_cm,
    efficiency,
    channels,
    mesons,
) -> xr.Dataset:
    _check_cube(cube)
    # the per-experiment coordinates are tiny: read them once (xarray.open_zarr leaves them lazy)
    small = [c for c in cube.coords if c not in cube.indexes and cube[c].dims == ("experiment",)]
    cube = cube.assign_coords({c: cube[c].load() for c in small})
    names = _experiment_names(cube, experiment)
    edges = _edges(cube)
    sub = _select(cube, names, energy)

    lot = _per_experiment(
        leptons_on_target, _along(sub, "leptons_on_target"), "leptons_on_target", "exposure"
    )
    thick = _per_experiment(thickness_cm, _along(sub, "thickness_cm"), "thickness_cm", "thickness")
    x_lo = _per_experiment(x_min, _along(sub, "x_min"), "x_min", "x_cut")
    x_hi = _per_experiment(x_max, _along(sub, "x_max"), "x_max", "x_cut_max")
    eff_default = _along(sub, "efficiency") if "efficiency" in sub.coords else xr.DataArray(1.0)
    eff = _per_experiment(efficiency, eff_default, "efficiency", "efficiency")
    _check_positive(lot, "leptons_on_target (exposure)")
    _check_positive(thick, "target thickness_cm")
    _check_positive(eff, "efficiency", upper=1.0)
    # a stored x_max a hair beyond the last edge (rounding) is the last edge
    if x_max is None:
        x_hi = xr.where(np.abs(x_hi - edges[-1]) <= 1e-9 * (edges[-1] - edges[0]), edges[-1], x_hi)
    _check_cut(x_lo, x_hi, edges)

    mesons_by_exp = _resolve_mesons(mesons, names, sub)
    meson_names: list[str] = []
    for ms in mesons_by_exp.values():
        meson_names += [m.name for m in ms if m.name not in meson_names]
    chans = _parse_channels(channels, meson_names)

    # masking: the status array is small and read once, here
    status = sub["status"].copy(data=np.asarray(sub["status"].values))
    points = masked_points(status)
    ok = status == STATUS_CONVERGED
    closed = status == STATUS_BELOW_THRESHOLD

    mass = sub["mass"]
    n_target = _along(sub, "target_density") * AVOGADRO / _along(sub, "target_A")  # per cm^3
    factor = lot * n_target * thick * eff * PB_TO_CM2

    results: dict[str, tuple[xr.DataArray, xr.DataArray]] = {}
    need_brem = any(c in (CHANNEL_BREM, CHANNEL_COMBINED) for c in chans)
    if need_brem:
        energy_gev = sub["energy"]
        below_pair = xr.DataArray(edges[1:], dims="x") * energy_gev <= 2.0 * mass
        f = xr.where(below_pair, 0.0, sub["dsigma_dx"])
        f_err = xr.where(below_pair, 0.0, sub["dsigma_dx_err"])
        integral, integral_err = integrate_x(f, f_err, edges, x_lo, x_hi)
        if integral.chunks is not None:  # one number per cube chunk: gather them into one block
            integral = integral.chunk(dict.fromkeys(integral.dims, -1))
            integral_err = integral_err.chunk(dict.fromkeys(integral_err.dims, -1))
        n_brem = xr.where(ok, factor * integral, np.nan)
        n_brem = xr.where(closed, 0.0, n_brem)
        n_brem_err = xr.where(ok, factor * integral_err, np.nan)
        n_brem_err = xr.where(closed, 0.0, n_brem_err)
        results[CHANNEL_BREM] = (n_brem, n_brem_err)

    # mesons: N_V at the nominal energy only
    thick_x0 = thick / _along(sub, "target_X0")
    at_nominal = xr.DataArray(1.0)
    if "energy" in sub.dims:
        nominal_e = _along(sub, "nominal_energy")
        at_nominal = xr.where(abs(sub["energy"] - nominal_e) <= 1e-6 * nominal_e, 1.0, np.nan)
    per_meson: dict[str, xr.DataArray] = {}
    for mname in meson_names:
        parts = []
        for name in names:
            spec = {m.name: m for m in mesons_by_exp[name]}.get(mname)
            sel = {"experiment": name}
            if spec is None:
                n_sig = xr.zeros_like(mass, dtype=float)
            else:
                n_v = meson_yield(
                    spec,
                    lot.sel(sel) if "experiment" in lot.dims else lot,
                    thick_x0.sel(sel) if "experiment" in thick_x0.dims else thick_x0,
                )
                e = eff.sel(sel) if "experiment" in eff.dims else eff
                nominal_only = at_nominal.sel(sel) if "experiment" in at_nominal.dims else 1.0
                n_sig = n_v * e * branching_ratio_chichi_per_eps2(mass, spec) * nominal_only
            parts.append(
                n_sig.drop_vars("experiment", errors="ignore").expand_dims(experiment=[name])
            )
        n_meson = xr.concat(parts, dim="experiment", coords="minimal", compat="override")
        per_meson[mname] = n_meson
        results[mname] = (n_meson, xr.zeros_like(n_meson))
    if meson_names:
        total = sum(per_meson.values())
    else:
        total = xr.zeros_like(mass, dtype=float)
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
    if need_brem:
        _warn_masked(points)
    return ds


def signal_yield(
    cube: xr.Dataset,
    *,
    eps=1.0,
    experiment=None,
    energy=None,
    leptons_on_target=None,
    exposure=None,
    x_min=None,
    x_max=None,
    thickness_cm=None,
    efficiency=None,
    channels="all",
    mesons=None,
) -> xr.Dataset:
    """Signal yields N_sig (paper Eq. 4 and the meson channel) as a lazy Dataset with `n_signal`
    and `n_signal_err`, dims (experiment, [energy], mass, channel, [exposure, ...]).

    Overrides (`leptons_on_target` or its alias `exposure`, `x_min`, `x_max`, `thickness_cm`,
    `efficiency`; None: the cube's per-experiment values, efficiency 1 if the cube has none) are
    scalars, {experiment: value} mappings, 1-D sequences (a new dimension: "exposure", "x_cut",
    "thickness", ...) or DataArrays (broadcast lazily). energy None: each experiment's nominal
    beam energy; a number; or "all" (keep the energy dimension).
    """
    ds = _yields_eps1(
        cube,
        experiment=experiment,
        energy=energy,
        leptons_on_target=_exposure(leptons_on_target, exposure),
        x_min=x_min,
        x_max=x_max,
        thickness_cm=thickness_cm,
        efficiency=efficiency,
        channels=channels,
        mesons=mesons,
    )
    eps2 = eps**2
    out = ds * eps2
    for v in ds.data_vars:
        out[v].attrs = dict(ds[v].attrs)
    out["n_signal"].attrs["long_name"] = "signal events"
    return out


def limits_dataset(
    cube: xr.Dataset,
    *,
    experiment=None,
    energy=None,
    leptons_on_target=None,
    exposure=None,
    x_min=None,
    x_max=None,
    thickness_cm=None,
    efficiency=None,
    n_up=None,
    cl: float = 0.9,
    background=0.0,
    channels="all",
    mesons=None,
) -> xr.Dataset:
    """Like `eps_limits`, as a lazy Dataset: eps_limit, eps_limit_err (statistical, from
    dsigma_dx_err: d eps / eps = d N / 2N), n_signal_eps1, n_signal_eps1_err."""
    n_up_value = _resolve_n_up(n_up, cl, background)
    ds = _yields_eps1(
        cube,
        experiment=experiment,
        energy=energy,
        leptons_on_target=_exposure(leptons_on_target, exposure),
        x_min=x_min,
        x_max=x_max,
        thickness_cm=thickness_cm,
        efficiency=efficiency,
        channels=channels,
        mesons=mesons,
    )
    n1 = ds["n_signal"]
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = np.sqrt(n_up_value / n1)
        limit_err = xr.where(n1 > 0, 0.5 * limit * ds["n_signal_err"] / n1, 0.0)
    attrs = {
        "long_name": "upper limit on the millicharge eps (units of e)",
        "units": "1",
        "n_up": float(n_up_value) if np.ndim(n_up_value) == 0 else "array",
        "cl": cl if n_up is None else "n_up given",
        "background": float(background) if np.ndim(background) == 0 else "array",
        "limit_rule": "eps_lim = sqrt(N_up / N_sig(eps=1)); N_up: classical Poisson upper limit, "
        "observed = expected background; NaN masked, inf no sensitivity",
    }
    limit = limit.rename("eps_limit").assign_attrs(attrs)
    return xr.Dataset(
        {
            "eps_limit": limit,
            "eps_limit_err": limit_err.assign_attrs(
                long_name="statistical error of eps_limit", units="1"
            ),
            "n_signal_eps1": n1,
            "n_signal_eps1_err": ds["n_signal_err"],
        }
    )


def eps_limits(
    cube: xr.Dataset,
    *,
    experiment=None,
    leptons_on_target=None,
    exposure=None,
    x_min=None,
    thickness_cm=None,
    efficiency=None,
    n_up=None,
    cl: float = 0.9,
    background=0.0,
    channels="all",
    mesons=None,
    energy=None,
    x_max=None,
) -> xr.DataArray:
    """Epsilon limits eps_lim(m_chi) = sqrt(N_up / N_sig(eps = 1)) as a lazy DataArray with dims
    (experiment, [energy], mass, channel, [exposure, ...]); nothing is integrated or computed.

    n_up: the signal upper limit (default: Poisson, CL `cl`, expected `background`; 2.3026 for
    0.9 and 0). channels: "all", or a comma-separated string / list of "brem", "meson",
    "combined" and meson names ("rho", "omega", "phi", "jpsi"). mesons: None for the configured
    inputs (LDMX: PHYSICS.md 5 estimates), a list of Meson/dicts for a single selected
    experiment, or {experiment: [...]}. See `signal_yield` for the other arguments. Masked points
    (not converged) are NaN and named in a MaskedPointsWarning; +inf means zero signal.

    >>> import mcpdask.reach as r
    >>> cube = r._example_cube()
    >>> lim = r.eps_limits(cube, leptons_on_target=[1e12, 1e13], channels="brem")
    >>> lim.dims
    ('experiment', 'mass', 'channel', 'exposure')
    >>> ratio = lim.sel(exposure=1e12) / lim.sel(exposure=1e13)  # eps_lim ~ LOT^-1/2
    >>> np.round(ratio.values.ravel(), 6).tolist()
    [3.162278, 3.162278]
    """
    return limits_dataset(
        cube,
        experiment=experiment,
        energy=energy,
        leptons_on_target=_exposure(leptons_on_target, exposure),
        x_min=x_min,
        x_max=x_max,
        thickness_cm=thickness_cm,
        efficiency=efficiency,
        n_up=n_up,
        cl=cl,
        background=background,
        channels=channels,
        mesons=mesons,
    )["eps_limit"]


def _example_cube() -> xr.Dataset:
    """A tiny in-memory cube with the stored schema (one experiment, constant dsigma/dx = 1 pb)."""
    edges = np.linspace(0.0, 1.0, 11)
    mass = np.array([0.01, 0.1])
    shape = (1, 1, mass.size, edges.size - 1)
    return xr.Dataset(
        {
            "dsigma_dx": (("experiment", "energy", "mass", "x"), np.ones(shape)),
            "dsigma_dx_err": (("experiment", "energy", "mass", "x"), np.full(shape, 0.01)),
            "status": (("experiment", "energy", "mass"), np.ones(shape[:3], dtype=np.int8)),
        },
        coords={
            "experiment": ["na64mu"],
            "energy": [160.0],
            "mass": mass,
            "x": 0.5 * (edges[1:] + edges[:-1]),
            "x_edge": edges,
            "lepton": ("experiment", ["mu"]),
            "target": ("experiment", ["Pb"]),
            "target_Z": ("experiment", [82.0]),
            "target_A": ("experiment", [207.2]),
            "target_density": ("experiment", [11.35]),
            "target_X0": ("experiment", [0.5612]),
            "thickness_cm": ("experiment", [40 * 0.5612]),
            "leptons_on_target": ("experiment", [1e14]),
            "x_min": ("experiment", [0.5]),
            "x_max": ("experiment", [1.0]),
            "nominal_energy": ("experiment", [160.0]),
        },
    )


# --------------------------------------------------------------------------------------------
# Where a limit curve beats existing bounds (curves read by mcpdask.references)


@dataclass(frozen=True)
class ReachWindow:
    """A mass window where a limit curve lies below the reference: new ground for
    mass_min_gev < m < mass_max_gev and eps_min <= eps < reference boundary (up to eps_max;
    inf where no reference bound covers the mass)."""

    mass_min_gev: float
    mass_max_gev: float
    eps_min: float
    eps_max: float
    references: tuple[str, ...]
    open_below: bool = False
    """The window starts at the lowest scanned mass (it may extend further down)."""
    open_above: bool = False
    """The window ends at the highest scanned mass (it may extend further up)."""

    def describe(self, label: str) -> str:
        text = (
            f"{label} probes new ground for {_fmt_mass(self.mass_min_gev)} < m < "
            f"{_fmt_mass(self.mass_max_gev)}, eps down to {_fmt_eps(self.eps_min)}"
        )
        edges = [
            s for s, flag in (("lowest", self.open_below), ("highest", self.open_above)) if flag
        ]
        if edges:
            text += f" (window reaches the {' and '.join(edges)} scanned mass)"
        return text


def _fmt_eps(eps: float) -> str:
    """1.2e-4 style (two significant figures, short exponent)."""
    if not math.isfinite(eps) or eps <= 0:
        return str(eps)
    exponent = math.floor(math.log10(eps))
    mantissa = round(eps / 10**exponent, 1)
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.1f}e{exponent}"


def _fmt_mass(m_gev: float) -> str:
    if m_gev < 1.0:
        return f"{m_gev * 1e3:.3g} MeV"
    return f"{m_gev:.3g} GeV"


def _existing_bound(references: Sequence[ReferenceCurve], mass) -> np.ndarray:
    m = np.atleast_1d(np.asarray(mass, dtype=float))
    out = np.full(m.shape, np.inf)
    for ref in references:
        out = np.minimum(out, ref.lower_boundary(m))
    return out


def reach_window(limit_curve, reference) -> list[ReachWindow]:
    """Mass windows where `limit_curve` (eps_lim versus mass: a 1-D DataArray along `mass`, or a
    pair (mass, eps)) lies below the reference exclusion (a ReferenceCurve, a CSV path or
    directory, or a list of those: their union, i.e. the lowest boundary at each mass).

    Between mass-grid points the limit is interpolated in log-log and the window edges are located
    by bisection, so they are not tied to the grid. NaN or inf limit points break windows.

    >>> ref = ReferenceCurve("toy", np.array([0.01, 1.0]), np.array([1e-3, 1e-3]))
    >>> lim = xr.DataArray([2e-3, 5e-4, 2e-3], coords={"mass": [0.01, 0.1, 1.0]})
    >>> [round(w.mass_min_gev, 4) for w in reach_window(lim, ref)]
    [0.0316]
    """
    if isinstance(reference, ReferenceCurve):
        refs = [reference]
    elif isinstance(reference, str | Path):
        refs = read_reference_curves(reference, require_source=False)
    else:
        refs = [r if isinstance(r, ReferenceCurve) else None for r in reference]
        if any(r is None for r in refs):
            refs = read_reference_curves(
                [r for r in reference if not isinstance(r, ReferenceCurve)], require_source=False
            )
            refs += [r for r in reference if isinstance(r, ReferenceCurve)]
    if isinstance(limit_curve, xr.DataArray):
        extra = [d for d in limit_curve.dims if d != "mass"]
        if extra:
            raise PhysicsInputError(f"limit curve must be 1-D along mass, has extra dims {extra}")
        mass = np.asarray(limit_curve["mass"].values, dtype=float)
        eps = np.asarray(limit_curve.values, dtype=float)
    else:
        mass, eps = (np.asarray(a, dtype=float) for a in limit_curve)
    order = np.argsort(mass)
    mass, eps = mass[order], eps[order]
    good = np.isfinite(eps) & (eps > 0)
    bound = _existing_bound(refs, mass)
    beats = good & (eps < bound)
    names = tuple(r.name for r in refs)

    def log_lim(m):
        return np.interp(np.log(m), np.log(mass[good]), np.log(eps[good]))

    def beats_at(m):
        return bool(np.exp(log_lim(m)) < _existing_bound(refs, m)[0])

    def edge(m_out, m_in):
        """Bisect (in log m) between a point outside the window and one inside."""
        lo, hi = math.log(m_out), math.log(m_in)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if beats_at(math.exp(mid)):
                hi = mid
            else:
                lo = mid
        return math.exp(0.5 * (lo + hi))

    windows = []
    j = 0
    n = mass.size
    while j < n:
        if not beats[j]:
            j += 1
            continue
        k = j
        while k + 1 < n and beats[k + 1]:
            k += 1
        m_lo = edge(mass[j - 1], mass[j]) if j > 0 and good[j - 1] else mass[j]
        m_hi = edge(mass[k + 1], mass[k]) if k + 1 < n and good[k + 1] else mass[k]
        grid = np.exp(np.linspace(math.log(m_lo), math.log(m_hi), 200)) if m_hi > m_lo else [m_lo]
        grid = np.unique(np.r_[grid, mass[j : k + 1]])
        lim = np.exp(log_lim(grid))
        ref = _existing_bound(refs, grid)
        windows.append(
            ReachWindow(
                float(m_lo),
                float(m_hi),
                float(lim.min()),
                float(ref.max()),
                names,
                open_below=j == 0,
                open_above=k == n - 1,
            )
        )
        j = k + 1
    return windows
