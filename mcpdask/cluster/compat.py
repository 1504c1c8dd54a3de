"""Workarounds that reach into private dask-jobqueue and distributed API, all in one place.

Written against dask-jobqueue 0.9.0 and distributed 2026.8.0; pyproject.toml pins the versions
they are known to work with (dask-jobqueue < 0.10, distributed < 2027), so that an upgrade that
changes these internals shows up as a deliberate version bump, not as a broken scan. Each
function says what it relies on.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "closing_job_class",
    "correct_state",
    "mark_unstarted_jobs_failed",
    "submit_pending_jobs",
]

_JOB_CLASSES: dict[type, type] = {}


def closing_job_class(base: type) -> type:
    """`base` (SLURMJob, PBSJob) whose close() also marks the job closed.

    dask-jobqueue's Job.close() cancels the job but leaves its status 'running'; closing the
    cluster then fails an assertion (AssertionError: Status.running) for every job object still
    referenced somewhere, after all jobs were cancelled. Relies on Job.status being settable.
    """
    if base not in _JOB_CLASSES:
        from distributed.core import Status

        async def close(self):
            try:
                await base.close(self)
            finally:
                self.status = Status.closed

        _JOB_CLASSES[base] = type(base.__name__, (base,), {"close": close, "__module__": __name__})
    return _JOB_CLASSES[base]


def submit_pending_jobs(cluster: Any) -> None:
    """Submit the jobs of `cluster.worker_spec` now and wait for sbatch/qsub, so that a refusal
    raises here (cluster.scale() would submit in the background and only log it). Relies on the
    private SpecCluster._correct_state coroutine."""
    cluster.sync(cluster._correct_state)


async def correct_state(cluster: Any) -> None:
    """Bring the running jobs in line with `cluster.worker_spec` (submits replacements for lost
    jobs). Relies on the private SpecCluster._correct_state coroutine."""
    await cluster._correct_state()


def mark_unstarted_jobs_failed(cluster: Any) -> None:
    """Jobs that sbatch/qsub refused never started: mark them failed so that closing the cluster
    does not wait for them. Relies on the private SpecCluster._created set of job objects."""
    from distributed.core import Status

    for job in getattr(cluster, "_created", ()):
        if getattr(job, "status", None) == Status.created:
            job.status = Status.failed
