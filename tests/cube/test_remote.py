"""Cubes over HTTP (read-only, a real http.server on 127.0.0.1) and on S3 (read-write, moto's
standalone server on 127.0.0.1, as s3fs's own tests do): round trips, the S3 lock, and a kill
mid-scan on S3 that loses only the points in flight."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

import mcpdask
import mcpdask.cube.lock as lock_module
from mcpdask import cube
from mcpdask.cli import main
from mcpdask.errors import StoreError
from mcpdask.experiments import CONFIG_DIR, load_scan
from mcpdask.scanning.point import make_task

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")
pytest.importorskip("aiohttp")

pytestmark = pytest.mark.timeout(300)

QUICK = CONFIG_DIR / "quick.yaml"
NUMBERS = ("dsigma_dx", "dsigma_dx_err", "sigma", "sigma_err", "chi2_dof", "Q", "n_eval", "status")
HERE = Path(__file__).parent

MANY = """\
name: many
experiments: [na64mu, ldmx]
mass_grid: {min_gev: 0.002, max_gev: 5.0, num: 30}
x_bins: {min: 0.0, max: 1.0, num_bins: 20}
vegas: {precision: 0.05, max_evals: 400000}
seed: 11
"""


def paced_point(task):
    """Seeded numbers after 0.15 s (a machinery-only point function, importable by a driver)."""
    from mcpdask.cube import PointResult, Status

    time.sleep(0.15)
    n = len(task.x_edges) - 1
    rng = np.random.default_rng(task.seed)
    v = float(rng.random()) + 0.1
    return PointResult(rng.random(n) + 0.1, np.full(n, 0.01), v, 0.01, 1.0, 0.5, 10, 0.0,
                       Status.CONVERGED)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    """(directory served, base URL) of a real HTTP server on 127.0.0.1."""
    root = tmp_path_factory.mktemp("www")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A bucket on moto's standalone S3 server: (s3:// URL of the bucket, env for subprocesses)."""
    import fsspec

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        time.sleep(0.1)
    conf = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    env = {
        "FSSPEC_S3_ENDPOINT_URL": endpoint,
        "FSSPEC_S3_KEY": "testing",
        "FSSPEC_S3_SECRET": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MCPDASK_LOCK_LEASE_S": "20",
    }
    saved = fsspec.config.conf.get("s3")
    fsspec.config.conf["s3"] = conf
    old_env = {k: os.environ.get(k) for k in ("AWS_DEFAULT_REGION",)}
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("cubes")
    try:
        yield "s3://cubes", env
    finally:
        if saved is None:
            fsspec.config.conf.pop("s3", None)
        else:
            fsspec.config.conf["s3"] = saved
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(timeout=10)


def numbers(store):
    ds = mcpdask.open_cube(store)
    return {n: ds[n].values for n in NUMBERS} | {
        "mass": ds.mass.values,
        "energy": ds.energy.values,
        "notes": ds.attrs["point_notes"],
    }


def assert_same(a, b):
    for name in (*NUMBERS, "mass", "energy"):
        assert np.array_equal(a[name], b[name], equal_nan=True), name
    assert a["notes"] == b["notes"]


def limits_json(store) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["limits", str(store), "--format", "json"]) == 0
    data = json.loads(out.getvalue())
    for key in ("store", "created"):  # where the cube is, when it was made: not the numbers
        data.get("assumptions", {}).pop(key, None)
    return data


def test_http_read_only_round_trip(quick_cube_store, http_root, capsys, tmp_path):
    root, base = http_root
    shutil.copytree(quick_cube_store, root / "quick.zarr")
    url = f"{base}/quick.zarr"
    assert_same(numbers(url), numbers(quick_cube_store))
    assert limits_json(url) == limits_json(quick_cube_store)
    with redirect_stdout(io.StringIO()) as out:
        assert main(["info", url]) == 0
    assert "points: 6 done" in out.getvalue() or "done of" in out.getvalue()
    with pytest.raises(StoreError, match="read-only"):
        mcpdask.scan(QUICK, url, progress=False)
    assert main(["scan", str(QUICK), "--store", url, "--no-progress"]) == 2
    assert "read-only" in capsys.readouterr().err
    with pytest.raises(StoreError, match="no such store"):
        mcpdask.open_cube(f"{base}/nothing.zarr")


