"""`mcpdask limits STORE`: epsilon limits versus mass per experiment and channel, from a stored cube."""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import warnings

import numpy as np

from mcpdask.errors import McpdaskError, PhysicsInputError, StoreError

FORMATS = ("table", "csv", "json")


def open_store(store: str):
    """The cube at `store`, lazily: mcpdask.open_cube if available, else xarray.open_zarr."""
    try:
        from mcpdask import open_cube
    except ImportError:
        try:
            from mcpdask.cube import open_cube
        except ImportError:
            open_cube = None
    if open_cube is not None:
        return open_cube(store)
    import xarray as xr

    try:
        return xr.open_zarr(store, chunks={})
    except (FileNotFoundError, OSError, KeyError, ValueError) as exc:
        raise StoreError(f"cannot open cube {store!r}: {exc}") from None


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise PhysicsInputError(f"{what}: not a number: {text!r}") from None


def parse_override(text: str | None, what: str, x0_of=None):
    """'1e14' -> 1e14; 'na64mu=1e14,ldmx=2e16' -> {experiment: value}. With `x0_of` (experiment ->
    radiation length in cm) a value may end in 'X0' ('40X0'), converted per experiment to cm."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise PhysicsInputError(f"{what}: empty value")
    pairs = {}
    scalar = None
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            name, value = None, item
        if name is None:
            if scalar is not None or len(items) > 1:
                raise PhysicsInputError(f"{what}: give one value or NAME=VALUE pairs, got {text!r}")
            scalar = value
        else:
            pairs[name.strip()] = value.strip()
    in_x0 = [v for v in ([scalar] if scalar is not None else list(pairs.values()))]
    if any(v.upper().endswith("X0") for v in in_x0):
        if x0_of is None:
            raise PhysicsInputError(f"{what}: 'X0' units not allowed here: {text!r}")
        names = list(x0_of) if scalar is not None else list(pairs)
        raw = {n: (scalar if scalar is not None else pairs[n]) for n in names}
        out = {}
        for n, v in raw.items():
            if n not in x0_of:
                raise PhysicsInputError(f"{what}: unknown experiment {n!r}")
            if v.upper().endswith("X0"):
                out[n] = _number(v[:-2], what) * x0_of[n]
            else:
                out[n] = _number(v, what)
        return out
    if scalar is not None:
        return _number(scalar, what)
    return {n: _number(v, what) for n, v in pairs.items()}


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `limits` and `reach`: selection, exposure, cut, target, statistics."""
    parser.add_argument("store", metavar="STORE", help="path of the cube (Zarr store)")
    parser.add_argument(
        "--experiment", action="append", metavar="NAME", help="experiment(s) to show (repeatable)"
    )
    parser.add_argument(
        "--lot",
        metavar="X",
        help="leptons on target: a number for all, or NAME=X,NAME=X (default: the cube's)",
    )
    parser.add_argument(
        "--xmin", metavar="X", help="missing-energy fraction cut x_min (number or NAME=X,...)"
    )
    parser.add_argument(
        "--thickness",
        metavar="X",
        help="target thickness L_T in cm, or in radiation lengths with an X0 suffix ('40X0')",
    )
    parser.add_argument(
        "--efficiency", type=float, help="signal efficiency (default: the cube's, else 1)"
    )
    parser.add_argument(
        "--energy", type=float, metavar="GEV", help="beam energy (default: each nominal energy)"
    )
    parser.add_argument(
        "--channels",
        default="all",
        help="comma-separated: brem, meson, combined, rho, omega, phi, jpsi, all (default all)",
    )
    parser.add_argument("--cl", type=float, default=0.9, help="confidence level (0.9)")
    parser.add_argument(
        "--background", type=float, default=0.0, help="expected background events (0)"
    )
    parser.add_argument(
        "--n-up",
        type=float,
        dest="n_up",
        help="signal upper limit directly (e.g. 2.3); excludes --cl/--background",
    )


