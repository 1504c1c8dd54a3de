"""`mcpdask reach STORE --reference FILE_OR_DIR`: where each experiment beats existing bounds."""

from __future__ import annotations

import sys

import numpy as np

from mcpdask.cli.limits import add_common_arguments, compute_limits, shown_channels


def run(args) -> int:
    from mcpdask.reach import reach_window
    from mcpdask.references import read_reference_curves

    references = read_reference_curves(args.reference, require_source=False)
    ds, settings, messages = compute_limits(args)
    for msg in messages:
        print(f"mcpdask reach: warning: {msg}", file=sys.stderr)
    names = ", ".join(r.name for r in references)
    print(f"reference: {names}")
    for name in settings:
        for channel in shown_channels(ds, name, args.channels):
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


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reach",
        help="mass windows and eps ranges where the limits beat existing bounds",
        description="For each experiment and channel, the mass windows where eps_lim(m) lies below "
        "the lower edge of the existing exclusion (the union of the reference curves).",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--reference",
        required=True,
        action="append",
        metavar="FILE_OR_DIR",
        help="CSV of an existing bound (mass_GeV,eps) or a directory of them (repeatable)",
    )
    parser.set_defaults(func=run)
