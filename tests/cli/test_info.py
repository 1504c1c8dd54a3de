"""`mcpdask info STORE --format table|json|csv`: the same cube, readable and machine-readable."""

import csv
import io
import json

from mcpdask.cli import main


def test_info_formats(quick_cube_store, capsys):
    assert main(["info", str(quick_cube_store)]) == 0
    table = capsys.readouterr().out
    assert "mcpdask cross-section cube" in table and "points: 6 done" in table

    assert main(["info", str(quick_cube_store), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["physics"]["process"] == "mcp" and data["vegas"]["precision"] == 0.05
    assert data["counts"]["converged"] == 6
    assert data["experiments"]["ldmx"]["leptons_on_target"] == 2e16
    assert data["masses_GeV"] == [0.01, 0.1, 0.5]
    assert len(data["points"]) == 6  # cells off an experiment's energies left out
    point = data["points"][0]
    assert point["status"] == "converged" and point["sigma_pb"] > 0

    assert main(["info", str(quick_cube_store), "--format", "csv"]) == 0
    text = capsys.readouterr().out
    comments = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert any(ln.startswith("# physics:") for ln in comments)
    assert any(ln.startswith("# na64mu:") and '"target": "Pb"' in ln for ln in comments)
    rows = list(csv.DictReader(io.StringIO("\n".join(
        ln for ln in text.splitlines() if not ln.startswith("#")))))  # fmt: skip
    assert len(rows) == 6
    assert {r["experiment"] for r in rows} == {"na64mu", "ldmx"}
    assert all(float(r["sigma_pb"]) > 0 and r["status"] == "converged" for r in rows)
    by_point = {(r["experiment"], float(r["mass_GeV"])): float(r["sigma_pb"]) for r in rows}
    from_json = {(p["experiment"], p["mass_GeV"]): p["sigma_pb"] for p in data["points"]}
    assert by_point.keys() == from_json.keys()
    for key, value in by_point.items():
        assert abs(value / from_json[key] - 1) < 1e-6
