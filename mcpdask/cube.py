"""The cross-section cube: schema, creation, extension, validation and provenance of the Zarr store.

One xarray Dataset on Zarr with dims experiment, energy (GeV), mass (m_chi, GeV), x (bin centres of
the missing-energy fraction) and x_edge (the nbins + 1 bin edges). Each (experiment, energy, mass)
point is its own Zarr chunk, so a finished point is written on its own and a crash loses only the
points in flight. New masses, energies or experiments are appended; `open_cube` returns the cube
sorted by energy and mass, lazily (dask-backed).

Status codes (variable `status`, int8): 0 missing, 1 converged, 2 budget_exhausted, 3 failed,
4 below_threshold. A readable reason for failed points is kept in the store attribute
`point_notes` (a mapping "experiment|energy|mass" -> text).

Reliability (what a crash, a second writer or a damaged store can and cannot do):
- One writer per store: a scan holds `StoreLock`, an flock on the sidecar file `<store>.lock`
  that names its pid, host and start time. The kernel drops the lock when the process dies, so
  the file left behind by a killed scan is stale and taken over; a live holder makes a second
  scan fail at once with a StoreError naming it. Readers (info, limits, notebooks) take no lock.
- Every file is replaced atomically (zarr >= 3.1.3 writes a temporary file and renames it), and a
  point's data chunks are written before its status chunk: a point counts as done only when all
  its data landed. A kill leaves at most `*.partial` files, removed by the next writer.
- A new cube is built in a hidden sibling directory and renamed into place: it exists whole or
  not at all. An extension (new masses, energies or experiments) first records its target in the
  `extending` attribute, then resizes every array and writes the new coordinates; an extension
  cut short is finished (rolled forward) by the next open. Every step is idempotent.
- `open_cube` verifies the store by default: every chunk must decode (zstd frames carry a
  checksum in new cubes) and every done point must have consistent data; otherwise StoreError
  names the variable, the chunk or point and what is wrong. Wrong numbers are never returned
  silently.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shutil
import socket
import sys
import warnings
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
        SPECTRUM_DIMS,
        "float64",
        np.nan,
        "pb",
        "d sigma / d x at eps = 1, averaged over the x bin",
    ),
    "dsigma_dx_err": (
        SPECTRUM_DIMS,
        "float64",
        np.nan,
        "pb",
        "VEGAS standard error of d sigma / d x in the x bin",
    ),
    "sigma": (
        POINT_DIMS,
        "float64",
        np.nan,
        "pb",
        "cross section at eps = 1 over the experiment's cut x_min < x < x_max",
    ),
    "sigma_err": (
        POINT_DIMS,
        "float64",
        np.nan,
        "pb",
        "VEGAS standard error of sigma",
    ),
    "chi2_dof": (
        POINT_DIMS,
        "float64",
        np.nan,
        "1",
        "VEGAS chi^2 per degree of freedom of the iterations",
    ),
    "Q": (POINT_DIMS, "float64", np.nan, "1", "VEGAS Q value (p-value of chi2_dof)"),
    "n_eval": (POINT_DIMS, "int64", 0, "1", "number of integrand evaluations"),
    "wall_s": (POINT_DIMS, "float64", np.nan, "s", "wall time of the point on its worker"),
    "status": (
        POINT_DIMS,
        "int8",
        MISSING,
        "1",
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
        lambda e: e.target.density_g_cm3,
        "float64",
        "g/cm3",
        "target density rho_T",
    ),
    "target_X0": (
        lambda e: e.target.radiation_length_cm,
        "float64",
        "cm",
        "target radiation length X0",
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
    """One chunk per point: experiment=1, energy=1, mass=1, x=all; zstd frames with a checksum,
    so a damaged chunk fails to decode instead of giving other numbers."""
    from zarr.codecs import ZstdCodec

    enc = {}
    for name, (dims, *_rest) in DATA_VARS.items():
        enc[name] = {
            "chunks": tuple(ds.sizes[d] if d == "x" else 1 for d in dims),
            "compressors": (ZstdCodec(level=0, checksum=True),),
        }
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
        spec.experiments,
        len(spec.experiments),
        np.array(energies),
        len(energies),
        spec.masses_gev,
        len(spec.masses_gev),
        spec.x_edges,
        len(spec.x_edges) - 1,
    )
    ds.attrs.update(provenance_attrs(spec))
    store.parent.mkdir(parents=True, exist_ok=True)
    # built aside and renamed into place: the store exists whole or not at all
    building = store.parent / f".{store.name}.creating-{os.getpid()}"
    if building.exists():
        shutil.rmtree(building)
    try:
        ds.to_zarr(building, mode="w-", encoding=_encoding(ds), **_write_kwargs())
        os.rename(building, store)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _open_group(store: str | Path, mode: str = "r"):
    import zarr

    store = Path(store)
    if not store.exists():
        raise StoreError(f"{store}: no such store")
    if not store.is_dir():
        raise StoreError(f"{store}: is a file, not a Zarr store (a directory)")
    if not (store / "zarr.json").is_file():
        what = "an empty directory" if not any(store.iterdir()) else "a directory"
        raise StoreError(
            f"{store}: {what} without Zarr metadata (no zarr.json): not a Zarr store, or one "
            "whose metadata is missing"
        )
    try:
        with _quiet_leftovers():
            group = zarr.open_group(store, mode=mode)
    except Exception as exc:  # noqa: BLE001 - zarr raises several kinds for a non-store dir
        raise StoreError(
            f"{store}: not a readable Zarr group ({type(exc).__name__}: {exc})"
        ) from None
    return group


@contextlib.contextmanager
def _quiet_leftovers():
    """Silence zarr's warning about `*.partial` files (left by a killed writer, removed by the
    next one) and about our sidecar files; everything else still warns."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*\.partial is not recognized", category=Warning
        )
        yield


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
            f"{store}: mcpdask cube schema version {version!r}, this mcpdask reads {SCHEMA_VERSION}"
        )


