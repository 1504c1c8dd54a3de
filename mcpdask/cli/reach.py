"""`mcpdask reach STORE --reference FILE_OR_DIR`: where each experiment beats existing bounds."""

from __future__ import annotations

import sys
import warnings

import numpy as np

LIMIT_OPTIONS = True


def register(subparsers):
    parser = subparsers.add_parser(
        "reach",
        help="mass windows and eps ranges where the limits beat existing bounds",
        description="For each experiment and channel, the mass windows where eps_lim(m) lies below "
        "the lower edge of the existing exclusion (the union of the reference curves).",
    )
    parser.add_argument("store", metavar="STORE", help="path of the cube (Zarr store)")
    parser.add_argument(
        "--reference", action="append", metavar="FILE_OR_DIR",
        help="CSV of an existing bound (mass_GeV,eps) or a directory of them (repeatable; "
        "default: the bounds shipped with mcpdask)",
    )  # fmt: skip
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    from mcpdask.cube import open_cube
    from mcpdask.limits import limits_dataset, reach_window
    from mcpdask.references import read_reference_curves
    from mcpdask.views.tables import shown_channels

    request = args.request
    references = read_reference_curves(args.reference, require_source=False)
    cube = open_cube(args.store)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = limits_dataset(cube, request.exposure, request.statistics,
                            experiment=request.experiment, energy=request.energy,
                            channels=request.channels).compute()  # fmt: skip
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"mcpdask reach: warning: {w.message}", file=sys.stderr)
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
