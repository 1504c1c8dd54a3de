"""`mcpdask scan CONFIG`: run a scan into a Zarr cube on Dask (LocalCluster by default)."""

import argparse
import sys
from pathlib import Path

from mcpdask.errors import McpdaskError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "scan",
        help="compute the cross-section cube of a scan config on Dask",
        description=(
            "Compute every (experiment, energy, mass) point of a scan config as a Dask task and "
            "write each to a Zarr cube as it finishes. Rerunning computes only missing points; "
            "new masses or energies extend the cube."
        ),
    )
    p.add_argument("config", type=Path, help="scan YAML, e.g. configs/quick.yaml")
    p.add_argument("--store", type=Path, default=None,
                   help="Zarr store of the cube (default: ./mcpdask-store/<scan name>.zarr)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="address of a running Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--jobqueue", metavar="NAME", default=None,
                       help="a dask-jobqueue cluster from deploy/ (Slurm, PBS)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="LocalCluster worker processes (default: one per core)")
    p.add_argument("--retry-failed", action="store_true",
                   help="also recompute points stored as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mcpdask.experiments import load_scan
    from mcpdask.scan import default_store, scan

    if args.workers is not None and args.workers < 1:
        raise McpdaskError(f"--workers must be >= 1, got {args.workers}")
    if args.jobqueue is not None:
        raise McpdaskError(
            f"--jobqueue {args.jobqueue}: dask-jobqueue clusters are not yet available; start "
            "workers yourself and pass --scheduler ADDRESS"
        )
    spec = load_scan(args.config)
    store = args.store
    where = store if store is not None else default_store(spec)
    print(f"mcpdask scan: {spec.name} ({len(spec.points())} points) -> {where}", flush=True)
    client = None
    if args.scheduler is not None:
        if args.workers is not None:
            raise McpdaskError("--workers applies to the LocalCluster, not to --scheduler")
        client = _connect(args.scheduler)
    try:
        report = scan(spec, store, client, n_workers=args.workers, progress=not args.no_progress,
                      retry_failed=args.retry_failed, log=lambda m: print(m, flush=True))
    finally:
        if client is not None:
            client.close()
    print(report.summary())
    for point, why in report.lost:
        print(f"  lost {point}: {why}", file=sys.stderr)
    return 1 if report.n_lost else 0


def _connect(address: str):
    from distributed import Client

    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise McpdaskError(f"cannot reach a Dask scheduler at {address}: {exc}") from None
