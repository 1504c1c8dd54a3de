"""`mcpdask figures STORE --out DIR`: the paper's static figures (a)-(d) as PDF and PNG."""

from __future__ import annotations

import sys

from mcpdask.errors import PhysicsInputError

OVERLAY_OPTIONS = True


def _masses(text: str | None):
    if text is None:
        return None
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise PhysicsInputError(f"--ratio-masses: not a list of numbers: {text!r}") from None


def run(args) -> int:
    from mcpdask.cube import open_cube
    from mcpdask.views.figures import FIGURES, write_figures

    overlays = args.overlays
    methods = [m.strip() for m in args.ratio_methods.split(",") if m.strip()]
    figures = [f.strip() for f in args.only.split(",")] if args.only else list(FIGURES)
    cube = open_cube(args.store)

    def progress(msg):
        print(f"  figure (d): {msg}", file=sys.stderr, flush=True)

    records = write_figures(
        cube,
        args.out,
        overlays,
        ratio_methods=methods,
        ratio_masses=_masses(args.ratio_masses),
        figures=figures,
        progress=progress if args.verbose else None,
    )
    for r in records:
        print(f"{r['figure']:<16} {r['seconds']:6.1f} s  " + "  ".join(str(p) for p in r["paths"]))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "figures",
        help="static publication figures (PDF and PNG) from a stored cube",
        description="Write (a) dsigma/dx versus x, (b) sigma versus mass, (c) the eps reach plot "
        "(brem, meson, combined, optional overlays) and (d) the ETL / IWW (and WW) ratio versus "
        "mass. (d) integrates the approximations now: IWW ~0.2 s a point, WW ~1-2 s a point.",
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
        "--only", metavar="LIST", help="some of: dsigma_dx, sigma, reach, ratio (default all)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="report each (d) point")
    parser.set_defaults(func=run)
    return parser
