"""Target models: how a thick electron target's shower folds with the cube, and vector-meson
yields from photoproduction (PHYSICS.md 5 and 8). Small numpy work beside the lazy cube algebra.

Shower (an experiment with target_model 'shower'): every e+- of the shower with energy E radiates
the pair like a beam of energy E, and the cut applies to the energy the pair takes relative to the
beam, x' E > x_min E0. Per beam lepton

    N / (LOT n X0_cm eff) = Integral dE dL/dE(E; E0, T) I(E),
    I(E) = Integral_{x_min E0 / E}^{min(1, x_max E0 / E)} dsigma/dx'(E) dx'.

The cube holds I at its energies E_j (the scan's shower grid from x_min E0 to E0); I(E) is taken
linear between them and zero at E = x_min E0, so the integral is sum_j w_j I(E_j) with w_j the
track length (in X0) weighted by the hat function of node j, from the approximation-A cascade
of mcpdask.physics.shower on a grid a hundred times finer than the cube's.

Mesons (an experiment with meson_production): N_V per beam lepton from the photon spectra of the
same target model (thin: the thin-target brem spectrum, a mean path T/2 in the target; shower:
the cascade's photon track length in the target and the photons leaving it into the absorber),
times sigma(gamma A -> V A), at the beam energy, cut and thickness asked for.
"""

from __future__ import annotations

import functools

import numpy as np

from mcpdask.physics.photoproduction import meson_yield_per_lepton
from mcpdask.physics.shower import SHOWER_ENERGY_POINTS, cascade, thin_target_photon_spectrum

__all__ = ["meson_yield_per_beam_lepton", "shower_coverage_problem", "shower_weights"]

_CASCADE_NODES = 600
"""Cascade grid nodes between 0.9 x_min E0 and E0 (spacing ~0.1 per cent for x_min = 0.5)."""


@functools.lru_cache(maxsize=256)
def _cascade(e0_gev: float, thickness_x0: float, e_min_fraction: float):
    return cascade(e0_gev, thickness_x0, n_energies=_CASCADE_NODES, e_min_fraction=e_min_fraction)


def _grid_floor(x_min: float) -> float:
    """Lowest cascade energy over E0: a little below the cut (the cascade needs < 0.5)."""
    return round(min(0.9 * float(x_min), 0.45), 6)


def shower_weights(e0_gev: float, thickness_x0: float, x_min: float, nodes_gev) -> np.ndarray:
    """w_j (X0) of the cube energies `nodes_gev` (ascending, last = E0, all above x_min E0):
    the shower's e+- track length weighted by each node's hat function, the hat of the lowest
    node falling to an anchor at x_min E0 where I = 0."""
    nodes = np.asarray(nodes_gev, dtype=float)
    shower = _cascade(float(e0_gev), float(thickness_x0), _grid_floor(x_min))
    e = shower.energies_gev
    content = shower.dl_lepton_de * shower.cell_widths_gev  # track length per cascade node
    knots = np.concatenate([[x_min * e0_gev], nodes])
    weights = np.zeros(nodes.size)
    for j in range(nodes.size):
        lo, mid = knots[j], knots[j + 1]
        hi = knots[j + 2] if j + 2 < knots.size else mid
        rising = (e > lo) & (e <= mid)
        hat = np.where(rising, (e - lo) / (mid - lo), 0.0)
        if hi > mid:
            falling = (e > mid) & (e < hi)
            hat = np.where(falling, (hi - e) / (hi - mid), hat)
        weights[j] = float(np.sum(content * hat))
    return weights


def shower_coverage_problem(energies_gev, e0_gev: float, x_min: float) -> str | None:
    """Why the cube's energies cannot carry the shower folding for beam energy E0 and cut x_min
    (None if they can): E0 must be among them, and no gap between x_min E0 and E0 may be wider
    than twice the scan's shower-grid spacing."""
    energies = np.sort(np.asarray(energies_gev, dtype=float))
    if not np.any(np.isclose(energies, e0_gev, rtol=1e-9)):
        return f"the cube has no points at the beam energy {e0_gev:g} GeV"
    used = energies[(energies > x_min * e0_gev * (1 + 1e-9)) & (energies <= e0_gev * (1 + 1e-9))]
    knots = np.log(np.concatenate([[x_min * e0_gev], used]))
    allowed = 2.0 * np.log(1.0 / x_min) / (SHOWER_ENERGY_POINTS - 1)
    if np.max(np.diff(knots)) > allowed * (1 + 1e-6):
        return (
            f"the cube's energies between x_min E0 = {x_min * e0_gev:.4g} GeV and E0 = "
            f"{e0_gev:g} GeV are too sparse for the shower model (scan the experiment with its "
            "shower energy grid for this beam energy and cut)"
        )
    return None


def meson_yield_per_beam_lepton(meson, production, target, target_model, e0_gev, x_min,
                                thickness_x0) -> float:  # fmt: skip
    """N_V per beam lepton for one meson (a name), from photons with k > x_min E0 made in the
    target (`target_model` 'thin' or 'shower'), produced at the sites of `production` (a
    MesonProduction-like mapping: sites, absorber, absorber_thickness_x0, nuclear_alpha)."""
    sites = production["sites"]
    alpha = production["nuclear_alpha"]
    if target_model == "shower":
        shower = _cascade(float(e0_gev), float(thickness_x0), _grid_floor(x_min))
        k, dl_gamma, dn_exit = shower.energies_gev, shower.dl_gamma_dk, shower.dn_gamma_dk_exit
    else:
        k = np.geomspace(0.9 * x_min * e0_gev, e0_gev, 400)
        dn_exit = thin_target_photon_spectrum(k, e0_gev, thickness_x0)
        dl_gamma = 0.5 * thickness_x0 * dn_exit  # made uniformly in depth: mean path T/2
    in_target = "target" in sites
    in_absorber = "absorber" in sites
    return meson_yield_per_lepton(
        meson, k, e0_gev=e0_gev, x_min=x_min,
        target=target if in_target else None, dl_gamma_dk=dl_gamma if in_target else None,
        absorber=production["absorber"] if in_absorber else None,
        dn_gamma_dk_exit=dn_exit if in_absorber else None,
        absorber_thickness_x0=production["absorber_thickness_x0"], alpha=alpha,
    )  # fmt: skip
