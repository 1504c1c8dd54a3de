"""Nuclear form factors G2(t) = Z^2 F(t)^2 (Tsai; Bjorken, Essig, Schuster, Toro 2009, App. A)."""

import numpy as np

from mcpdask.physics.constants import ELECTRON_MASS_GEV, PROTON_MAGNETIC_MOMENT, PROTON_MASS_GEV
from mcpdask.physics.materials import Material


def screening_scale_gev(material: Material) -> float:
    """a = 111 Z^(-1/3) / m_e in GeV^-1: atomic screening of the elastic form factor."""
    return 111.0 * material.Z ** (-1.0 / 3.0) / ELECTRON_MASS_GEV


def nuclear_size_scale_gev2(material: Material) -> float:
    """d = 0.164 A^(-2/3) GeV^2: finite nuclear size of the elastic form factor."""
    return 0.164 * material.A ** (-2.0 / 3.0)


def elastic_form_factor(t, material: Material):
    """F(t) with screening and nuclear size, t = -q^2 > 0 in GeV^2; F -> 1 between 1/a^2 and d."""
    a2t = screening_scale_gev(material) ** 2 * t
    return a2t / (1.0 + a2t) / (1.0 + t / nuclear_size_scale_gev2(material))


def g2(t, material: Material, inelastic: bool = False):
    """Photon-nucleus coupling G2(t): Z^2 F(t)^2, plus Tsai's inelastic term if asked."""
    t = np.asarray(t, dtype=float)
    value = material.Z**2 * elastic_form_factor(t, material) ** 2
    if inelastic:
        a_inel2t = (773.0 * material.Z ** (-2.0 / 3.0) / ELECTRON_MASS_GEV) ** 2 * t
        proton = 1.0 + t * (PROTON_MAGNETIC_MOMENT**2 - 1.0) / (4.0 * PROTON_MASS_GEV**2)
        value = (
            value + material.Z * (a_inel2t / (1.0 + a_inel2t)) ** 2 * proton / (1.0 + t / 0.71) ** 4
        )
    return value
