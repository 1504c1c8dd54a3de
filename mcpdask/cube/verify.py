"""Verification of a stored cube: every chunk decodes and every done point obeys the point rules.

A reader never returns numbers from a damaged store: `verify_store` raises a StoreError naming
each unreadable chunk and each point whose stored numbers contradict its status.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcpdask.cube.group import open_group, quiet_leftovers
from mcpdask.cube.schema import (
    DATA_VARS,
    EXPERIMENT_COORDS,
    INDEX_COORDS,
    POINT_DIMS,
    POINT_RULES,
    Status,
)
from mcpdask.errors import StoreError

__all__ = ["verify_store"]

_MAX_REPORTED = 5


def verify_store(store: str | Path) -> None:
    """StoreError naming every unreadable array chunk (truncated, corrupt) and every done point
    whose data contradict its status (a converged point without finite numbers, a status code
    out of range, ...). Reads the whole store once, through zarr (no dask)."""
    group = open_group(store)
    problems: list[str] = []
    data: dict[str, np.ndarray] = {}
    names = [*INDEX_COORDS, *EXPERIMENT_COORDS, *DATA_VARS]
    for name in names:
        try:
            arr = group[name]
        except KeyError:
            problems.append(f"array {name!r} is missing (its zarr.json was deleted?)")
            continue
        try:
            with quiet_leftovers():
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
            with quiet_leftovers():
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
    """Points whose stored numbers contradict their status (POINT_RULES, and unknown codes)."""
    status = data["status"]
    checks = [(~np.isin(status, [int(s) for s in Status]), "status code not in 0-4")]
    checks += [(rule.violated(data), rule.description) for rule in POINT_RULES]
    problems = []
    for mask, what in checks:
        hits = np.argwhere(mask)
        for idx in hits[:_MAX_REPORTED]:
            code = int(status[tuple(idx)])
            name = Status(code).label if code in set(Status) else code
            problems.append(f"point {_label(data, tuple(idx))} has status {name} but {what}")
        if len(hits) > _MAX_REPORTED:
            problems.append(f"... and {len(hits) - _MAX_REPORTED} more points with {what}")
    return problems
