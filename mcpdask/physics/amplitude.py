"""Spin-averaged squared amplitudes of l N -> l N V (massive vector) and l N -> l N chi chibar.

The nucleus is a heavy spin-0 particle with vertex -i Z e F(t) (P + P')^mu; the lepton radiates
V (or gamma* -> chi chibar) before or after the photon exchange. The lepton tensors are closed
forms in invariants (tools/derive_amplitude.py); the couplings and the photon propagators are put
on here. V couples to the lepton with strength e; chi has charge eps e with eps = 1.
"""

import numpy as np

from mcpdask.physics._amplitude_closed_form import tensor_minus_g, tensor_rr
from mcpdask.physics.constants import ALPHA

E2 = 4.0 * np.pi * ALPHA
"""Squared elementary charge e^2 = 4 pi alpha."""


def propagator_denominators(inv):
    """(s_tilde, u_tilde) = ((p' + k)^2 - m^2, (p - k)^2 - m^2), from stable invariants."""
    return -inv["t"] - 2.0 * inv["pq"], inv["mV2"] - 2.0 * inv["pk"]


def _tensor_args(inv):
    s_tilde, u_tilde = propagator_denominators(inv)
    return (
        inv["m"], inv["mV2"], inv["t"], inv["pk"], inv["pq"], inv["kq"],
        inv["pS"], inv["kS"], inv["SS"], s_tilde, u_tilde,
    )  # fmt: skip


def squared_amplitude_vector(inv, g2):
    """Spin-averaged |M|^2 of l N -> l N V summed over V polarisations (dimensionless).

    `inv` maps invariant names (m, mV2, t, pk, pq, kq, pS, kS, SS) to arrays, where
    q = P' - P, S = P + P' and t = -q^2; `g2` is Z^2 F(t)^2.
    """
    return 0.5 * E2**3 * g2 / inv["t"] ** 2 * tensor_minus_g(*_tensor_args(inv))


def squared_amplitude_pair(inv, g2):
    """Spin-summed-and-averaged |M|^2 of l N -> l N chi chibar at eps = 1 (dimensionless).

    Besides the invariants of `squared_amplitude_vector` (with mV2 = s, the pair mass squared)
    it needs the chi momenta through r = (k1 - k2)/2: rp, rq, rS, rr. The chi current tensor
    Tr[(k1 + m)g_nu(k2 - m)g_nu'] = 4[k1 k2 + k2 k1 - g (s/2)] becomes, since the lepton current
    is conserved (k.L = 0), 4[-2 r r - g s/2].
    """
    s = inv["mV2"]
    args = _tensor_args(inv)
    lepton_chi = 4.0 * (
        0.5 * s * tensor_minus_g(*args)
        - 2.0 * tensor_rr(*args, inv["rp"], inv["rq"], inv["rS"], inv["rr"])
    )
    return 0.5 * E2**3 * g2 / inv["t"] ** 2 * E2 / s**2 * lepton_chi
