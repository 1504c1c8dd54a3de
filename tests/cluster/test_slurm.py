"""Scans on a real Slurm (deploy/slurm-local.sh): the quick scan through `--jobqueue slurm`, proven
by Slurm's own records to have run in Slurm jobs, gives the same cube as a LocalCluster; a worker
job cancelled mid-scan does not lose a point, and is replaced.

Run with `bash deploy/slurm-local.sh && python -m pytest -m slurm` (about 2 minutes on 2 cores).
Slurm's job history here is the job-completion file of slurm-local.sh (jobcomp/filetxt: there is
no slurmdbd, so `sacct` has no data) together with `squeue` and `scontrol show job`.
"""

import logging
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import mcpdask
from mcpdask import cluster
from mcpdask.cli import main
from mcpdask.scanning import compute_point

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.yaml"
PROFILES = ROOT / "deploy" / "jobqueue.yaml"
JOBCOMP = Path("/var/log/slurm/jobcomp.txt")
NUMBERS = ("dsigma_dx", "dsigma_dx_err", "sigma", "sigma_err", "chi2_dof", "Q", "n_eval", "status")

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]


@pytest.fixture(scope="module", autouse=True)
def slurm_up():
    """Fail (not skip) with the fix when the marked tests run without a local Slurm."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        pytest.fail("no Slurm on PATH: run `bash deploy/slurm-local.sh` first")
    state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    if state.returncode != 0 or not {"idle", "mix"} & set(state.stdout.split()):
        pytest.fail(
            f"Slurm is not up ({state.stdout.strip() or state.stderr.strip()}): "
            "run `bash deploy/slurm-local.sh` first"
        )


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch, tmp_path):
    """Jobs' slurm-<id>.out files land in the test's directory; the shipped profiles are used."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(cluster.ENV_CONFIG, str(PROFILES))


def jobcomp(job_id) -> dict[str, str]:
    """Slurm's completion record of a job (JobId=.. Name=.. JobState=.. ...), waiting for it."""
    for _ in range(100):
        for line in JOBCOMP.read_text().splitlines():
            if line.startswith(f"JobId={job_id} "):
                return dict(re.findall(r"(\w+)=(\S*)", line))
        time.sleep(0.2)
    raise AssertionError(f"Slurm has no completion record of job {job_id} in {JOBCOMP}")


def squeue_states() -> dict[str, str]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i %T %j"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[0]: line.split()[1] for line in out.splitlines() if line.strip()}


