"""Recoil-lepton cuts from (x, p_T) bins (mcpdask.limits.recoil), on cubes with known spectra."""

import numpy as np
import pytest
import xarray as xr

from mcpdask.errors import PhysicsInputError
from mcpdask.limits import Exposure, RecoilWindow, signal_yield
from mcpdask.limits.examples import example_cube
from mcpdask.limits.recoil import recoil_weights

PT_EDGES = np.array([0.0, 0.01, 0.02, 0.04, 0.08, np.inf])
SHARES = np.array([0.1, 0.2, 0.3, 0.25, 0.15])  # of dsigma/dx in each p_T bin, every x bin


def cube_with_recoil_bins():
    cube = example_cube()
    dsig = cube["dsigma_dx"]
    pt = xr.DataArray(SHARES, dims="pt")
    cube["dsigma_dx_pt"] = dsig * pt
    cube["dsigma_dx_pt_err"] = cube["dsigma_dx_err"] * pt
    return cube.assign_coords(pt_edge=("pt_edge", PT_EDGES))


def brem(cube, window=None):
    ds = signal_yield(cube, Exposure(recoil=window), channels="brem")
    return ds["n_signal"].squeeze().values


def test_an_open_window_is_the_plain_yield_and_a_p_t_cut_keeps_its_share():
    cube = cube_with_recoil_bins()
    plain = brem(cube)
    np.testing.assert_allclose(brem(cube, RecoilWindow()), plain)
    np.testing.assert_allclose(brem(cube, RecoilWindow(pt_max_gev=0.02)), 0.3 * plain)
    # an edge inside a bin keeps the bin's fraction below it (uniform within the bin)
    np.testing.assert_allclose(brem(cube, RecoilWindow(pt_max_gev=0.03)), 0.45 * plain)
    np.testing.assert_allclose(brem(cube, RecoilWindow(pt_min_gev=0.08)), 0.15 * plain)


def test_an_angular_acceptance_follows_the_recoil_momentum():
    """theta < theta_max keeps p_T < theta_max (1 - x) E0 in each x bin (here 160 GeV muons)."""
    e0, theta = 160.0, 5e-4
    x = np.array([0.55, 0.75, 0.95])
    w = recoil_weights(PT_EDGES, x, e0, RecoilWindow(theta_max_rad=theta))
    top = np.tan(theta) * (1 - x) * e0  # 0.036, 0.02, 0.004 GeV
    expected_first = np.clip(top / 0.01, 0, 1)
    np.testing.assert_allclose(w[:, 0], expected_first)
    assert w[2, 1:].sum() == 0.0 and w[0, 2] == pytest.approx((0.036 - 0.02) / 0.02)
    assert np.all(w[:, -1] == 0.0)  # the overflow bin is beyond any finite top


def test_a_cube_without_recoil_bins_says_so_and_bad_windows_are_refused():
    with pytest.raises(PhysicsInputError, match="holds no recoil-lepton bins"):
        brem(example_cube(), RecoilWindow(pt_max_gev=0.1))
    with pytest.raises(PhysicsInputError, match="pt_min < pt_max"):
        RecoilWindow(pt_min_gev=0.2, pt_max_gev=0.1)
    with pytest.raises(PhysicsInputError, match="theta_max"):
        RecoilWindow(theta_max_rad=-1.0)
