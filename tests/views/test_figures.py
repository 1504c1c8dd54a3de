"""Views: static figures (PNG size, not blank), overlay reader, bad-input errors, browser
derivations, and the notebook run top to bottom (nbclient) on the quick cube."""

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

import mcpdask
from mcpdask.cli import main
from mcpdask.data import bounds_dir
from mcpdask.errors import McpdaskError, ReferenceCurveError, StoreError
from mcpdask.references import read_reference_curve, read_reference_curves
from mcpdask.views.browser import NOMINAL, LimitBrowser
from mcpdask.views.figures import write_figures

pytestmark = pytest.mark.timeout(300)

LIMITS = bounds_dir()
NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "browse_limits.ipynb"
GOOD = "# toy bound, source: made up for a test\nmass_GeV,eps\n0.01,1e-3\n0.1,2e-3\n1.0,1e-2\n"


@pytest.fixture(scope="module")
def cube(quick_cube_store):
    return mcpdask.open_cube(quick_cube_store)


def test_figures_command_writes_readable_pngs_and_pdfs(quick_cube_store, tmp_path, capsys):
    import matplotlib.image as mpimg

    out = tmp_path / "figs"
    args = ["figures", str(quick_cube_store), "--out", str(out)]
    if LIMITS.is_dir():
        args += ["--overlay", str(LIMITS)]
    assert main(args) == 0
    pngs = sorted(out.glob("*.png"))
    assert [p.stem for p in pngs] == [
        "fig_a_dsigma_dx",
        "fig_b_sigma",
        "fig_c_reach",
        "fig_d_ratio",
    ]
    assert len(list(out.glob("*.pdf"))) == 4
    for png in pngs:
        img = mpimg.imread(png)[..., :3]
        height, width = img.shape[:2]
        assert width >= 700 and height >= 500, (png.name, img.shape)  # ~3.5 in at 200 dpi
        ink = np.mean(np.any(img < 0.9, axis=-1))  # fraction of non-white pixels
        assert 0.02 < ink < 0.9, (png.name, ink)
        assert img.std() > 0.05, png.name
    assert "(c) reach" in capsys.readouterr().out


@pytest.mark.skipif(not LIMITS.is_dir(), reason=f"no shared limits folder {LIMITS}")
def test_overlay_reader_accepts_every_shared_limit_file():
    files = sorted(LIMITS.glob("*.csv"))
    overlays = read_reference_curves(LIMITS)
    assert [o.name for o in overlays] == [f.stem for f in files] and files
    for ov in overlays:
        assert ov.source and ov.mass_gev.size >= 2 and np.all(ov.eps > 0)
        m, e = ov.polygon(eps_top=10.0)
        assert m.size >= ov.mass_gev.size and np.all(e <= max(10.0, ov.eps.max()))


def test_overlay_polygon_is_closed_along_the_top(tmp_path):
    (tmp_path / "toy.csv").write_text(GOOD)
    ov = read_reference_curve(tmp_path / "toy.csv")
    assert ov.source == "toy bound, source: made up for a test" and not ov.closed
    m, e = ov.polygon(eps_top=1.0)
    assert m.tolist() == [0.01, 0.1, 1.0, 1.0, 0.01] and e[-2:].tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# src\nmass,eps\n0.1,1e-3\n", "line 2: expected the header 'mass_GeV,eps'"),
        ("mass_GeV,eps\n0.1,1e-3\n0.2,1e-3\n", "line 1: no '#' comment line naming the source"),
        ("# src\nmass_GeV,eps\n0.1,1e-3\n0.2,abc\n", "line 4: not a number"),
        (
            "# src\nmass_GeV,eps\n0.1,1e-3\n\n0.2,-1e-3\n",
            "line 5: mass and eps must be finite and > 0",
        ),
        ("# src\nmass_GeV,eps\n0.1,1e-3,7\n", "line 3: expected 2 columns"),
        ("# src\nmass_GeV,eps\n0.1,1e-3\n", "needs at least 2 data rows"),
        ("# only comments\n", "no header line"),
    ],
)
def test_overlay_reader_rejects_malformed_file_naming_file_and_line(tmp_path, text, expected):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    with pytest.raises(ReferenceCurveError) as info:
        read_reference_curve(bad)
    assert str(bad) in str(info.value) and expected in str(info.value)
    assert "\n" not in str(info.value) and isinstance(info.value, McpdaskError)


def test_bad_overlay_directory_is_a_one_line_cli_error(quick_cube_store, tmp_path, capsys):
    (tmp_path / "a_good.csv").write_text(GOOD)
    (tmp_path / "b_bad.csv").write_text(GOOD + "2.0;3e-2\n")
    rc = main(
        ["figures", str(quick_cube_store), "--out", str(tmp_path / "o"), "--overlay", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "b_bad.csv line 6" in err and not (tmp_path / "o").exists()


def test_cube_without_needed_variables_is_a_clear_error(cube, quick_cube_store, tmp_path, capsys):
    with pytest.raises(StoreError, match="figure dsigma_dx: the cube lacks dsigma_dx"):
        write_figures(cube.drop_vars("dsigma_dx"), tmp_path / "o")
    with pytest.raises(StoreError, match="the cube lacks sigma, sigma_err"):
        write_figures(cube.drop_vars(["sigma", "sigma_err"]), tmp_path / "o", figures=["sigma"])
    with pytest.raises(StoreError, match="limit browser: the cube lacks leptons_on_target"):
        LimitBrowser(cube.drop_vars("leptons_on_target"))
    broken = tmp_path / "broken.zarr"
    shutil.copytree(quick_cube_store, broken)
    shutil.rmtree(broken / "sigma")
    for cmd in (
        ["figures", str(broken), "--out", str(tmp_path / "o")],
        ["browse", str(broken), "--html", str(tmp_path / "b.html")],
    ):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "sigma" in err, err


def test_browse_port_in_use_is_a_one_line_error(quick_cube_store, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert main(["browse", str(quick_cube_store), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}: already in use" in err


def test_browser_grid_matches_a_fresh_derivation_from_the_cube(cube):
    browser = LimitBrowser(cube, coarse=True)
    lot, cut, thick = (
        browser.options["leptons_on_target"][1],
        0.5,
        browser.options["thickness_x0"][2],
    )
    fresh = browser.derive(lot, cut, thick)["eps_limit"]
    from_grid = browser.limits_at(lot, cut, thick)["eps_limit"]
    np.testing.assert_allclose(from_grid.values, fresh.values, rtol=1e-12)
    nominal = browser.limits_at(NOMINAL, NOMINAL, NOMINAL)["eps_limit"].sel(channel="brem")
    scaled = browser.limits_at(lot, NOMINAL, NOMINAL)["eps_limit"].sel(channel="brem")
    ratio = (scaled / nominal).values  # eps_lim ~ LOT^-1/2
    expected = np.sqrt(cube["leptons_on_target"].values / lot)[:, None]
    np.testing.assert_allclose(ratio, np.broadcast_to(expected, ratio.shape), rtol=1e-9)
    assert ("na64mu", "meson") not in browser.drawn_curves()  # no meson channel: not drawn


def test_notebook_runs_top_to_bottom(quick_cube_store):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {"MCPDASK_CUBE": str(quick_cube_store)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = nbclient.NotebookClient(
            nb,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        )
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the static figure
    assert any(
        "application/vnd.holoviews_exec.v0+json" in o.get("data", {}) for o in outputs
    )  # the browser