def _reach_json(target) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["reach", str(target), "--format", "json"]) == 0
    data = json.loads(out.getvalue())
    data.pop("store", None)
    for key in ("store", "created"):
        data.get("assumptions", {}).pop(key, None)
    return data


def test_reach_figures_and_browser_read_an_http_cube(quick_cube_store, http_root, tmp_path):
    """The views read a cube on a web server as they read it on disk: the same reach (windows
    and limits), the reach plot and figures written, the browser's limits equal."""
    from mcpdask.views.browser import LimitBrowser

    root, base = http_root
    if not (root / "quick.zarr").exists():
        shutil.copytree(quick_cube_store, root / "quick.zarr")
    url = f"{base}/quick.zarr"
    assert _reach_json(url) == _reach_json(quick_cube_store)
    with redirect_stdout(io.StringIO()):
        assert main(["reach", url, "--plot", str(tmp_path / "reach.png")]) == 0
        assert main(["figures", url, "--out", str(tmp_path / "figs"), "--only", "sigma,reach",
                     "-q"]) == 0  # fmt: skip
    assert (tmp_path / "reach.png").stat().st_size > 10_000
    assert {p.suffix for p in (tmp_path / "figs").iterdir()} >= {".pdf", ".png"}
    remote = LimitBrowser(mcpdask.open_cube(url), ()).grid
    local = LimitBrowser(mcpdask.open_cube(quick_cube_store), ()).grid
    assert remote.equals(local) and remote.sizes == local.sizes


def test_s3_scan_round_trip_and_limits_equal_the_local_cube(quick_cube_store, s3, http_root):
    """`scan --store s3://...` writes the cube (real physics); it equals the local cube bit for
    bit, and so do the limits from S3 and from HTTP; a rerun computes nothing."""
    bucket, _env = s3
    url = f"{bucket}/quick.zarr"
    assert main(["scan", str(QUICK), "--store", url, "--no-progress", "--workers", "2"]) == 0
    assert_same(numbers(url), numbers(quick_cube_store))
    local = limits_json(quick_cube_store)
    assert limits_json(url) == local
    root, base = http_root
    if not (root / "quick.zarr").exists():
        shutil.copytree(quick_cube_store, root / "quick.zarr")
    assert limits_json(f"{base}/quick.zarr") == local
    report = mcpdask.scan(QUICK, url, progress=False)
    assert report.n_submitted == 0
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    assert not fs.exists(cube.lock_path(url))  # released


def test_s3_lock_is_one_writer(s3):
    bucket, _env = s3
    url = f"{bucket}/locked.zarr"
    with cube.StoreLock(url, purpose="scan held-by-test"):
        with pytest.raises(cube.StoreInUseError, match="held-by-test"):
            cube.StoreLock(url).acquire()
    # released: the next writer takes it at once
    with cube.StoreLock(url) as again:
        assert again.stale_holder is None


def _stored(url) -> int:
    return int((mcpdask.open_cube(url, verify=False).status != 0).sum())


def test_a_writer_whose_lease_ran_down_stops_writing(s3, monkeypatch):
    """A writer that could not renew its S3 lease for LEASE_S / 2 (its renewals stopped, as in a
    paused process) refuses to write; once the lease ran out another writer takes it over."""
    monkeypatch.setattr(lock_module, "LEASE_S", 2.0)
    bucket, _env = s3
    url = f"{bucket}/lease.zarr"
    spec = load_scan(QUICK)
    points = spec.points()
    result = paced_point(make_task(spec, spec.experiment(points[0][0]), *points[0][1:]))
    lock = cube.StoreLock(url, purpose="scan paused").acquire()
    try:
        cube.create_cube(url, spec)
        writer = cube.PointWriter(url, lock=lock)
        writer.write_batch([(*points[0], result)])  # held: written
        lock._object._stop.set()  # its renewals stop
        lock._object._thread.join()
        time.sleep(1.1)
        with pytest.raises(cube.StoreInUseError, match=r"not renewed for \d s of 2 s"):
            writer.write_batch([(*points[1], result)])
        time.sleep(1.0)  # the lease ran out: the next writer takes over
        with cube.StoreLock(url) as other:
            assert other.stale_holder["purpose"] == "scan paused"
    finally:
        lock.release()
    assert _stored(url) == 1


