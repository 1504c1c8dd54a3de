"""`mcpdask reach STORE`: where each experiment beats existing bounds (the shipped ones, `--overlay`)."""

from __future__ import annotations

import sys

import numpy as np

LIMIT_OPTIONS = True
OVERLAY_OPTIONS = True


def register(subparsers):
    parser = subparsers.add_parser(
        "reach",
        help="mass windows and eps ranges where the limits beat existing bounds",
        description="For each experiment and channel, the mass windows where eps_lim(m) lies below "
        "the lower edge of the existing exclusion (the union of the reference curves).",
    )
    parser.add_argument("store", metavar="STORE", help="path of the cube (Zarr store)")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    from mcpdask.cube import open_cube
    from mcpdask.limits import reach_window
    from mcpdask.views.tables import derive_limits, shown_channels

    request = args.request
    references = args.overlays
    cube = open_cube(args.store)
    ds, messages = derive_limits(cube, request)
    for message in messages:
        print(f"mcpdask reach: warning: {message}", file=sys.stderr)
    print(f"reference: {', '.join(r.name for r in references)}")
    for name in request.experiment or [str(e) for e in cube["experiment"].values]:
        for channel in shown_channels(ds, name, request.channels):
            curve = ds["eps_limit"].sel(experiment=name, channel=channel)
            label = f"{name} ({channel})"
            if np.isposinf(curve.values).all():
                print(f"{label} has no signal at any scanned mass")
                continue
            windows = reach_window(curve, references)
            if not windows:
                print(f"{label} does not beat the reference at any scanned mass")
            for window in windows:
                print(window.describe(label))
    return 0
