"""Where a scan runs (mcpdask.cluster): jobqueue profiles, dry-run job scripts, and bad input that
must fail within seconds (unknown profile, no sbatch/qsub, unreachable scheduler).

These need no batch system; the real Slurm runs are in test_slurm.py (-m slurm).
"""

import sys
import textwrap
import time
from pathlib import Path

import pytest

import mcpdask
from mcpdask import cluster
from mcpdask.cli import main
from mcpdask.cli.scan import parse_adapt
from mcpdask.errors import ConfigError, McpdaskError

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick.yaml"
PROFILES = ROOT / "deploy" / "jobqueue.yaml"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _default_profiles(monkeypatch):
    monkeypatch.delenv(cluster.ENV_CONFIG, raising=False)


@pytest.fixture
def no_batch_system(monkeypatch, tmp_path):
    """A PATH with neither sbatch nor qsub (this machine may have a local Slurm installed)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def run_cli(args, capsys):
    code = main(["scan", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------------------
# profiles and dry runs


def test_shipped_profiles_are_valid_and_small():
    profiles = cluster.load_profiles(PROFILES)
    assert set(profiles) == {"slurm", "pbs"}
    for p in profiles.values():
        kw = p.cluster_kwargs()
        assert kw["cores"] == 1 and kw["processes"] == 1 and kw["memory"] == "2GB"
        assert kw["python"] == sys.executable  # python: null -> the running interpreter
        assert kw["local_directory"].startswith("/tmp/")
        assert kw["scheduler_options"]["dashboard_address"] == ":0"


@pytest.mark.parametrize(
    "name, directives",
    [
        (
            "pbs",
            [
                "#PBS -N mcpdask-worker",
                "#PBS -l select=1:ncpus=1:mem=2GB",
                "#PBS -l walltime=01:00:00",
                "#PBS -j oe",
            ],
        ),
        (
            "slurm",
            [
                "#SBATCH -J mcpdask-worker",
                "#SBATCH --cpus-per-task=1",
                "#SBATCH --mem=2G",
                "#SBATCH -t 01:00:00",
            ],
        ),
    ],
)
def test_dry_run_prints_the_job_script_and_submits_nothing(
    name, directives, tmp_path, capsys, no_batch_system
):
    store = tmp_path / "s.zarr"
    start = time.perf_counter()
    code, out, err = run_cli([QUICK, "--store", store, "--jobqueue", name, "--dry-run"], capsys)
    assert code == 0, err
    assert time.perf_counter() - start < 30
    assert out.splitlines()[1] == "#!/usr/bin/env bash"
    for line in directives:
        assert line in out.splitlines(), line
    worker = [line for line in out.splitlines() if "distributed.cli.dask_worker" in line]
    assert len(worker) == 1
    assert worker[0].startswith(f"{sys.executable} -m distributed.cli.dask_worker tcp://")
    assert "--nthreads 1" in worker[0] and "--local-directory /tmp/mcpdask-dask-worker" in worker[0]
    assert "nothing submitted" in out.splitlines()[0] and "6 points" in out.splitlines()[0]
    assert not store.exists()


def write_profiles(tmp_path, text) -> Path:
    path = tmp_path / "jobqueue.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_own_profile_file_with_site_settings(tmp_path, capsys, monkeypatch, no_batch_system):
    path = write_profiles(
        tmp_path,
        """\
        profiles:
          big:
            kind: slurm
            cores: 4
            memory: 16GB
            walltime: "12:00:00"
            queue: long
            account: physics
            job_extra_directives: ["--qos=normal", "--constraint=ib"]
            job_script_prologue: ["source /opt/venv/bin/activate"]
            python: /opt/venv/bin/python
            local_directory: $TMPDIR
    """,
    )
    monkeypatch.setenv(cluster.ENV_CONFIG, str(path))
    code, out, err = run_cli([QUICK, "--jobqueue", "big", "--jobs", "3", "--dry-run"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    for line in (
        "#SBATCH -p long",
        "#SBATCH -A physics",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=15G",
        "#SBATCH -t 12:00:00",
        "#SBATCH --qos=normal",
        "#SBATCH --constraint=ib",
        "source /opt/venv/bin/activate",
    ):
        assert line in lines, line
    assert "/opt/venv/bin/python -m distributed.cli.dask_worker" in out
    assert "--local-directory $TMPDIR" in out and "3 job(s)" in lines[0]


def test_unknown_profile_names_the_known_ones(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    start = time.perf_counter()
    code, out, err = run_cli([QUICK, "--store", store, "--jobqueue", "slrum"], capsys)
    assert code == 2 and time.perf_counter() - start < 10
    assert (
        "jobqueue profile 'slrum': no such profile" in err and "known profiles: pbs, slurm" in err
    )
    assert "Traceback" not in err and not store.exists()


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "kind: pbs\n    cores: 1\n    memory: 1GB\n    colors: 3",
            "profiles.x.colors: unknown setting",
        ),
        (
            "kind: lsf\n    cores: 1\n    memory: 1GB",
            "profiles.x.kind: 'lsf' is not one of slurm, pbs",
        ),
        ("kind: pbs\n    cores: 1\n    memory: 1GB\n    job_mem: 1GB", "job_mem: applies to slurm"),
        ("kind: slurm\n    cores: 0\n    memory: 1GB", "profiles.x.cores: must be a whole number"),
        ("kind: slurm\n    cores: 1", "profiles.x.memory: required"),
        ("kind: slurm\n    cores: 1\n    memory: 1GB\n    jobs: -1", "profiles.x.jobs: must be"),
        (
            "kind: slurm\n    cores: 1\n    memory: 1GB\n    job_extra_directives: --qos=a",
            "job_extra_directives: must be a list",
        ),
    ],
)
def test_bad_profiles_are_config_errors_naming_file_and_key(tmp_path, body, message):
    path = write_profiles(tmp_path, f"profiles:\n  x:\n    {body}\n")
    with pytest.raises(ConfigError, match="jobqueue.yaml: ") as info:
        cluster.get_profile("x", path)
    assert message in str(info.value)


def test_missing_profiles_file_is_a_clear_error(tmp_path, capsys):
    code, out, err = run_cli(
        [QUICK, "--jobqueue", "slurm", "--jobqueue-config", tmp_path / "nope.yaml", "--dry-run"],
        capsys,
    )
    assert code == 2 and "no jobqueue profiles file" in err


@pytest.mark.parametrize("text, expected", [("0:4", (0, 4)), ("2:2", (2, 2))])
def test_parse_adapt(text, expected):
    assert parse_adapt(text) == expected


@pytest.mark.parametrize("text", ["4", "4:1", "a:b", "-1:2", "0:0", "1:2:3"])
def test_bad_adapt_is_an_error(text):
    with pytest.raises(McpdaskError, match="--adapt"):
        parse_adapt(text)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--jobs", "2"], "--jobs needs --jobqueue NAME"),
        (["--adapt", "0:2"], "--adapt needs --jobqueue NAME"),
        (["--dry-run"], "--dry-run needs --jobqueue NAME"),
        (["--jobqueue", "slurm", "--workers", "2"], "--workers applies to the LocalCluster"),
        (["--jobqueue", "slurm", "--adapt", "3:1"], "need 0 <= MIN <= MAX"),
    ],
)
def test_option_misuse_is_a_one_line_error(tmp_path, capsys, args, message):
    store = tmp_path / "s.zarr"
    code, out, err = run_cli([QUICK, "--store", store, *args], capsys)
    assert code == 2 and message in err and not store.exists()


# ------------------------------------------------------------------------------------------
# no batch system, no scheduler: errors within seconds, store untouched


@pytest.mark.parametrize("name, command", [("slurm", "sbatch"), ("pbs", "qsub")])
def test_no_submit_command_is_an_error_within_seconds(
    name, command, tmp_path, capsys, no_batch_system
):
    store = tmp_path / "s.zarr"
    start = time.perf_counter()
    code, out, err = run_cli([QUICK, "--store", store, "--jobqueue", name], capsys)
    assert code == 2 and time.perf_counter() - start < 10
    assert f"{command} is not on PATH" in err and "Traceback" not in err
    assert not store.exists()
    with pytest.raises(McpdaskError, match=f"{command} is not on PATH"):
        cluster.BatchCluster(cluster.get_profile(name))


def test_unreachable_scheduler_is_an_error_within_seconds(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tmp_path / "s.zarr"
    start = time.perf_counter()
    code, out, err = run_cli(
        [QUICK, "--store", store, "--scheduler", f"tcp://127.0.0.1:{port}"], capsys
    )
    elapsed = time.perf_counter() - start
    assert code == 2 and elapsed < cluster.CONNECT_TIMEOUT_S + 5, elapsed
    assert f"cannot reach a Dask scheduler at tcp://127.0.0.1:{port} within 5 s" in err
    assert not store.exists()


def test_malformed_scheduler_address_is_an_error(capsys):
    with pytest.raises(McpdaskError, match="expected an address like tcp://host:8786"):
        cluster.connect("localhost")


# ------------------------------------------------------------------------------------------
# the scan's client factory hook: a batch cluster starts only when there is work


def test_a_cluster_is_started_only_when_points_are_missing(tmp_path, monkeypatch, fake_point):
    """scan() enters client_for(run_on) only when there is something to compute."""
    import contextlib

    from distributed import LocalCluster

    started = []

    @contextlib.contextmanager
    def local(n_workers):
        with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as lc:
            started.append(lc)
            yield lc

    monkeypatch.setattr(cluster, "_local_cluster", local)
    store = tmp_path / "f.zarr"
    report = mcpdask.scan(QUICK, store, progress=False, point_function=fake_point)
    assert report.n_written == 6 and len(started) == 1 and started[0].status.name == "closed"
    report = mcpdask.scan(QUICK, store, progress=False, point_function=fake_point)
    assert report.n_submitted == 0 and len(started) == 1  # complete store: no cluster started


def test_run_on_refuses_contradictions():
    for kwargs, message in [
        ({"scheduler": "tcp://h:1", "jobqueue": "slurm"}, "not both"),
        ({"workers": 0}, "must be >= 1"),
        ({"jobs": 2}, "needs a jobqueue profile"),
        ({"jobqueue": "slurm", "jobs": 2, "adapt": (0, 2)}, "not both"),
        ({"jobqueue": "slurm", "adapt": (3, 1)}, "need 0 <= min <= max"),
    ]:
        with pytest.raises(McpdaskError, match=message):
            cluster.RunOn(**kwargs)
    with pytest.raises(McpdaskError, match="client or a place to run"):
        mcpdask.scan(QUICK, "x.zarr", object(), run_on=cluster.RunOn())


def fake_command(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_a_refused_job_is_an_error_not_a_hang(tmp_path, monkeypatch, no_batch_system):
    """qsub/sbatch saying no (bad queue, account, resources) stops the scan within seconds."""
    import os

    bin_dir = Path(os.environ["PATH"])
    fake_command(
        bin_dir, "qsub", 'echo "qsub: Unknown queue MSG=requested queue not found" >&2\nexit 1\n'
    )
    start = time.perf_counter()
    with pytest.raises(McpdaskError, match="qsub refused the worker job: qsub: Unknown queue"):
        cluster.BatchCluster(cluster.get_profile("pbs", PROFILES), jobs=1)
    # Slurm: the job script is checked with `sbatch --test-only` before anything is submitted
    fake_command(
        bin_dir, "sbatch", 'echo "sbatch: error: invalid partition specified: x" >&2\nexit 1\n'
    )
    with pytest.raises(McpdaskError, match="Slurm refuses the worker job .*invalid partition"):
        cluster.BatchCluster(cluster.get_profile("slurm", PROFILES), adapt=(0, 2))
    assert time.perf_counter() - start < 30
