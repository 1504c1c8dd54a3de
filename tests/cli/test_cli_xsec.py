"""`mcpdask xsec`: JSON output with every input and diagnostic, one-line errors with exit code 2."""

import json
import subprocess
import sys

import pytest

from mcpdask.cli import main

BASE = ["xsec", "--lepton", "mu", "--target", "Pb", "--energy", "160", "--mass", "0.05"]


def test_json_output_has_result_diagnostics_and_inputs(capsys):
    assert main([*BASE, "--xmin", "0.5", "--precision", "0.05", "--seed", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("sigma_pb", "sigma_err_pb", "chi2_dof", "Q", "n_eval", "wall_s", "status"):
        assert key in out
    assert out["lepton"] == "mu" and out["target"] == "Pb" and out["energy_gev"] == 160.0
    assert out["mass_gev"] == 0.05 and out["x_min"] == 0.5 and out["x_max"] == 1.0
    assert out["method"] == "etl" and out["process"] == "mcp" and out["seed"] == 3
    assert out["sigma_err_pb"] <= 0.05 * out["sigma_pb"]


def test_human_output_names_the_cross_section(capsys):
    assert main([*BASE, "--xmin", "0.5", "--precision", "0.05"]) == 0
    assert "sigma = " in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, words",
    [
        (["--xmin", "0.9", "--xmax", "0.5"], "xmin"),
        (["--xmin", "0.5", "--precision", "-1"], "precision"),
        (["--xmin", "0.5", "--target", "Kryptonite"], "unknown target material"),
        (
            [
                "--xmin",
                "0.5",
                "--target",
                "Al",
                "--z",
                "82",
                "--a",
                "207",
                "--density",
                "11.35",
                "--x0",
                "0.56",
            ],
            "needs a name of its own",
        ),  # fmt: skip
    ],
)
def test_user_errors_exit_2_with_one_line_and_no_traceback(args, words):
    argv = [*BASE, *args]
    done = subprocess.run(
        [sys.executable, "-m", "mcpdask", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_mass_above_threshold_is_a_user_error():
    done = subprocess.run(
        [sys.executable, "-m", "mcpdask", "xsec", "--lepton", "e", "--target", "Al", "--energy",
         "8", "--mass", "4.5", "--xmin", "0.5"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "above threshold" in done.stderr