def test_a_scan_whose_lock_is_taken_over_stops_writing(s3, monkeypatch, threads_client, tmp_path):
    """Someone replaces a running scan's lock object: at its next renewal the scan learns it,
    and it writes nothing more (the points it finished stay missing, none is half written)."""
    import fsspec

    monkeypatch.setattr(lock_module, "LEASE_S", 2.0)
    bucket, _env = s3
    url = f"{bucket}/taken.zarr"
    config = tmp_path / "many.yaml"
    config.write_text(MANY)
    fs = fsspec.filesystem("s3")

    def take_over():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(StoreError):
                if _stored(url) >= 4:
                    break
            time.sleep(0.05)
        holder = {"pid": 1, "host": "elsewhere", "purpose": "another scan", "expires": 1e12}
        fs.pipe_file(cube.lock_path(url), json.dumps(holder).encode())

    thief = threading.Thread(target=take_over)
    thief.start()
    # "not renewed" instead if the test process stalls the renewals first: stopped either way
    with pytest.raises(cube.StoreInUseError, match="another writer took it over|not renewed"):
        mcpdask.scan(config, url, threads_client, progress=False, point_function=paced_point)
    thief.join()
    assert 4 <= _stored(url) < 60
    mcpdask.open_cube(url)  # whole: verifies


def test_a_renewal_lost_in_transit_keeps_the_lock(s3, monkeypatch):
    """A renewal whose request fails (the store did not answer), and one that landed although
    its answer was lost (the lock object's ETag changed under the writer), keep the lock: the
    writer finds the object still names it and goes on renewing."""
    monkeypatch.setattr(lock_module, "LEASE_S", 2.0)
    bucket, _env = s3
    url = f"{bucket}/flaky.zarr"
    real_put = lock_module.ObjectLock._put
    calls = {"n": 0}

    def flaky_put(self, **condition):
        calls["n"] += 1
        if calls["n"] == 2:  # the first renewal: no answer, nothing written
            raise StoreError("connection reset")
        if calls["n"] == 3:  # the second: written, its answer lost
            real_put(self, **condition)
            raise StoreError("read timeout")
        return real_put(self, **condition)

    monkeypatch.setattr(lock_module.ObjectLock, "_put", flaky_put)
    with cube.StoreLock(url, purpose="scan flaky") as lock:
        deadline = time.monotonic() + 10
        while calls["n"] < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert calls["n"] >= 6 and not lock.lost
        lock.check_held()  # renewed since: held
        with pytest.raises(cube.StoreInUseError, match="scan flaky"):
            cube.StoreLock(url).acquire()


DRIVER = """
import sys
sys.path.insert(0, {here!r})
from distributed import Client, LocalCluster
import mcpdask
from test_remote import paced_point

with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                  dashboard_address=None) as cluster, Client(cluster) as client:
    mcpdask.scan({config!r}, {url!r}, client, progress=False, point_function=paced_point)
"""


def test_sigkill_mid_scan_on_s3_loses_only_points_in_flight(s3, tmp_path):
    bucket, env = s3
    config = tmp_path / "many.yaml"
    config.write_text(MANY)
    url = f"{bucket}/killed.zarr"
    reference = tmp_path / "reference.zarr"
    with contextlib.redirect_stderr(io.StringIO()):
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
            ) as cluster,
            Client(cluster, set_as_default=False) as client,
        ):
            mcpdask.scan(config, reference, client, progress=False, point_function=paced_point)
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(DRIVER.format(here=str(HERE), config=str(config), url=url)))
    proc = subprocess.Popen(
        [sys.executable, str(driver)],
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen = 0
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(StoreError):
                seen = int((mcpdask.open_cube(url, verify=False).status != 0).sum())
            if seen >= 8:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        assert proc.wait(timeout=30) == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    got, want = numbers(url), numbers(reference)  # opens and verifies
    done = got["status"] != 0
    n_done = int(done.sum())
    assert seen <= n_done < 60, (seen, n_done)
    for name in NUMBERS:
        assert np.array_equal(got[name][done], want[name][done], equal_nan=True), name
    # the dead scan's lock object is stale (its holder, on this host, is gone): taken over
    report = mcpdask.scan(config, url, progress=False, point_function=paced_point,
                          run_on=mcpdask.RunOn(workers=1))  # fmt: skip
    assert report.n_already_done == n_done and report.n_submitted == 60 - n_done
    assert_same(numbers(url), want)
