"""Create, open and extend a cube's Zarr store, and write finished points into it.

Reliability (what a crash or a damaged store can and cannot do):
- Every file is replaced atomically (zarr >= 3.1.3 writes a temporary file and renames it), and a
  point's data chunks are written before its status chunk: a point counts as done only when all
  its data landed. A kill leaves at most `*.partial` files, removed by the next writer.
- A new cube is built in a hidden sibling directory and renamed into place: it exists whole or
  not at all. An extension (new masses, energies or experiments) first records its target in the
  `extending` attribute, then resizes every array and writes the new coordinates; an extension
  cut short is finished (rolled forward) by the next open. Every step is idempotent.
- `open_cube` verifies the store by default (cube.verify): wrong numbers are never returned.
One writer per store: see cube.lock.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mcpdask.cube.compat import check_compatible, missing_coordinates
from mcpdask.cube.group import open_group, quiet_leftovers, read_store_attrs, update_attrs
from mcpdask.cube.lock import StoreLock
from mcpdask.cube.schema import (
    DATA_VARS,
    EXPERIMENT_COORDS,
    EXTENDING_ATTR,
    INDEX_COORDS,
    POINT_DIMS,
    PointResult,
    Status,
    index_attrs,
    jsonable,
    match_index,
    now,
    point_key,
    provenance_attrs,
    validate_cube,
)
from mcpdask.cube.verify import verify_store
from mcpdask.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from mcpdask.experiments import Experiment, ScanSpec

__all__ = [
    "PointWriter",
    "clean_leftovers",
    "create_cube",
    "extend_cube",
    "finish_interrupted_extension",
    "open_cube",
    "open_raw",
]


def _experiment_coords(experiments: Sequence[Experiment]) -> dict[str, tuple]:
    coords = {}
    for name, (get, dtype, units, long_name) in EXPERIMENT_COORDS.items():
        values = [get(e) for e in experiments]
        arr = np.array(values, dtype=object if dtype == "str" else dtype)
        coords[name] = ("experiment", arr, {"units": units, "long_name": long_name})
    return coords


def _empty_cube(spec: ScanSpec) -> xr.Dataset:
    """Every point of `spec` empty (NaN, status missing), with its coordinates and their attrs."""
    import xarray as xr

    energies = np.array(sorted({e for es in spec.energies_gev.values() for e in es}), float)
    edges = np.asarray(spec.x_edges, float)
    shape = {"experiment": len(spec.experiments), "energy": energies.size,
             "mass": len(spec.masses_gev), "x": edges.size - 1}  # fmt: skip
    data_vars = {}
    for name, (dims, dtype, fill, units, long_name) in DATA_VARS.items():
        attrs = {"units": units, "long_name": long_name}
        if name == "status":
            attrs["flag_values"] = [int(s) for s in Status]
            attrs["flag_meanings"] = " ".join(s.label for s in Status)
        data_vars[name] = (dims, np.full([shape[d] for d in dims], fill, dtype=dtype), attrs)
    mass_attrs = index_attrs("mass")
    if spec.physics.process == "vector":
        mass_attrs["long_name"] = "dark photon mass m_A'"
    coords: dict[str, Any] = {
        "experiment": ("experiment", np.array([e.name for e in spec.experiments], dtype=object),
                       index_attrs("experiment")),
        **_experiment_coords(spec.experiments),
        "energy": ("energy", energies, index_attrs("energy")),
        "mass": ("mass", np.asarray(spec.masses_gev, float), mass_attrs),
        "x": ("x", 0.5 * (edges[1:] + edges[:-1]), index_attrs("x")),
        "x_edge": ("x_edge", edges, index_attrs("x_edge")),
    }  # fmt: skip
    return xr.Dataset(data_vars, coords=coords)


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


def create_cube(store: str | Path, spec: ScanSpec) -> None:
    """Write an empty cube (all points status 0) for the points of `spec` at `store`."""
    store = Path(store)
    if store.exists():
        raise StoreError(f"{store}: already exists; refusing to overwrite it")
    ds = _empty_cube(spec)
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


def open_raw(store: str | Path, *, verify: bool = True, locked: bool = False) -> xr.Dataset:
    """The cube in store order (as appended), lazily, validated (and verified: every chunk
    decodes, every done point is consistent). An interrupted extension is finished first;
    `locked` says the caller holds the store's lock."""
    import xarray as xr

    attrs = read_store_attrs(store)
    if attrs.get(EXTENDING_ATTR):
        finish_interrupted_extension(store, locked=locked)
        attrs = read_store_attrs(store)
    try:
        with quiet_leftovers():
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
    ds = open_raw(store, verify=verify)
    # the per-experiment coordinates are tiny: hold them in memory, keep the data lazy
    ds = ds.assign_coords({name: ds[name].load() for name in EXPERIMENT_COORDS})
    for dim in ("energy", "mass"):
        values = ds[dim].values
        if values.size > 1 and np.any(np.diff(values) < 0):
            ds = ds.sortby(dim)
    return ds


