"""`mcpdask info STORE`: what a cube holds, in a few readable lines."""

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info",
        help="summarise a cross-section cube",
        description="Summarise what a cross-section cube (Zarr store) holds.",
    )
    p.add_argument("store", type=Path, help="the cube's Zarr store")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from mcpdask.views.tables import cube_summary

    print(cube_summary(args.store))
    return 0