def _open_raw(store: str | Path, *, verify: bool = True, locked: bool = False) -> xr.Dataset:
    """The cube in store order (as appended), lazily, validated (and verified: every chunk
    decodes, every done point is consistent). An interrupted extension is finished first;
    `locked` says the caller holds the store's lock."""
    import xarray as xr

    attrs = read_store_attrs(store)
    if attrs.get(EXTENDING_ATTR):
        finish_interrupted_extension(store, locked=locked)
        attrs = read_store_attrs(store)
    try:
        with _quiet_leftovers():
            ds = xr.open_zarr(store, consolidated=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure means a broken store
        raise StoreError(f"{store}: cannot be read as an xarray Dataset: {exc}") from None
    ds.attrs = attrs
    validate_cube(ds, store)
    if verify:
        verify_store(store)
    return ds


def open_cube(store: str | Path, *, verify: bool = True) -> xr.Dataset:
    """The cube at `store` as a lazily loaded (dask-backed) Dataset sorted by energy and mass.

    Raises StoreError if the path is not an mcpdask cube of this schema version, or (with
    `verify`, the default) if any chunk fails to decode or a done point's data are inconsistent
    (see `verify_store`; it reads the whole store once through zarr, about a second per 10^4
    points). An extension cut short by a crash is finished first.
    """
    ds = _open_raw(store, verify=verify)
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


# --------------------------------------------------------------------------------------------
# Verification: every chunk decodes, every done point is consistent

_MAX_REPORTED = 5


def verify_store(store: str | Path) -> None:
    """StoreError naming every unreadable array chunk (truncated, corrupt) and every done point
    whose data contradict its status (a converged point without finite numbers, a status code
    out of range, ...). Reads the whole store once, through zarr (no dask)."""
    group = _open_group(store)
    problems: list[str] = []
    data: dict[str, np.ndarray] = {}
    names = [*INDEX_COORD_ATTRS, *EXPERIMENT_COORDS, *DATA_VARS]
    for name in names:
        try:
            arr = group[name]
        except KeyError:
            problems.append(f"array {name!r} is missing (its zarr.json was deleted?)")
            continue
        try:
            with _quiet_leftovers():
                data[name] = np.asarray(arr[...])
        except Exception as exc:  # noqa: BLE001 - codec and IO errors of every kind
            problems.append(_unreadable(arr, name, exc, data))
    if not problems:
        problems += _point_problems(data)
        for dim in ("energy", "mass", "x_edge"):
            values = data[dim].astype(float)
            if not np.all(np.isfinite(values)) or np.unique(values).size != values.size:
                problems.append(f"coordinate {dim!r} has repeated or non-finite values")
    if problems:
        raise StoreError(
            f"{store}: damaged mcpdask cube, refusing to read numbers from it:\n  "
            + "\n  ".join(problems)
            + "\n(a crash cannot cause this: the store was changed by something else; restore it "
            "from a copy, or delete the damaged points' status chunks and rerun the scan)"
        )


def _unreadable(arr, name: str, exc: Exception, data: dict) -> str:
    """Which chunks of `arr` fail to decode, with their points where the coordinates are known."""
    bad = []
    grid = tuple(-(-n // c) for n, c in zip(arr.shape, arr.chunks, strict=True))
    for idx in np.ndindex(*grid):
        try:
            with _quiet_leftovers():
                arr.get_block_selection(idx)
        except Exception:  # noqa: BLE001
            bad.append(idx)
            if len(bad) > _MAX_REPORTED:
                break
    where = ", ".join(
        f"chunk {'/'.join(map(str, i))}{_point_label(i, data, arr)}" for i in bad[:_MAX_REPORTED]
    )
    more = " and more" if len(bad) > _MAX_REPORTED else ""
    return (
        f"variable {name!r}: cannot decode {where or 'its data'}{more} "
        f"({type(exc).__name__}: {str(exc)[:120]}) -- truncated or corrupt chunk file"
    )


def _point_label(idx: tuple, data: dict, arr) -> str:
    dims = getattr(arr.metadata, "dimension_names", None) or ()
    if tuple(dims[:3]) != POINT_DIMS or not all(d in data for d in POINT_DIMS):
        return ""
    try:
        return " = point " + _label(data, idx[:3])
    except IndexError:
        return ""


def _label(data: dict, idx: tuple) -> str:
    ie, ien, im = idx
    return (
        f"({data['experiment'][ie]}, E = {float(data['energy'][ien]):g} GeV, "
        f"m = {float(data['mass'][im]):.6g} GeV)"
    )


def _point_problems(data: dict[str, np.ndarray]) -> list[str]:
    """Points whose stored numbers contradict their status."""
    status = data["status"]
    problems = []
    bad_code = ~np.isin(status, list(STATUS_NAMES))
    measured = np.isin(status, (CONVERGED, BUDGET_EXHAUSTED))
    with np.errstate(invalid="ignore"):
        checks = [
            (bad_code, "status code not in 0-4"),
            (
                measured & ~(np.isfinite(data["sigma"]) & (data["sigma"] >= 0)),
                "sigma missing, negative or not finite",
            ),
            (
                measured & ~(np.isfinite(data["sigma_err"]) & (data["sigma_err"] >= 0)),
                "sigma_err missing, negative or not finite",
            ),
            (
                measured & ~np.all(np.isfinite(data["dsigma_dx"]), axis=-1),
                "dsigma_dx missing or not finite in some bins",
            ),
            (
                measured & ~np.all(np.isfinite(data["dsigma_dx_err"]), axis=-1),
                "dsigma_dx_err missing or not finite in some bins",
            ),
            (measured & ~(data["n_eval"] > 0), "no integrand evaluations recorded"),
            (
                (status == BELOW_THRESHOLD) & ~(data["sigma"] == 0),
                "below threshold but sigma is not 0",
            ),
        ]
    for mask, what in checks:
        hits = np.argwhere(mask)
        for idx in hits[:_MAX_REPORTED]:
            code = int(status[tuple(idx)])
            problems.append(
                f"point {_label(data, tuple(idx))} has status "
                f"{STATUS_NAMES.get(code, code)} but {what}"
            )
        if len(hits) > _MAX_REPORTED:
            problems.append(f"... and {len(hits) - _MAX_REPORTED} more points with {what}")
    return problems


# --------------------------------------------------------------------------------------------
# Compatibility of a scan with a cube

INTEGRATION_COORDS = ("lepton", "target", "target_Z", "target_A", "x_min", "x_max")
"""Per-experiment coordinates that enter the integrated numbers: a scan whose experiment differs
in one of them from the store's is refused (sigma is integrated over the cut [x_min, x_max])."""
EXPOSURE_COORDS = (
    "target_density",
    "target_X0",
    "thickness_cm",
    "leptons_on_target",
    "nominal_energy",
    "efficiency",
)
"""Per-experiment coordinates that only scale yields (exposure, thickness, efficiency, the
target's density and X0, the nominal energy of the meson channel): not integrated, so a scan
with other values is accepted and updates them in the store (recorded in `history`);
`mcpdask limits` overrides them without any scan."""


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
    for exp, _i, coord, have, want in _experiment_differences(ds, spec, INTEGRATION_COORDS):
        problems.append(
            f"experiment {exp.name!r}: {coord} is {have!r} in the store, {want!r} in the "
            "config (use a new store or a new experiment name)"
        )
    return problems


def _experiment_differences(ds: xr.Dataset, spec: ScanSpec, coords: Sequence[str]):
    """(experiment, store index, coordinate, stored value, config value) where they differ."""
    stored = [str(v) for v in ds["experiment"].values]
    for exp in spec.experiments:
        if exp.name not in stored:
            continue
        i = stored.index(exp.name)
        for coord in coords:
            get, dtype, _units, _ln = EXPERIMENT_COORDS[coord]
            have, want = ds[coord].values[i], get(exp)
            have = have.item() if hasattr(have, "item") else str(have)
            same = (
                str(have) == str(want)
                if dtype == "str"
                else bool(np.isclose(float(have), float(want), rtol=1e-12, atol=0))
            )
            if not same:
                yield exp, i, coord, have, want


def exposure_changes(ds: xr.Dataset, spec: ScanSpec) -> list[tuple[str, int, str, Any, Any]]:
    """(experiment, store index, coordinate, stored, config) for exposure-like coordinates
    that the scan's experiments define differently from the store."""
    return [
        (e.name, i, c, h, w) for e, i, c, h, w in _experiment_differences(ds, spec, EXPOSURE_COORDS)
    ]


def update_exposure(store: str | Path, changes: Sequence[tuple]) -> None:
    """Write new exposure-like coordinate values (from `exposure_changes`) into the store and
    record them in its history. The caller holds the lock."""
    if not changes:
        return
    group = _open_group(store, mode="r+")
    for _name, i, coord, _have, want in changes:
        group[coord][i] = want
    add_history(
        store,
        {
            "exposure_updated": [
                {"experiment": n, "coordinate": c, "from": h, "to": w} for n, _i, c, h, w in changes
            ]
        },
    )


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


# --------------------------------------------------------------------------------------------
# Extension (journalled, rolled forward after a crash)

EXTENDING_ATTR = "extending"


def extend_cube(store: str | Path, spec: ScanSpec) -> dict[str, list]:
    """Append the experiments, energies and masses of `spec` that the cube lacks (empty points).

    Returns what was added. The caller checks compatibility first and holds the store's lock.
    The plan (target sizes and new coordinate values) is recorded in the `extending` attribute
    before anything changes; `_roll_forward` then resizes every array and writes the new
    coordinates (idempotent), and removes the attribute. A crash in between is finished by the
    next open.
    """
    ds = _open_raw(store, locked=True, verify=False)
    check_compatible(ds, spec, store)
    new = missing_coordinates(ds, spec)
    sizes = {d: int(ds.sizes[d]) for d in POINT_DIMS}
    ds.close()
    added = {
        "experiment": [e.name for e in new["experiment"]],
        "energy": [float(e) for e in new["energy"]],
        "mass": [float(m) for m in new["mass"]],
    }
    if not any(added.values()):
        return added
    plan = {
        "from": sizes,
        "to": {d: sizes[d] + len(added[d]) for d in POINT_DIMS},
        "energy": added["energy"],
        "mass": added["mass"],
        "experiment": {"experiment": added["experiment"]}
        | {
            name: _jsonable([get(e) for e in new["experiment"]])
            for name, (get, *_r) in EXPERIMENT_COORDS.items()
        }
        if new["experiment"]
        else {},
        "started": _now(),
    }
    _update_attrs(store, {EXTENDING_ATTR: plan})
    _roll_forward(store, plan)
    return added


def _roll_forward(store: str | Path, plan: Mapping[str, Any]) -> None:
    group = _open_group(store, mode="r+")
    target = plan["to"]
    for name in (*INDEX_COORD_ATTRS, *EXPERIMENT_COORDS, *DATA_VARS):
        arr = group[name]
        dims = getattr(arr.metadata, "dimension_names", None) or ()
        shape = tuple(target.get(d, n) for d, n in zip(dims, arr.shape, strict=True))
        if shape != tuple(arr.shape):
            arr.resize(shape)
    for dim in ("energy", "mass"):
        if plan[dim]:
            group[dim][plan["from"][dim] :] = np.asarray(plan[dim], dtype=float)
    start = plan["from"]["experiment"]
    for name, values in plan["experiment"].items():
        arr = group[name]
        group[name][start:] = np.asarray(values, dtype=arr.dtype if arr.dtype.kind == "f" else str)
    _update_attrs(store, remove=(EXTENDING_ATTR,))


def finish_interrupted_extension(store: str | Path, *, locked: bool = False) -> bool:
    """Finish an extension cut short by a crash (True if there was one). Takes the store's lock
    unless the caller holds it; if a live scan holds it, waits a little for that scan to finish
    its extension."""

    def finish() -> bool:
        plan = read_store_attrs(store).get(EXTENDING_ATTR)
        if not plan:
            return False
        try:
            _roll_forward(store, plan)
        except OSError as exc:
            raise StoreError(
                f"{store}: an extension of the cube was interrupted and cannot be finished here "
                f"({exc}); rerun the scan with write access to the store"
            ) from None
        return True

    if locked:
        return finish()
    with StoreLock(store, purpose="finish an interrupted extension", wait_s=10.0):
        return finish()


# --------------------------------------------------------------------------------------------
# Attributes (one atomic write of the root zarr.json, from a fresh read)


def _update_attrs(
    store: str | Path, updates: Mapping[str, Any] | None = None, remove: Sequence[str] = ()
) -> None:
    group = _open_group(store, mode="r+")
    attrs = dict(group.attrs)
    attrs.update(_jsonable(dict(updates or {})))
    for key in remove:
        attrs.pop(key, None)
    group.attrs.put(attrs)


def add_history(store: str | Path, entry: Mapping[str, Any]) -> None:
    """Append an entry (scan name, config, time, points) to the store's `history` attribute."""
    history = list(read_store_attrs(store).get("history", []))
    history.append({"time": _now(), **_jsonable(dict(entry))})
    _update_attrs(store, {"history": history})


def _jsonable(obj: Any) -> Any:
    return json.loads(
        json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    )


# --------------------------------------------------------------------------------------------
# One writer per store


class StoreInUseError(StoreError):
    """Another live process is writing to the store."""


def lock_path(store: str | Path) -> Path:
    """The lock file of a store: `<store>.lock` next to it (it exists before the store does)."""
    store = Path(store)
    return store.parent / f"{store.name}.lock"


class StoreLock:
    """Exclusive writer lock of a store: flock on `<store>.lock`, which names the holder.

    The kernel releases an flock when its process dies (SIGKILL included), so a lock file left
    by a dead scan is stale by construction and is simply taken over (`stale_holder` then says
    whose it was). A live holder makes `acquire` raise StoreInUseError naming its pid, host,
    start time and command, after waiting up to `wait_s` seconds.
    """

    def __init__(self, store: str | Path, purpose: str = "scan", wait_s: float = 0.0):
        self.store = Path(store)
        self.path = lock_path(store)
        self.purpose = purpose
        self.wait_s = wait_s
        self.fd: int | None = None
        self.stale_holder: dict | None = None

    def acquire(self) -> StoreLock:
        import time

        if not self.path.parent.is_dir():
            raise StoreError(f"{self.store}: parent directory {self.path.parent} does not exist")
        deadline = time.monotonic() + self.wait_s
        while True:
            holder = self._try()
            if holder is None:
                return self
            if time.monotonic() >= deadline:
                raise StoreInUseError(
                    f"{self.store}: in use by another mcpdask process (pid {holder.get('pid')} "
                    f"on {holder.get('host')}, {holder.get('purpose', 'scan')} since "
                    f"{holder.get('started')}: {holder.get('command', '?')}); one writer per "
                    f"store: wait for it to finish or stop it. (Lock file {self.path}; it is "
                    "released when that process exits, even if it is killed.)"
                )
            time.sleep(0.1)

    def _try(self) -> dict | None:
        """None once locked, else the holder's description."""
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_lock(fd)
                os.close(fd)
                return holder or {"pid": "?", "host": "?"}
            # the file may have been unlinked by its previous holder between open and flock
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_lock(fd)
            self.stale_holder = previous or None
            os.ftruncate(fd, 0)
            os.pwrite(
                fd,
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "started": _now(),
                        "purpose": self.purpose,
                        "command": " ".join(sys.argv)[:300],
                    }
                ).encode(),
                0,
            )
            self.fd = fd
            return None

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                os.unlink(self.path)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_lock(fd: int) -> dict:
    try:
        text = os.pread(fd, 4096, 0).decode(errors="replace")
        return json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}


