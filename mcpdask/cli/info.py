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


def run(args: argparse.Namespace) -> int:
    from mcpdask.cube import describe

    print(describe(args.store))
    return 0
