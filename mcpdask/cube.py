"""The cross-section cube: schema, creation, extension, validation and provenance of the Zarr store.

One xarray Dataset on Zarr with dims experiment, energy (GeV), mass (m_chi, GeV), x (bin centres of
the missing-energy fraction) and x_edge (the nbins + 1 bin edges). Each (experiment, energy, mass)
point is its own Zarr chunk, so a finished point is written on its own and a crash loses only the
points in flight. New masses, energies or experiments are appended; `open_cube` returns the cube
sorted by energy and mass, lazily (dask-backed).

Status codes (variable `status`, int8): 0 missing, 1 converged, 2 budget_exhausted, 3 failed,
4 below_threshold. A readable reason for failed points is kept in the store attribute
`point_notes` (a mapping "experiment|energy|mass" -> text).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mcpdask.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from mcpdask.experiments import Experiment, ScanSpec

SCHEMA_VERSION = 1
MARKER_ATTR = "mcpdask_cube"
MARKER_VALUE = "mcpdask cross-section cube"
SCHEMA_ATTR = "mcpdask_schema_version"

MISSING, CONVERGED, BUDGET_EXHAUSTED, FAILED, BELOW_THRESHOLD = 0, 1, 2, 3, 4
STATUS_NAMES = {
    MISSING: "missing",
    CONVERGED: "converged",
    BUDGET_EXHAUSTED: "budget_exhausted",
    FAILED: "failed",
    BELOW_THRESHOLD: "below_threshold",
}
STATUS_CODES = {name: code for code, name in STATUS_NAMES.items()}
DONE_STATUSES = (CONVERGED, BUDGET_EXHAUSTED, FAILED, BELOW_THRESHOLD)

POINT_DIMS = ("experiment", "energy", "mass")
SPECTRUM_DIMS = (*POINT_DIMS, "x")

# name -> (dims, dtype, fill, units, long_name)
DATA_VARS: dict[str, tuple[tuple[str, ...], str, Any, str, str]] = {
    "dsigma_dx": (
        SPECTRUM_DIMS, "float64", np.nan, "pb",
        "d sigma / d x at eps = 1, averaged over the x bin",
    ),
    "dsigma_dx_err": (
        SPECTRUM_DIMS, "float64", np.nan, "pb",
        "VEGAS standard error of d sigma / d x in the x bin",
    ),
    "sigma": (
        POINT_DIMS, "float64", np.nan, "pb",
        "cross section at eps = 1 over the experiment's cut x_min < x < x_max",
    ),
    "sigma_err": (
        POINT_DIMS, "float64", np.nan, "pb", "VEGAS standard error of sigma",
    ),
    "chi2_dof": (
        POINT_DIMS, "float64", np.nan, "1", "VEGAS chi^2 per degree of freedom of the iterations",
    ),
    "Q": (POINT_DIMS, "float64", np.nan, "1", "VEGAS Q value (p-value of chi2_dof)"),
    "n_eval": (POINT_DIMS, "int64", 0, "1", "number of integrand evaluations"),
    "wall_s": (POINT_DIMS, "float64", np.nan, "s", "wall time of the point on its worker"),
    "status": (
        POINT_DIMS, "int8", MISSING, "1",
        "point status: 0 missing, 1 converged, 2 budget_exhausted, 3 failed, 4 below_threshold",
    ),
}

# coordinate along experiment -> (Experiment attribute or callable, dtype, units, long_name)
EXPERIMENT_COORDS: dict[str, tuple[Any, str, str, str]] = {
    "lepton": (lambda e: e.lepton, "str", "", "beam lepton (e or mu)"),
    "target": (lambda e: e.target.name, "str", "", "target material"),
    "target_Z": (lambda e: e.target.Z, "float64", "1", "target atomic number Z"),
    "target_A": (lambda e: e.target.A, "float64", "g/mol", "target atomic weight A"),
    "target_density": (
        lambda e: e.target.density_g_cm3, "float64", "g/cm3", "target density rho_T",
    ),
    "target_X0": (
        lambda e: e.target.radiation_length_cm, "float64", "cm", "target radiation length X0",
    ),
    "thickness_cm": (lambda e: e.thickness_cm, "float64", "cm", "effective target thickness L_T"),
    "leptons_on_target": (lambda e: e.leptons_on_target, "float64", "1", "leptons on target"),
    "x_min": (lambda e: e.x_min, "float64", "1", "lower missing-energy-fraction cut"),
    "x_max": (lambda e: e.x_max, "float64", "1", "upper missing-energy-fraction cut"),
    "nominal_energy": (lambda e: e.energy_gev, "float64", "GeV", "nominal beam energy E0"),
    "efficiency": (lambda e: e.efficiency, "float64", "1", "signal efficiency"),
}

INDEX_COORD_ATTRS = {
    "experiment": ("", "experiment"),
    "energy": ("GeV", "beam energy E0"),
    "mass": ("GeV", "millicharged particle mass m_chi"),
    "x": ("1", "missing-energy fraction x = (E0 - E_recoil) / E0, bin centre"),
    "x_edge": ("1", "missing-energy fraction x, bin edges"),
}


# --------------------------------------------------------------------------------------------
# Provenance


def provenance_attrs(spec: ScanSpec) -> dict[str, Any]:
    """Attributes recording how a cube is made (JSON-able)."""
    import dask
    import scipy
    import vegas
    import xarray
    import zarr

    from mcpdask import __version__

    return {
        MARKER_ATTR: MARKER_VALUE,
        SCHEMA_ATTR: SCHEMA_VERSION,
        "title": f"mcpdask cross-section cube: {spec.name}",
        "description": spec.description,
        "mcpdask_version": __version__,
        "created": _now(),
        "process": spec.physics.process,
        "method": spec.physics.method,
        "inelastic": bool(spec.physics.inelastic),
        "vegas_precision": float(spec.vegas.precision),
        "vegas_max_evals": int(spec.vegas.max_evals),
        "scan_seed": int(spec.seed),
        "seed_derivation": (
            "per point: numpy SeedSequence([scan_seed, sha256('experiment|energy|mass')]) "
            "(mcpdask.scan.point_seed); independent of workers and completion order"
        ),
        "software": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "vegas": vegas.__version__,
            "dask": dask.__version__,
            "xarray": xarray.__version__,
            "zarr": zarr.__version__,
        },
        "history": [],
        "point_notes": {},
    }


PHYSICS_ATTRS = ("process", "method", "inelastic")
VEGAS_ATTRS = ("vegas_precision", "vegas_max_evals", "scan_seed")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def point_key(experiment: str, energy: float, mass: float) -> str:
    """Key of a point in `point_notes`."""
    return f"{experiment}|{float(energy)!r}|{float(mass)!r}"


# --------------------------------------------------------------------------------------------
# Building blocks


def _experiment_coords(experiments: Sequence[Experiment]) -> dict[str, tuple]:
    coords = {}
    for name, (get, dtype, units, long_name) in EXPERIMENT_COORDS.items():
        values = [get(e) for e in experiments]
        arr = np.array(values, dtype=object if dtype == "str" else dtype)
        coords[name] = ("experiment", arr, {"units": units, "long_name": long_name})
    return coords


def _block(
    experiments: Sequence[Experiment] | None,
    n_experiments: int,
    energies: np.ndarray | None,
    n_energies: int,
    masses: np.ndarray | None,
    n_masses: int,
    x_edges: np.ndarray | None,
    n_x: int,
) -> xr.Dataset:
    """A block of empty points (NaN, status 0); coordinates given are attached with attrs."""
    import xarray as xr

    shape = {"experiment": n_experiments, "energy": n_energies, "mass": n_masses, "x": n_x}
    data_vars = {}
    for name, (dims, dtype, fill, units, long_name) in DATA_VARS.items():
        attrs = {"units": units, "long_name": long_name}
        if name == "status":
            attrs["flag_values"] = list(STATUS_NAMES)
            attrs["flag_meanings"] = " ".join(STATUS_NAMES.values())
        data_vars[name] = (dims, np.full([shape[d] for d in dims], fill, dtype=dtype), attrs)
    coords: dict[str, Any] = {}
    if experiments is not None:
        names = np.array([e.name for e in experiments], dtype=object)
        coords["experiment"] = ("experiment", names, _attrs("experiment"))
        coords.update(_experiment_coords(experiments))
    if energies is not None:
        coords["energy"] = ("energy", np.asarray(energies, float), _attrs("energy"))
    if masses is not None:
        coords["mass"] = ("mass", np.asarray(masses, float), _attrs("mass"))
    if x_edges is not None:
        x_edges = np.asarray(x_edges, float)
        centres = 0.5 * (x_edges[1:] + x_edges[:-1])
        coords["x"] = ("x", centres, _attrs("x"))
        coords["x_edge"] = ("x_edge", x_edges, _attrs("x_edge"))
    return xr.Dataset(data_vars, coords=coords)


def _attrs(name: str) -> dict[str, str]:
    units, long_name = INDEX_COORD_ATTRS[name]
    return {"units": units, "long_name": long_name}


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    """One chunk per point: experiment=1, energy=1, mass=1, x=all."""
    enc = {}
    for name, (dims, *_rest) in DATA_VARS.items():
        enc[name] = {"chunks": tuple(ds.sizes[d] if d == "x" else 1 for d in dims)}
    return enc


def _write_kwargs() -> dict[str, Any]:
    return {"consolidated": False, "zarr_format": 3}


# --------------------------------------------------------------------------------------------
# Create, open, validate, extend


def create_cube(store: str | Path, spec: ScanSpec) -> None:
    """Write an empty cube (all points status 0) for the points of `spec` at `store`."""
    store = Path(store)
    if store.exists():
        raise StoreError(f"{store}: already exists; refusing to overwrite it")
    energies = sorted({e for es in spec.energies_gev.values() for e in es})
    ds = _block(
        spec.experiments, len(spec.experiments),
        np.array(energies), len(energies),
        spec.masses_gev, len(spec.masses_gev),
        spec.x_edges, len(spec.x_edges) - 1,
    )
    ds.attrs.update(provenance_attrs(spec))
    store.parent.mkdir(parents=True, exist_ok=True)
    ds.to_zarr(store, mode="w-", encoding=_encoding(ds), **_write_kwargs())


def _open_group(store: str | Path, mode: str = "r"):
    import zarr

    store = Path(store)
    if not store.exists():
        raise StoreError(f"{store}: no such store")
    if not store.is_dir():
        raise StoreError(f"{store}: is a file, not a Zarr store (a directory)")
    try:
        group = zarr.open_group(store, mode=mode)
    except Exception as exc:  # noqa: BLE001 - zarr raises several kinds for a non-store dir
        raise StoreError(f"{store}: not a Zarr store ({type(exc).__name__}: {exc})") from None
    return group


def read_store_attrs(store: str | Path) -> dict[str, Any]:
    """The store's attributes, after checking it is an mcpdask cube of a known schema."""
    group = _open_group(store)
    attrs = dict(group.attrs)
    check_marker(attrs, store)
    return attrs