def clean_leftovers(store: str | Path) -> int:
    """Remove what killed writers leave behind: `*.partial` files inside the store and half-built
    `.<name>.creating-*` siblings. Only for the lock holder. Returns the number removed."""
    store = Path(store)
    n = 0
    for partial in store.rglob("*.partial") if store.is_dir() else ():
        partial.unlink(missing_ok=True)
        n += 1
    for building in store.parent.glob(f".{store.name}.creating-*"):
        shutil.rmtree(building, ignore_errors=True)
        n += 1
    return n


# --------------------------------------------------------------------------------------------
# Point writes


class PointWriter:
    """Writes finished points into their chunks of an existing cube: data first, the point's note
    (reason) next, status last, each one atomic file. A point counts only once its status landed,
    so a kill at any moment leaves every point either done with all its data, or missing."""

    def __init__(self, store: str | Path):
        self.store = Path(store)
        self.group = _open_group(store, mode="r+")
        self.arrays = {name: self.group[name] for name in DATA_VARS}
        self.experiments = [str(v) for v in self.group["experiment"][:]]
        self.energies = np.asarray(self.group["energy"][:], dtype=float)
        self.masses = np.asarray(self.group["mass"][:], dtype=float)
        self._noted = set(self.group.attrs.get("point_notes", {}))

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
        key = point_key(experiment, energy, mass)
        reason = result.get("reason")
        if reason or key in self._noted:  # a recomputed point drops its old note
            notes = dict(read_store_attrs(self.store).get("point_notes", {}))
            if reason:
                notes[key] = str(reason)
            else:
                notes.pop(key, None)
            _update_attrs(self.store, {"point_notes": notes})
            self._noted = set(notes)
        self.arrays["status"][idx] = int(result["status"])


# --------------------------------------------------------------------------------------------
# Summary


MAX_LISTED = 20
"""Failed and budget-exhausted points listed by `describe` (per status)."""


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
    for code in (FAILED, BUDGET_EXHAUSTED):
        hits = np.argwhere(status == code)
        if hits.size:
            lines.append(f"{STATUS_NAMES[code]} points ({len(hits)}):")
        for ie, ien, im in hits[:MAX_LISTED]:
            key = point_key(str(ds["experiment"].values[ie]), ds["energy"].values[ien], masses[im])
            lines.append(f"  {STATUS_NAMES[code]} {key}: {notes.get(key, 'no reason recorded')}")
        if len(hits) > MAX_LISTED:
            lines.append(f"  ... and {len(hits) - MAX_LISTED} more")
    history = a.get("history", [])
    if history:
        last = history[-1]
        lines.append(
            f"history: {len(history)} scan run(s); last {last.get('time')} "
            f"({last.get('scan')}, {last.get('points_submitted')} points submitted)"
        )
    return "\n".join(lines)