def extend_cube(store: str | Path, spec: ScanSpec) -> dict[str, list]:
    """Append the experiments, energies and masses of `spec` that the cube lacks (empty points).

    Returns what was added. The caller checks compatibility first and holds the store's lock.
    The plan (target sizes and new coordinate values) is recorded in the `extending` attribute
    before anything changes; `_roll_forward` then resizes every array and writes the new
    coordinates (idempotent), and removes the attribute. A crash in between is finished by the
    next open.
    """
    ds = open_raw(store, locked=True, verify=False)
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
            name: jsonable([get(e) for e in new["experiment"]])
            for name, (get, *_r) in EXPERIMENT_COORDS.items()
        }
        if new["experiment"]
        else {},
        "started": now(),
    }
    update_attrs(store, {EXTENDING_ATTR: plan})
    _roll_forward(store, plan)
    return added


def _roll_forward(store: str | Path, plan: Mapping[str, Any]) -> None:
    group = open_group(store, mode="r+")
    target = plan["to"]
    for name in (*INDEX_COORDS, *EXPERIMENT_COORDS, *DATA_VARS):
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
    update_attrs(store, remove=(EXTENDING_ATTR,))


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


class PointWriter:
    """Writes finished points into their chunks of an existing cube: data first, the point's note
    (reason) next, status last, each one atomic file. A point counts only once its status landed,
    so a kill at any moment leaves every point either done with all its data, or missing."""

    def __init__(self, store: str | Path):
        self.store = Path(store)
        self.group = open_group(store, mode="r+")
        self.arrays = {name: self.group[name] for name in DATA_VARS}
        self.experiments = [str(v) for v in self.group["experiment"][:]]
        self.energies = np.asarray(self.group["energy"][:], dtype=float)
        self.masses = np.asarray(self.group["mass"][:], dtype=float)
        self._noted = set(self.group.attrs.get("point_notes", {}))

    def index(self, experiment: str, energy: float, mass: float) -> tuple[int, int, int]:
        """Store position of a point (StoreError if the cube lacks it)."""
        ie = self.experiments.index(experiment) if experiment in self.experiments else None
        ien = match_index(self.energies, energy)
        im = match_index(self.masses, mass)
        if ie is None or ien is None or im is None:
            raise StoreError(f"{self.store}: no point ({experiment}, {energy}, {mass}) in the cube")
        return ie, ien, im

    def status(self) -> np.ndarray:
        """The status array in store order (experiment, energy, mass)."""
        return np.asarray(self.arrays["status"][:])

    def write(self, experiment: str, energy: float, mass: float, result: PointResult) -> None:
        """Write one point's result: data, then its note (reason), then its status."""
        idx = self.index(experiment, energy, mass)
        values = result.arrays()
        for name, spec in DATA_VARS.items():
            if name == "status":
                continue
            where = (*idx, slice(None)) if "x" in spec.dims else idx
            self.arrays[name][where] = values[name]
        key = point_key(experiment, energy, mass)
        if result.reason or key in self._noted:  # a recomputed point drops its old note
            notes = dict(read_store_attrs(self.store).get("point_notes", {}))
            if result.reason:
                notes[key] = str(result.reason)
            else:
                notes.pop(key, None)
            update_attrs(self.store, {"point_notes": notes})
            self._noted = set(notes)
        self.arrays["status"][idx] = values["status"]
