"""Scans with recoil-lepton bins: stored, verified, marginal to dsigma/dx, cut lazily, refused
when a scan's bins differ; cubes without them say so."""

import numpy as np
import pytest

import mcpdask
from mcpdask.cli import main
from mcpdask.errors import PhysicsInputError, StoreError
from mcpdask.experiments import CONFIG_DIR
from mcpdask.limits import Exposure, RecoilWindow, signal_yield

RECOIL = "recoil_bins: {pt_min_gev: 1.0e-3, pt_max_gev: 1.0, num_bins: 12}\n"


@pytest.fixture(scope="module")
def recoil_store(tmp_path_factory, threads_client):
    d = tmp_path_factory.mktemp("recoil")
    config = d / "quick_recoil.yaml"
    config.write_text((CONFIG_DIR / "quick.yaml").read_text().replace("name: quick", "name: qr")
                      + RECOIL)  # fmt: skip
    store = d / "qr.zarr"
    mcpdask.scan(config, store, threads_client, progress=False)
    return config, store


def test_recoil_bins_are_stored_and_sum_to_dsigma_dx(recoil_store):
    _config, store = recoil_store
    cube = mcpdask.open_cube(store).compute()
    assert cube["dsigma_dx_pt"].dims == ("experiment", "energy", "mass", "x", "pt")
    assert cube["pt_edge"].size == 15 and np.isinf(cube["pt_edge"].values[-1])
    done = cube["status"] == 1
    total = cube["dsigma_dx_pt"].sum("pt").where(done)
    np.testing.assert_allclose(total.values, cube["dsigma_dx"].where(done).values, rtol=1e-12)


def test_a_p_t_cut_is_derived_lazily_and_keeps_less_signal(recoil_store):
    _config, store = recoil_store
    cube = mcpdask.open_cube(store)
    full = signal_yield(cube, channels="brem", experiment="ldmx")["n_signal"].compute()
    cut = signal_yield(cube, Exposure(recoil=RecoilWindow(pt_min_gev=0.05)), channels="brem",
                       experiment="ldmx")["n_signal"].compute()  # fmt: skip
    assert (cut <= full).all() and (cut < full).any() and (cut > 0).any()
    assert main(["limits", str(store), "--experiment", "ldmx", "--pt-min", "0.05"]) == 0


def test_other_recoil_bins_are_refused_and_plain_cubes_say_they_have_none(
    recoil_store, quick_cube_store, tmp_path
):
    config, store = recoil_store
    other = tmp_path / "other.yaml"
    other.write_text(config.read_text().replace("num_bins: 12", "num_bins: 6"))
    with pytest.raises(StoreError, match="recoil bins: store has 14 p_T bins, scan has 8"):
        mcpdask.scan(other, store, progress=False)
    plain = mcpdask.open_cube(quick_cube_store)
    with pytest.raises(PhysicsInputError, match="holds no recoil-lepton bins"):
        signal_yield(plain, Exposure(recoil=RecoilWindow(pt_max_gev=0.1)))