def check_marker(attrs: Mapping[str, Any], store: str | Path) -> None:
    if attrs.get(MARKER_ATTR) != MARKER_VALUE:
        raise StoreError(
            f"{store}: a Zarr store but not an mcpdask cube (no {MARKER_ATTR!r} attribute); "
            "refusing to touch it"
        )
    version = attrs.get(SCHEMA_ATTR)
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{store}: mcpdask cube schema version {version!r}, this mcpdask reads "
            f"{SCHEMA_VERSION}"
        )


def _open_raw(store: str | Path) -> xr.Dataset:
    """The cube in store order (as appended), lazily, validated."""
    import xarray as xr

    attrs = read_store_attrs(store)
    try:
        ds = xr.open_zarr(store, consolidated=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure means a broken store
        raise StoreError(f"{store}: cannot be read as an xarray Dataset: {exc}") from None
    ds.attrs = attrs
    validate_cube(ds, store)
    return ds


def open_cube(store: str | Path) -> xr.Dataset:
    """The cube at `store` as a lazily loaded (dask-backed) Dataset sorted by energy and mass.

    Raises StoreError if the path is not an mcpdask cube of this schema version.
    """
    ds = _open_raw(store)
    # the per-experiment coordinates are tiny: hold them in memory, keep the data lazy
    ds = ds.assign_coords({name: ds[name].load() for name in EXPERIMENT_COORDS})
    for dim in ("energy", "mass"):
        values = ds[dim].values
        if values.size > 1 and np.any(np.diff(values) < 0):
            ds = ds.sortby(dim)
    return ds


def validate_cube(ds: xr.Dataset, store: str | Path = "cube") -> None:
    """Check the schema: marker, dims, variables with their dims, coordinates with units."""
    check_marker(ds.attrs, store)
    problems = []
    for dim in (*POINT_DIMS, "x", "x_edge"):
        if dim not in ds.dims:
            problems.append(f"missing dimension {dim!r}")
    for name, (dims, *_rest) in DATA_VARS.items():
        if name not in ds.data_vars:
            problems.append(f"missing variable {name!r}")
        elif ds[name].dims != dims:
            problems.append(f"variable {name!r} has dims {ds[name].dims}, expected {dims}")
    for name in (*INDEX_COORD_ATTRS, *EXPERIMENT_COORDS):
        if name not in ds.coords:
            problems.append(f"missing coordinate {name!r}")
    if not problems and ds.sizes["x_edge"] != ds.sizes["x"] + 1:
        problems.append("x_edge must have one more entry than x")
    for name in (*PHYSICS_ATTRS, *VEGAS_ATTRS):
        if name not in ds.attrs:
            problems.append(f"missing attribute {name!r}")
    if problems:
        raise StoreError(f"{store}: not a valid mcpdask cube: " + "; ".join(problems))


def compatibility_problems(ds: xr.Dataset, spec: ScanSpec) -> list[str]:
    """Why the points of `spec` may not go into the cube `ds` (empty list: they may)."""
    problems = []
    for name, value in (
        ("process", spec.physics.process),
        ("method", spec.physics.method),
        ("inelastic", bool(spec.physics.inelastic)),
    ):
        if ds.attrs.get(name) != value:
            problems.append(
                f"physics option {name}: store has {ds.attrs.get(name)!r}, scan has {value!r}"
            )
    for name, value in (
        ("vegas_precision", float(spec.vegas.precision)),
        ("vegas_max_evals", int(spec.vegas.max_evals)),
        ("scan_seed", int(spec.seed)),
    ):
        if ds.attrs.get(name) != value:
            problems.append(f"{name}: store has {ds.attrs.get(name)!r}, scan has {value!r}")
    edges = ds["x_edge"].values
    if edges.shape != spec.x_edges.shape or not np.allclose(edges, spec.x_edges, rtol=1e-12):
        problems.append(
            f"x bins: store has {edges.size - 1} bins on [{edges[0]}, {edges[-1]}], scan has "
            f"{spec.x_edges.size - 1} on [{spec.x_edges[0]}, {spec.x_edges[-1]}]"
        )
    stored = list(ds["experiment"].values)
    for exp in spec.experiments:
        if exp.name not in stored:
            continue
        i = stored.index(exp.name)
        for coord, (get, dtype, _units, _ln) in EXPERIMENT_COORDS.items():
            have, want = ds[coord].values[i], get(exp)
            have = have.item() if hasattr(have, "item") else str(have)
            same = (
                str(have) == str(want)
                if dtype == "str"
                else bool(np.isclose(float(have), float(want), rtol=1e-12, atol=0))
            )
            if not same:
                problems.append(
                    f"experiment {exp.name!r}: {coord} is {have!r} in the store, {want!r} in the "
                    "config (use a new store or a new experiment name)"
                )
    return problems


def check_compatible(ds: xr.Dataset, spec: ScanSpec, store: str | Path = "cube") -> None:
    """StoreError listing every difference between the cube's and the scan's options."""
    problems = compatibility_problems(ds, spec)
    if problems:
        raise StoreError(
            f"{store}: refusing to scan {spec.name!r} into this cube, it was made with other "
            "options (the store is left unchanged):\n  " + "\n  ".join(problems)
        )


def _match(stored: np.ndarray, value: float) -> int | None:
    hits = np.flatnonzero(np.isclose(stored, value, rtol=1e-9, atol=0))
    return int(hits[0]) if hits.size else None


def missing_coordinates(ds: xr.Dataset, spec: ScanSpec) -> dict[str, list]:
    """Experiments, energies and masses of `spec` that the cube does not have yet."""
    stored_exps = set(ds["experiment"].values.tolist())
    energies = sorted({e for es in spec.energies_gev.values() for e in es})
    return {
        "experiment": [e for e in spec.experiments if e.name not in stored_exps],
        "energy": [e for e in energies if _match(ds["energy"].values, e) is None],
        "mass": [m for m in spec.masses_gev if _match(ds["mass"].values, m) is None],
    }


def extend_cube(store: str | Path, spec: ScanSpec) -> dict[str, list]:
    """Append the experiments, energies and masses of `spec` that the cube lacks (empty points).

    Returns what was added. The caller checks compatibility first.
    """
    ds = _open_raw(store)
    check_compatible(ds, spec, store)
    new = missing_coordinates(ds, spec)
    attrs = dict(ds.attrs)
    n_exp, n_en, n_m, n_x = (ds.sizes[d] for d in SPECTRUM_DIMS)
    ds.close()
    added = {"experiment": [e.name for e in new["experiment"]], "energy": new["energy"],
             "mass": [float(m) for m in new["mass"]]}
    if new["mass"]:
        block = _block(None, n_exp, None, n_en, np.array(new["mass"]), len(new["mass"]), None, n_x)
        _append(store, block, "mass", attrs)
        n_m += len(new["mass"])
    if new["energy"]:
        block = _block(None, n_exp, np.array(new["energy"]), len(new["energy"]), None, n_m,
                       None, n_x)
        _append(store, block, "energy", attrs)
        n_en += len(new["energy"])
    if new["experiment"]:
        block = _block(new["experiment"], len(new["experiment"]), None, n_en, None, n_m, None, n_x)
        _append(store, block, "experiment", attrs)
    return added


def _append(store, block: xr.Dataset, dim: str, attrs: dict) -> None:
    block.attrs.update(attrs)
    block.to_zarr(store, mode="a", append_dim=dim, **_write_kwargs())


def add_history(store: str | Path, entry: Mapping[str, Any]) -> None:
    """Append an entry (scan name, config, time, points) to the store's `history` attribute."""
    group = _open_group(store, mode="r+")
    history = list(group.attrs.get("history", []))
    history.append({"time": _now(), **_jsonable(entry)})
    group.attrs["history"] = history


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


# --------------------------------------------------------------------------------------------
# Point writes


class PointWriter:
    """Writes finished points into their chunks of an existing cube (data first, status last)."""

    def __init__(self, store: str | Path):
        self.store = Path(store)
        self.group = _open_group(store, mode="r+")
        self.arrays = {name: self.group[name] for name in DATA_VARS}
        self.experiments = [str(v) for v in self.group["experiment"][:]]
        self.energies = np.asarray(self.group["energy"][:], dtype=float)
        self.masses = np.asarray(self.group["mass"][:], dtype=float)

    def index(self, experiment: str, energy: float, mass: float) -> tuple[int, int, int]:
        """Store position of a point (StoreError if the cube lacks it)."""
        ie = self.experiments.index(experiment) if experiment in self.experiments else None
        ien = _match(self.energies, energy)
        im = _match(self.masses, mass)
        if ie is None or ien is None or im is None:
            raise StoreError(f"{self.store}: no point ({experiment}, {energy}, {mass}) in the cube")
        return ie, ien, im

    def status(self) -> np.ndarray:
        """The status array in store order (experiment, energy, mass)."""
        return np.asarray(self.arrays["status"][:])

    def write(self, experiment: str, energy: float, mass: float, result: Mapping[str, Any]) -> None:
        """Write one point's result (keys as DATA_VARS, plus optional `reason`)."""
        idx = self.index(experiment, energy, mass)
        for name in DATA_VARS:
            if name == "status":
                continue
            if name in ("dsigma_dx", "dsigma_dx_err"):
                self.arrays[name][(*idx, slice(None))] = np.asarray(result[name], dtype=float)
            else:
                self.arrays[name][idx] = result[name]
        reason = result.get("reason")
        if reason:
            notes = dict(self.group.attrs.get("point_notes", {}))
            notes[point_key(experiment, energy, mass)] = str(reason)
            self.group.attrs["point_notes"] = notes
        self.arrays["status"][idx] = int(result["status"])


# --------------------------------------------------------------------------------------------
# Summary


def describe(store: str | Path) -> str:
    """A few readable lines on what the cube at `store` holds (used by `mcpdask info`)."""
    ds = open_cube(store)
    a = ds.attrs
    status = ds["status"].values
    sigma, sigma_err = ds["sigma"].values, ds["sigma_err"].values
    wall = ds["wall_s"].values
    lines = [
        (
            f"{store}: mcpdask cross-section cube (schema {a[SCHEMA_ATTR]}), made by mcpdask "
            f"{a.get('mcpdask_version')} on {a.get('created')}"
        ),
        (
            f"physics: process {a['process']}, method {a['method']}, inelastic {a['inelastic']}; "
            f"vegas precision {a['vegas_precision']}, max_evals {a['vegas_max_evals']}; "
            f"scan seed {a['scan_seed']}"
        ),
        "experiments:",
    ]
    for i, name in enumerate(ds["experiment"].values):
        e = ds.isel(experiment=i)
        done_energies = ds["energy"].values[(status[i] != MISSING).any(axis=1)]
        energies = ", ".join(f"{v:g}" for v in done_energies) or "none yet"
        lepton = {"e": "e-", "mu": "mu-"}.get(str(e["lepton"].values), str(e["lepton"].values))
        lines.append(
            f"  {name}: {lepton} {float(e['nominal_energy']):g} GeV on {e['target'].values} "
            f"({float(e['thickness_cm']):.4g} cm = "
            f"{float(e['thickness_cm']) / float(e['target_X0']):.3g} X0), "
            f"{float(e['leptons_on_target']):.3g} on target, "
            f"x in [{float(e['x_min']):g}, {float(e['x_max']):g}]; energies with points: "
            f"{energies} GeV"
        )
    masses = ds["mass"].values
    edges = ds["x_edge"].values
    lines.append(
        f"masses: {masses.size} from {masses.min():.4g} to {masses.max():.4g} GeV; "
        f"x: {edges.size - 1} bins on [{edges[0]:g}, {edges[-1]:g}]"
    )
    counts = {STATUS_NAMES[c]: int((status == c).sum()) for c in STATUS_NAMES if c != MISSING}
    done = sum(counts.values())
    lines.append(
        f"points: {done} done of {status.size} grid cells ("
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        + ("" if done else "none")
        + "); cells off an experiment's energies stay missing"
    )
    measured = (status == CONVERGED) | (status == BUDGET_EXHAUSTED)
    if measured.any():
        rel = np.where(measured & (sigma > 0), sigma_err / np.where(sigma > 0, sigma, 1), np.nan)
        worst = np.unravel_index(np.nanargmax(rel), rel.shape)
        lines.append(
            f"precision of sigma: worst {np.nanmax(rel):.2%} at ({ds['experiment'].values[worst[0]]}, "
            f"{ds['energy'].values[worst[1]]:g} GeV, m = {masses[worst[2]]:.4g} GeV), median "
            f"{np.nanmedian(rel):.2%}; worker time {np.nansum(wall):.1f} s, slowest point "
            f"{np.nanmax(wall):.2f} s"
        )
    notes = a.get("point_notes", {})
    failed = [k for k, v in notes.items() if v] if counts.get("failed") else []
    for key in failed[:5]:
        lines.append(f"  failed {key}: {notes[key]}")
    history = a.get("history", [])
    if history:
        last = history[-1]
        lines.append(
            f"history: {len(history)} scan run(s); last {last.get('time')} "
            f"({last.get('scan')}, {last.get('points_submitted')} points submitted)"
        )
    return "\n".join(lines)
