"""The `mcpdask` command: a thin shell that parses arguments and calls the library.

Each subcommand lives in its own module of this package with a `register(subparsers)` function
that adds its parser and sets `func` (called with the parsed namespace, returns an exit code).
"""

import argparse
import importlib
import sys

from mcpdask import __version__
from mcpdask.errors import McpdaskError

COMMAND_MODULES = ["xsec", "scan", "info", "limits", "reach", "browse", "figures"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcpdask",
        description="Millicharged-particle reach of lepton fixed-target missing-energy experiments.",
    )
    parser.add_argument("--version", action="version", version=f"mcpdask {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"mcpdask.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; user errors print one line on stderr and exit with code 2, no traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except McpdaskError as exc:
        print(f"mcpdask {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mcpdask {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
