"""Low-level access to a cube's Zarr group: open it (with clear errors for what is not a cube),
read and update its attributes (one atomic write of the root zarr.json), append to its history."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mcpdask.cube.schema import check_marker, jsonable, now
from mcpdask.errors import StoreError

__all__ = ["add_history", "open_group", "quiet_leftovers", "read_store_attrs", "update_attrs"]


def open_group(store: str | Path, mode: str = "r"):
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
        with quiet_leftovers():
            group = zarr.open_group(store, mode=mode)
    except Exception as exc:  # noqa: BLE001 - zarr raises several kinds for a non-store dir
        raise StoreError(
            f"{store}: not a readable Zarr group ({type(exc).__name__}: {exc})"
        ) from None
    return group


@contextlib.contextmanager
def quiet_leftovers():
    """Silence zarr's warning about `*.partial` files (left by a killed writer, removed by the
    next one) and about our sidecar files; everything else still warns."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*\.partial is not recognized", category=Warning
        )
        yield


def read_store_attrs(store: str | Path) -> dict[str, Any]:
    """The store's attributes, after checking it is an mcpdask cube of a known schema."""
    group = open_group(store)
    attrs = dict(group.attrs)
    check_marker(attrs, store)
    return attrs


def update_attrs(
    store: str | Path, updates: Mapping[str, Any] | None = None, remove: Sequence[str] = ()
) -> None:
    group = open_group(store, mode="r+")
    attrs = dict(group.attrs)
    attrs.update(jsonable(dict(updates or {})))
    for key in remove:
        attrs.pop(key, None)
    group.attrs.put(attrs)


def add_history(store: str | Path, entry: Mapping[str, Any]) -> None:
    """Append an entry (scan name, config, time, points) to the store's `history` attribute."""
    history = list(read_store_attrs(store).get("history", []))
    history.append({"time": now(), **jsonable(dict(entry))})
    update_attrs(store, {"history": history})
