"""`mcpdask figures STORE --out DIR`: the paper's static figures (a)-(d) as PDF and PNG."""

from __future__ import annotations

import sys
import time
import warnings

from mcpdask.errors import PhysicsInputError

LIMIT_OPTIONS = True
OVERLAY_OPTIONS = True
QUIET_S = 5.0
"""Without -v, a progress line of figure (d) at most this often (seconds)."""


def _masses(text: str | None):
    if text is None:
        return None
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise PhysicsInputError(f"--ratio-masses: not a list of numbers: {text!r}") from None


def progress_printer(verbose: bool):
    """A progress callback: every figure's start line; the points of (d) each with -v, else
    at most one line every QUIET_S seconds and the last one."""
    last = [0.0]

    def progress(msg: str) -> None:
        now = time.monotonic()
        head = msg.split(" ", 1)[0]
        done, _, total = head.partition("/")
        point = done.isdigit() and total.isdigit()
        if point and not verbose and done != total and now - last[0] < QUIET_S:
            return
        last[0] = now
        print(f"  figure (d): {msg}" if point else msg, file=sys.stderr, flush=True)

    return progress


def run(args) -> int:
    from mcpdask.cube import open_cube
    from mcpdask.views.figures import write_figures

    request = args.request
    methods = [m.strip() for m in args.ratio_methods.split(",") if m.strip()]
    figures = [f.strip() for f in args.only.split(",")] if args.only else None
    cube = open_cube(args.store)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = _write(cube, args, request, methods, figures, write_figures)
    seen = set()
    for w in caught:
        if issubclass(w.category, UserWarning) and str(w.message) not in seen:
            seen.add(str(w.message))
            print(f"mcpdask figures: warning: {w.message}", file=sys.stderr)
    for r in records:
        print(f"{r['figure']:<16} {r['seconds']:6.1f} s  " + "  ".join(str(p) for p in r["paths"]))
    return 0


def _write(cube, args, request, methods, figures, write_figures):
    return write_figures(
        cube,
        args.out,
        args.overlays,
        ratio_methods=methods,
        ratio_masses=_masses(args.ratio_masses),
        figures=figures,
        progress=None if args.quiet else progress_printer(args.verbose),
        exposure=request.exposure,
        statistics=request.statistics,
        experiment=request.experiment,
        energy=request.energy,
        channels=request.channels,
        precision_tolerance=request.precision_tolerance,
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "figures",
        help="static publication figures (PDF and PNG) from a stored cube",
        description="Write (a) dsigma/dx versus x, (b) sigma versus mass, (c) the reach plot "
        "(projections over the existing bounds; exposure, cut, energy and statistics from the "
        "limit options) and (d) the ETL / IWW (and WW) ratio versus mass. (d) integrates the "
        "approximations now: IWW ~0.2 s a point, WW ~1-2 s a point; progress goes to stderr.",
    )
    parser.add_argument("store", metavar="STORE", help="path of the cube (Zarr store)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--ratio-methods",
        default="iww",
        metavar="LIST",
        help="approximations for (d): iww, ww or iww,ww (default iww; ww is slow)",
    )
    parser.add_argument(
        "--ratio-masses",
        metavar="GEV,...",
        help="masses for (d), a subset of the cube's (default: all of them)",
    )
    parser.add_argument(
        "--only",
        metavar="LIST",
        help="some of: dsigma_dx, sigma, reach, ratio, recoil, acceptance (default: all the cube can carry; recoil and acceptance need recoil bins)",
    )
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true", help="report each (d) point")
    noise.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=run)
    return parser
