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
                       help="run the workers as Slurm/PBS jobs: a profile of deploy/jobqueue.yaml "
                            "(slurm, pbs, or one of your own)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="LocalCluster worker processes (default: one per core)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--jobs", type=int, default=None, metavar="N",
                      help="with --jobqueue: N worker jobs (default: the profile's 'jobs')")
    size.add_argument("--adapt", metavar="MIN:MAX", default=None,
                      help="with --jobqueue: between MIN and MAX worker jobs, as the work needs")
    p.add_argument("--jobqueue-config", type=Path, default=None, metavar="PATH",
                   help="profiles file (default: $MCPDASK_JOBQUEUE_CONFIG, ./deploy/jobqueue.yaml, "
                        "or the mcpdask source's deploy/jobqueue.yaml)")
    p.add_argument("--dry-run", action="store_true",
                   help="with --jobqueue: print the job script a worker job would submit, and stop")
    p.add_argument("--retry-failed", action="store_true",
                   help="also recompute points stored as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mcpdask import cluster
    from mcpdask.experiments import load_scan
    from mcpdask.scan import default_store, scan

    if args.workers is not None and args.workers < 1:
        raise McpdaskError(f"--workers must be >= 1, got {args.workers}")
    if args.jobqueue is None:
        for flag, value in (("--jobs", args.jobs), ("--adapt", args.adapt),
                            ("--dry-run", args.dry_run or None),
                            ("--jobqueue-config", args.jobqueue_config)):
            if value is not None:
                raise McpdaskError(f"{flag} needs --jobqueue NAME")
    elif args.workers is not None:
        raise McpdaskError("--workers applies to the LocalCluster; with --jobqueue use --jobs N")
    adapt = cluster.parse_adapt(args.adapt) if args.adapt is not None else None
    spec = load_scan(args.config)
    if args.dry_run:
        profile = cluster.get_profile(args.jobqueue, args.jobqueue_config)
        jobs = f"--adapt {args.adapt}" if adapt else f"{args.jobs or profile.jobs} job(s)"
        print(f"# mcpdask scan {spec.name} ({len(spec.points())} points), --jobqueue "
              f"{profile.name} ({profile.system}, {jobs}) from {profile.source}; dry run, "
              "nothing submitted. Each worker job runs:", flush=True)
        print(cluster.job_script(profile))
        return 0
    store = args.store
    where = store if store is not None else default_store(spec)
    client = None
    if args.jobqueue is not None:
        client = cluster.client_factory(args.jobqueue, jobs=args.jobs, adapt=adapt,
                                        config=args.jobqueue_config,
                                        log=lambda m: print(m, flush=True))
    print(f"mcpdask scan: {spec.name} ({len(spec.points())} points) -> {where}", flush=True)
    if args.scheduler is not None:
        if args.workers is not None:
            raise McpdaskError("--workers applies to the LocalCluster, not to --scheduler")
        client = cluster.connect(args.scheduler)
    try:
        report = scan(spec, store, client, n_workers=args.workers, progress=not args.no_progress,
                      retry_failed=args.retry_failed, log=lambda m: print(m, flush=True))
    finally:
        if args.scheduler is not None and client is not None:
            client.close()
    print(report.summary())
    for point, why in report.lost:
        print(f"  lost {point}: {why}", file=sys.stderr)
    return 1 if report.n_lost else 0

