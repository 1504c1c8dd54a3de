"""`mcpdask reach TARGET`: from a scan config (a shipped name or a YAML path) or a stored cube to
the reach windows (table, JSON, CSV) and the reach plot; a config is scanned first, computing only
what the store lacks."""

import csv
import io
import json
import shutil

import pytest

from mcpdask.cli import main
from mcpdask.experiments import CONFIG_DIR

pytestmark = pytest.mark.timeout(300)


def test_readme_reach_command_scans_a_shipped_config_then_plots(tmp_path, monkeypatch, capsys):
    """README's first command, `mcpdask reach quick --plot reach.pdf`, from an empty directory:
    the scan goes to ./mcpdask-store/quick.zarr, the windows to stdout, the PDF is written; a
    second run computes nothing and its JSON is the only thing on stdout."""
    monkeypatch.chdir(tmp_path)
    argv = ["reach", "quick", "--plot", "reach.pdf", "--workers", "1", "--no-progress"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert (tmp_path / "mcpdask-store" / "quick.zarr").is_dir()
    pdf = tmp_path / "reach.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    assert "6 computed" in captured.err and "wrote reach.pdf" in captured.err
    assert "ldmx (combined) probes new ground" in captured.out

    assert main(["reach", "quick", "--format", "json", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "6 already in the store, 0 computed" in captured.err
    data = json.loads(captured.out)  # nothing but the JSON on stdout
    assert "MiniBooNE" in data["assumptions"]["references"]
    ldmx = data["experiments"]["ldmx"]
    assert ldmx["leptons_on_target"] == 2e16 and ldmx["x_min"] == 0.7
    windows = ldmx["channels"]["combined"]["windows"]
    assert windows and windows[0]["mass_min_GeV"] == pytest.approx(0.01)
    assert data["experiments"]["na64mu"]["channels"]["combined"]["signal"] is True


def test_reach_on_a_stored_cube_with_csv_and_options(quick_cube_store, tmp_path, capsys):
    argv = ["reach", str(quick_cube_store), "--format", "csv", "--lot", "ldmx=2e17",
            "--cl", "0.95", "--channels", "brem,combined", "--plot", str(tmp_path / "r.png")]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    comments = [ln for ln in captured.out.splitlines() if ln.startswith("#")]
    assert any("95% CL" in ln for ln in comments)
    assert any(ln.startswith("# ldmx:") and "2e+17" in ln for ln in comments)
    rows = list(csv.DictReader(io.StringIO("\n".join(
        ln for ln in captured.out.splitlines() if not ln.startswith("#")))))  # fmt: skip
    assert {r["channel"] for r in rows} <= {"brem", "combined"} and rows
    assert all(float(r["eps_min"]) < float(r["eps_max"]) for r in rows)
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_reach_with_a_yaml_config_computes_only_what_the_store_lacks(
    quick_cube_store, tmp_path, capsys
):
    store = tmp_path / "copy.zarr"
    shutil.copytree(quick_cube_store, store)
    argv = ["reach", str(CONFIG_DIR / "quick.yaml"), "--store", str(store), "--no-progress"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "nothing to compute" in captured.out + captured.err
    assert "probes new ground" in captured.out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["reach", "no_such_scan"], "neither a cube (no such directory) nor a scan config"),
        (["reach", "quick", "--plot", "{tmp}/reach.gif"], "must end in .pdf, .png, .svg"),
        (["reach", "quick", "--plot", "{tmp}/nodir/reach.pdf"], "does not exist"),
        (["reach", "{store}", "--store", "{tmp}/x.zarr"], "--store applies to a scan config"),
        (["reach", "{tmp}/missing.yaml"], "no such config file"),
        (["reach", "{store}", "--overlay-only"], "--overlay-only needs --overlay"),
        (["reach", "{store}", "--lot", "-1e14"], "must be > 0, got -1e+14"),  # not an option
    ],
)
def test_reach_bad_target_or_plot_is_a_one_line_error(
    quick_cube_store, tmp_path, capsys, monkeypatch, argv, needle
):
    monkeypatch.chdir(tmp_path)
    argv = [a.format(tmp=tmp_path, store=quick_cube_store) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "mcpdask-store").exists()  # refused before any scan