def assert_same_cube(store, reference):
    a, b = mcpdask.open_cube(store).compute(), mcpdask.open_cube(reference).compute()
    for name in ("experiment", "energy", "mass", "x"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    for name in NUMBERS:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert (a.status.values > 0).sum() == 6


# ------------------------------------------------------------------------------------------


def test_quick_scan_through_slurm_jobs_equals_localcluster(quick_cube_store, tmp_path, capsys):
    store = tmp_path / "quick.zarr"
    start = time.perf_counter()
    code = main(
        [
            "scan",
            str(QUICK),
            "--store",
            str(store),
            "--jobqueue",
            "slurm",
            "--jobs",
            "2",
            "--no-progress",
        ]
    )
    out, err = capsys.readouterr()
    wall = time.perf_counter() - start
    assert code == 0, out + err
    assert "6 computed" in out and "LocalCluster" not in out
    ids = re.search(r"submitted jobs (\d+), (\d+)", out).groups()

    # Slurm's own records: two batch jobs named mcpdask-worker ran on the node and were ended
    # (scancel) by the scan when it closed its cluster
    for job_id in ids:
        rec = jobcomp(job_id)
        assert rec["Name"] == "mcpdask-worker" and rec["NodeList"] == "localhost", rec
        assert rec["JobState"] in ("CANCELLED", "COMPLETED"), rec
        assert rec["Tres"].startswith("cpu=1,mem=2G"), rec  # the profile's resources
        show = subprocess.run(
            ["scontrol", "show", "job", job_id], capture_output=True, text=True
        ).stdout
        assert f"JobId={job_id} JobName=mcpdask-worker" in show and "BatchFlag=1" in show
        assert f"StdOut={tmp_path / f'slurm-{job_id}.out'}" in show, show
    # inside the jobs, Dask workers connected to the scan's scheduler (the 6 points take ~1 s:
    # the first worker up may compute them all, and the other job be cancelled while starting)
    logs = [(tmp_path / f"slurm-{job_id}.out").read_text() for job_id in ids]
    assert any("Registered to:" in log for log in logs), logs
    assert_same_cube(store, quick_cube_store)
    print(f"quick scan through 2 Slurm jobs: {wall:.1f} s")

    # a rerun on the complete store submits no Slurm job at all
    before = JOBCOMP.read_text()
    assert (
        main(["scan", str(QUICK), "--store", str(store), "--jobqueue", "slurm", "--no-progress"])
        == 0
    )
    again = capsys.readouterr().out
    assert "nothing to compute" in again and "submitted" not in again
    assert JOBCOMP.read_text() == before
    assert all(int(j) <= max(map(int, ids)) for j in squeue_states())


def test_adaptive_slurm_cluster_extends_the_cube(quick_cube_store, tmp_path, capsys):
    """--adapt 0:2 starts with no job, submits jobs for the work, and the cube gains a mass."""
    store = tmp_path / "quick.zarr"
    shutil.copytree(quick_cube_store, store)
    config = tmp_path / "quick.yaml"
    config.write_text(QUICK.read_text().replace("[0.01, 0.1, 0.5]", "[0.01, 0.1, 0.5, 0.2]"))
    n_before = len(JOBCOMP.read_text().splitlines())
    assert (
        main(
            [
                "scan",
                str(config),
                "--store",
                str(store),
                "--jobqueue",
                "slurm",
                "--adapt",
                "0:2",
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "adaptive, 0 to 2 jobs" in out and "2 computed" in out, out
    new = JOBCOMP.read_text().splitlines()[n_before:]
    for _ in range(100):  # a cancelled job's record is written as it ends
        if new:
            break
        time.sleep(0.2)
        new = JOBCOMP.read_text().splitlines()[n_before:]
    assert new and all("Name=mcpdask-worker" in line for line in new), new
    ds = mcpdask.open_cube(store)
    assert int((ds.status.sel(mass=0.2) > 0).sum()) == 2
    for name in NUMBERS:  # the old points are untouched
        np.testing.assert_array_equal(
            ds[name].sel(mass=[0.01, 0.1, 0.5]).values,
            mcpdask.open_cube(quick_cube_store)[name].values,
        )


# ------------------------------------------------------------------------------------------
# pre-emption: one worker job cancelled while it computes a point


def slow_point(task):
    """The real physics, 2 s slower: long enough to cancel a job in the middle of a point."""
    time.sleep(2.0)
    return compute_point(task)


def test_cancelled_worker_job_mid_scan_loses_no_point(quick_cube_store, tmp_path, monkeypatch):
    import dask
    from distributed import get_task_stream

    # the worker jobs inherit this environment (sbatch --export=ALL): they can import slow_point
    path = [str(Path(__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    messages = []  # what the batch cluster logs (mcpdask.cluster.jobqueue)
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("mcpdask")
    monkeypatch.setattr(logger, "level", logging.INFO)
    logger.addHandler(handler)
    # forget a lost job after 2 s (default 15 s), so that its replacement is seen within the test
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "2s"}):
        batch = cluster.BatchCluster(cluster.get_profile("slurm"), jobs=2, replace_interval_s=1.0)
        try:
            with batch.client() as client:
                client.wait_for_workers(2, timeout=120)
                job_of = {w: j for w, j in client.run(_slurm_job_id).items()}
                assert all(job_of.values()), job_of  # every worker runs inside a Slurm job
                first_jobs = set(job_of.values())
                assert first_jobs == set(batch.job_ids())
                assert {squeue_states()[j] for j in first_jobs} == {"RUNNING"}

                store = tmp_path / "quick.zarr"
                result = {}

                def run():
                    result["report"] = mcpdask.scan(
                        QUICK, store, client, progress=False, point_function=slow_point
                    )

                with get_task_stream(client) as stream:
                    thread = threading.Thread(target=run)
                    thread.start()
                    victim, key = _wait_for_a_point_in_flight(client)
                    victim_job = job_of[victim]
                    subprocess.run(["scancel", victim_job], check=True)
                    cancelled_at = time.time()
                    thread.join(timeout=240)
                    assert not thread.is_alive()
                report = result["report"]
                assert report.n_written == 6 and report.n_lost == 0, report.summary()
                assert_same_cube(store, quick_cube_store)

                # the interrupted point was finished by another worker; every point ran in a
                # Slurm job
                done = {
                    t["key"]: t["worker"] for t in stream.data if "mcpdask-point" in str(t["key"])
                }
                assert len(done) == 6 and done[key] != victim
                assert all(w in job_of or _slurm_job_id_of(client, w) for w in done.values())
                rec = jobcomp(victim_job)
                assert rec["JobState"] == "CANCELLED" and rec["Name"] == "mcpdask-worker", rec

                # the lost job is replaced by a new Slurm job while the cluster lives
                deadline = cancelled_at + 60
                while time.time() < deadline and not (set(batch.job_ids()) - first_jobs):
                    time.sleep(0.5)
                replacement = set(batch.job_ids()) - first_jobs
                assert replacement, messages
                assert any("lost; submitting replacements" in m for m in messages)
                client.wait_for_workers(2, timeout=120)
                print(
                    f"cancelled Slurm job {victim_job} while it computed {key}; that point was "
                    f"finished by {done[key]}; replacement job(s) {', '.join(replacement)}"
                )
        finally:
            batch.close()
            logger.removeHandler(handler)


def _slurm_job_id():
    import os

    return os.environ.get("SLURM_JOB_ID")


def _slurm_job_id_of(client, worker):
    return client.run(_slurm_job_id, workers=[worker]).get(worker)


def _wait_for_a_point_in_flight(client, timeout=60.0):
    """(worker, key) of a point task that a worker is computing, once one is under way."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for worker, keys in client.processing().items():
            points = [k for k in keys if "mcpdask-point" in str(k)]
            if points:
                time.sleep(0.5)  # well inside the 2 s of slow_point
                return worker, points[0]
        time.sleep(0.05)
    raise AssertionError("no point started within a minute")
