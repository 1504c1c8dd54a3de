"""Which stored points a derivation may use, and the list of those it may not."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from mcpdask.cube.schema import Status
from mcpdask.errors import MaskedPointsWarning, PhysicsInputError

__all__ = ["masked_points", "precision_tolerance_of", "usable_points", "warn_masked"]


_MAX_NAMED_POINTS = 12


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


def warn_masked(points: list[str]) -> None:
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


def precision_tolerance_of(cube: xr.Dataset, precision_tolerance: float | None) -> float:
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
    tolerance = precision_tolerance_of(sub, precision_tolerance)
    sigma = np.asarray(sub["sigma"].values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.asarray(sub["sigma_err"].values, dtype=float) / sigma
    near = (np.asarray(status.values) == Status.BUDGET_EXHAUSTED) & (sigma > 0) & (rel <= tolerance)
    return (status == Status.CONVERGED) | status.copy(data=near)
