"""The vector-meson channel V -> chi chibar (mcpdask.physics.mesons, PHYSICS.md section 5)."""

import math

import numpy as np
import pytest
import xarray as xr

from mcpdask.errors import PhysicsInputError
from mcpdask.physics.constants import ELECTRON_MASS_GEV
from mcpdask.physics.mesons import (
    PDG_VECTOR_MESONS,
    as_meson,
    as_mesons,
    branching_ratio_chichi_per_eps2,
    meson_eps_limit,
    meson_signal_yield,
    meson_yield,
    threshold_factor,
)


def test_pdg_masses_and_branching_ratios_match_physics_md():
    """Masses come from `particle` (PDG); they must agree with the numbers PHYSICS.md lists."""
    expected = {
        "rho": (0.77526, 4.72e-5),
        "omega": (0.78266, 7.38e-5),
        "phi": (1.019461, 2.979e-4),
        "jpsi": (3.096900, 5.971e-2),
    }
    for name, (mass, br) in expected.items():
        meson = PDG_VECTOR_MESONS[name]
        assert meson.mass_gev == pytest.approx(mass, rel=1e-5), name
        assert meson.br_ee == br


def test_threshold_factor_closes_at_half_the_meson_mass():
    """beta_f = (1 + 2r) sqrt(1 - 4r): 1 for a massless pair, 0 at and above m = m_V / 2."""
    m_v = 0.77526
    assert threshold_factor(0.0, m_v) == 1.0
    assert threshold_factor(m_v / 2, m_v) == 0.0
    masses = np.linspace(0.0, 1.0, 201)
    beta = threshold_factor(masses, m_v)
    assert (beta[masses >= m_v / 2] == 0).all()
    assert (beta[masses < m_v / 2] > 0).all()
    assert (np.diff(beta[masses < m_v / 2]) <= 0).all()  # falls monotonically to threshold


def test_threshold_factor_works_on_dataarrays_lazily():
    mass = xr.DataArray(np.array([0.1, 0.5]), dims="mass").chunk()
    beta = threshold_factor(mass, 0.77526)
    assert beta.chunks is not None
    assert beta.values[1] == 0.0


def test_branching_ratio_hand_calculation():
    """Br(rho -> chi chibar)/eps^2 at m_chi = 250 MeV, written out:
    r = (0.25 / 0.77526)^2 = 0.1039885, beta_f = 1.207977 * sqrt(0.584046) = 0.923171;
    for the electron beta_f(m_e) = 1 - 1.3e-12; so Br/eps^2 = 4.72e-5 * 0.923171 = 4.35737e-5."""
    rho = PDG_VECTOR_MESONS["rho"]
    r = (0.25 / 0.77526) ** 2
    assert r == pytest.approx(0.1039885, rel=1e-6)
    assert threshold_factor(0.25, 0.77526) == pytest.approx(0.923171, rel=1e-6)
    assert branching_ratio_chichi_per_eps2(0.25, rho) == pytest.approx(4.35737e-5, rel=1e-5)
    # an electron-mass chi has exactly the e+e- branching ratio
    assert branching_ratio_chichi_per_eps2(ELECTRON_MASS_GEV, rho) == pytest.approx(4.72e-5, 1e-14)


ESTIMATES = as_mesons(
    [{"name": n, "yield_at_nominal_exposure": y, "note": "ESTIMATE (PHYSICS.md 5)"}
     for n, y in (("rho", 5e10), ("omega", 7.5e9), ("phi", 2.5e9), ("jpsi", 0.0))],
    reference_lot=2e16, reference_thickness_x0=0.4,
)  # fmt: skip
"""The earlier hand-set LDMX estimate (N_rho = 5e10 at 2e16 EOT, 0.4 X0), now an explicit
override example: these tests check the functions of mcpdask.physics.mesons with it."""


def test_zero_signal_above_half_the_meson_mass():
    for meson in ESTIMATES:
        above = np.array([0.5001, 0.6, 1.0, 2.0]) * meson.mass_gev
        assert (meson_signal_yield(above, meson, n_mesons=1e12) == 0).all(), meson.name
        assert np.isinf(meson_eps_limit(above, meson, n_mesons=1e12)).all()


def test_rho_limit_reproduces_the_paper_statement():
    """The default N_rho is calibrated so that eps_lim = 1e-3 near 250 MeV with N_up = 2.3:
    sqrt(2.3 / (5e10 * 4.35737e-5)) = 1.0275e-3."""
    rho = ESTIMATES[0]
    assert meson_eps_limit(0.25, rho, n_up=2.3) == pytest.approx(1.0275e-3, rel=1e-4)
    assert meson_eps_limit(0.25, rho, n_up=2.3) == pytest.approx(
        math.sqrt(2.3 / (5e10 * 4.72e-5 * 0.9231711)), rel=1e-6
    )


def test_signal_scales_with_eps_squared_and_exposure():
    rho = ESTIMATES[0]
    n1 = meson_signal_yield(0.1, rho)
    assert meson_signal_yield(0.1, rho, eps=1e-3) == pytest.approx(1e-6 * n1, rel=1e-12)
    assert meson_yield(rho, leptons_on_target=4e16) == pytest.approx(1e11)
    assert meson_yield(rho, leptons_on_target=2e16, thickness_x0=0.2) == pytest.approx(2.5e10)


def test_config_dicts_and_objects():
    """A config entry ('J/psi', with note) becomes a Meson; missing PDG values are filled in."""
    jpsi = as_meson(
        {
            "name": "J/psi",
            "mass_gev": 3.0969,
            "br_ee": 5.971e-2,
            "yield_at_nominal_exposure": 0.0,
            "note": "estimate",
        },
        reference_lot=2e16,
    )
    assert jpsi.name == "jpsi" and jpsi.source == "estimate" and jpsi.reference_lot == 2e16
    rho = as_meson({"name": "rho", "yield_at_nominal_exposure": 1e10})
    assert rho.mass_gev == PDG_VECTOR_MESONS["rho"].mass_gev and rho.br_ee == 4.72e-5
    with pytest.raises(PhysicsInputError, match="'kaon'"):
        as_meson({"name": "kaon", "yield_at_nominal_exposure": 1.0})
    with pytest.raises(PhysicsInputError, match="unknown keys"):
        as_meson({"name": "rho", "yeild": 1.0})
    with pytest.raises(PhysicsInputError, match="-1"):
        as_meson({"name": "rho", "yield_at_nominal_exposure": -1.0})
    with pytest.raises(PhysicsInputError, match="duplicate"):
        as_mesons([{"name": "rho"}, {"name": "rho"}])