def compute_limits(args):
    """Open the store and compute the limits Dataset for the parsed arguments (one dask compute).

    Returns (dataset, effective settings per experiment, warning messages)."""
    from mcpdask.reach import limits_dataset

    cube = open_store(args.store)
    names = [str(e) for e in cube["experiment"].values]
    selected = args.experiment or names
    x0_of = {n: float(x) for n, x in zip(names, np.asarray(cube["target_X0"].values), strict=True)}
    kwargs = {
        "experiment": args.experiment,
        "energy": args.energy,
        "leptons_on_target": parse_override(args.lot, "--lot"),
        "x_min": parse_override(args.xmin, "--xmin"),
        "thickness_cm": parse_override(args.thickness, "--thickness", x0_of),
        "efficiency": args.efficiency,
        "n_up": args.n_up,
        "cl": args.cl,
        "background": args.background,
        "channels": args.channels,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = limits_dataset(cube, **kwargs).compute()
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    settings = {}
    for name in selected:
        one = cube.sel(experiment=name)

        def pick(override, coord, name=name, one=one):
            stored = float(one[coord].values)
            if isinstance(override, dict):
                return override.get(name, stored)
            return stored if override is None else override

        settings[name] = {
            "lepton": str(one["lepton"].values) if "lepton" in one.coords else "",
            "target": str(one["target"].values) if "target" in one.coords else "",
            "energy_gev": args.energy if args.energy else float(one["nominal_energy"].values),
            "leptons_on_target": pick(kwargs["leptons_on_target"], "leptons_on_target"),
            "x_min": pick(kwargs["x_min"], "x_min"),
            "thickness_cm": pick(kwargs["thickness_cm"], "thickness_cm"),
        }
    return ds, settings, messages


def shown_channels(ds, name: str, requested: str) -> list[str]:
    """Channels of experiment `name` to show: all requested, minus those with no sensitivity at
    any mass (all +inf, e.g. meson channels of NA64mu) when the request was 'all'."""
    channels = [str(c) for c in ds["channel"].values]
    if requested.strip() != "all":
        return channels
    lim = ds["eps_limit"].sel(experiment=name)
    return [c for c in channels if not np.isposinf(lim.sel(channel=c).values).all()]


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "masked"
    if math.isinf(value):
        return "-"
    return f"{value:.4g}"


def _json_value(value: float):
    return float(value) if math.isfinite(value) else None


def render(ds, settings, requested_channels: str, fmt: str) -> str:
    out = io.StringIO()
    lim = ds["eps_limit"]
    err = ds["eps_limit_err"]
    mass = [float(m) for m in ds["mass"].values]
    n_up = lim.attrs.get("n_up")
    if fmt == "csv":
        out.write("experiment,channel,mass_GeV,eps_limit,eps_limit_err\n")
        for name in settings:
            for ch in shown_channels(ds, name, requested_channels):
                vals = lim.sel(experiment=name, channel=ch).values
                errs = err.sel(experiment=name, channel=ch).values
                for m, v, e in zip(mass, vals, errs, strict=True):
                    out.write(f"{name},{ch},{m:g},{v:.7g},{e:.3g}\n")
        return out.getvalue()
    if fmt == "json":
        data = {}
        for name, s in settings.items():
            channels = {}
            for ch in shown_channels(ds, name, requested_channels):
                channels[ch] = {
                    "mass_GeV": mass,
                    "eps_limit": [
                        _json_value(v) for v in lim.sel(experiment=name, channel=ch).values
                    ],
                    "eps_limit_err": [
                        _json_value(v) for v in err.sel(experiment=name, channel=ch).values
                    ],
                }
            data[name] = {**s, "n_up": n_up, "channels": channels}
        return json.dumps(data, indent=1) + "\n"
    for name, s in settings.items():
        chans = shown_channels(ds, name, requested_channels)
        out.write(
            f"{name}: {s['lepton']} beam on {s['target']}, E0 = {s['energy_gev']:g} GeV, "
            f"LOT = {s['leptons_on_target']:.3g}, x_min = {s['x_min']:g}, "
            f"L_T = {s['thickness_cm']:.4g} cm; eps_lim with N_up = {n_up:.4g}\n"
            if isinstance(n_up, float)
            else f"{name}\n"
        )
        out.write("  " + f"{'m_chi [GeV]':>12}" + "".join(f"{c:>12}" for c in chans) + "\n")
        for i, m in enumerate(mass):
            row = [float(lim.sel(experiment=name, channel=c).values[i]) for c in chans]
            out.write("  " + f"{m:>12.4g}" + "".join(f"{_fmt(v):>12}" for v in row) + "\n")
        out.write("\n")
    out.write("('-': no signal in that channel; 'masked': point not converged or missing)\n")
    return out.getvalue()


def run(args) -> int:
    if args.format not in FORMATS:
        raise McpdaskError(f"unknown format {args.format!r}; allowed: {', '.join(FORMATS)}")
    ds, settings, messages = compute_limits(args)
    for msg in messages:
        print(f"mcpdask limits: warning: {msg}", file=sys.stderr)
    sys.stdout.write(render(ds, settings, args.channels, args.format))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "limits",
        help="epsilon limits versus mass from a stored cube",
        description="Print eps_lim(m_chi) = sqrt(N_up / N_sig(eps=1)) per experiment and channel, "
        "derived from the stored dsigma/dx without new integrations.",
    )
    add_common_arguments(parser)
    parser.add_argument("--format", default="table", choices=FORMATS, help="output format")
    parser.set_defaults(func=run)
