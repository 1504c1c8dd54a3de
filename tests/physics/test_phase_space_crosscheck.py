"""sigma_V(l N -> l N V) from an INDEPENDENT 2 -> 3 phase-space integration against ours.

Why: our ETL sigma_V lies 6-20 per cent below DMG4's published tables for heavy V at low energy
(e Pb, 20 GeV: ours / DMG4 = 0.935, 0.851, 0.801 at m_V = 1, 2, 3 GeV; test_published.py). Either
DMG4's numbers there are K-factor extrapolations or our phase-space map (kinematics.emission:
variables x, xi = 2 p.k - m_V^2, t, phi_q, Jacobian E0 |k| / (64 M^2 |p| |W| (2 pi)^4)) is wrong
for heavy V. This file integrates the same squared amplitude and form factor (the only shared
code: amplitude.squared_amplitude_vector, already checked against numeric Dirac traces, and
formfactor.g2) over a phase space parametrised differently, with nothing taken from
kinematics.py or integrate.py:

* lab frame, beam along z, nucleus at rest; V by (E_k, cos theta_k) with phi_k -> 2 pi;
* the recoil lepton by its DIRECTION n' (polar angle alpha about W-hat, W = p - k, and azimuth
  phi'; the solid angle is rotation invariant); its momentum rho = |p'| solves energy conservation
  E + M = E_k + E'(rho) + E_N(|W - rho n'|), a quadratic after squaring,
  (A^2 - c^2) rho^2 - 2 B c rho + A^2 m^2 - B^2 = 0 with A = E - E_k + M, c = n'.W,
  B = M (E - E_k) + ((p - k)^2 + m^2)/2; every root with rho > 0 and B + rho c > 0 (E' > 0) is
  kept, with the Jacobian 1/|rho/E' + (rho - c)/E_N| of the energy delta function;
* dPhi_3 = (2 pi)^-5 (|k|^2 d|k| dOmega_k / 2E_k) (rho^2 dOmega' / 2E') / (2 E_N) / |f'|,
  flux 4 M |p|, so dsigma/dx = |M|^2 E0 |k| 2pi rho^2 / (2 (2pi)^5 4 M |p| 4 E' E_N |f'|)
  dcos theta_k dcos alpha dphi';
* all four-vectors built explicitly, invariants t, p.q, k.q, p.k from components (float64);
  the only care taken is q0 = |q|^2 / (E_N + M) and p.k written without E E_k - |p||k|;
  each point also checks (p' + k)^2 - m^2 = -t - 2 p.q from the components (diagnostic below).

Sampling (importance only, it does not change the integral): log maps with offsets in
1 - cos theta_k (offset at the collinear scale) and in 1 - cos alpha (offset where t doubles from
its forward value), x and phi' uniform; vegas adapts the rest.

Result (recorded when this file was written; ours at precision 0.005, independent 0.03-0.05 per
cent): every point agrees within 0.6 per cent and 2 sigma (with two seeds each, and at 0.1-0.3 per
cent in longer runs), including (e, Pb, 20 GeV, 2 and 3 GeV) where DMG4 is 17 and 25 per cent
higher, so the gap to DMG4 is not in our phase space. The whole file takes 8-12 s on 2 cores, so it
is not marked slow.
"""

import numpy as np
import pytest
import vegas

from mcpdask.physics.amplitude import squared_amplitude_vector
from mcpdask.physics.constants import GEV2_TO_PB, lepton_mass
from mcpdask.physics.formfactor import g2
from mcpdask.physics.integrate import cross_section
from mcpdask.physics.materials import get_material

TWO_PI = 2.0 * np.pi
PB207 = {"name": "Pb207", "Z": 82, "A": 207, "density_g_cm3": 11.35, "radiation_length_cm": 0.5612}


# ---------------------------------------------------------------------------------------------
# The independent integrator.
# ---------------------------------------------------------------------------------------------
def _log_offset_map(u, v0, v_max):
    """v in [0, v_max] with density ~ 1/(v + v0); returns (v, dv/du)."""
    log_r = np.log1p(v_max / v0)
    v = v0 * np.expm1(u * log_r)
    return v, (v + v0) * log_r


def _recoil_roots(A, B, m2, c):
    """Both roots rho of (A^2 - c^2) rho^2 - 2 B c rho + A^2 m^2 - B^2 = 0, each with a mask of
    physical ones (rho > 0 and A E' = B + rho c > 0). The root whose two terms would cancel is
    taken from the product of the roots, (A^2 m^2 - B^2) / (A^2 - c^2)."""
    qa = A * A - c * c
    disc = B * B - m2 * qa  # (discriminant / 4) / A^2
    real = disc >= 0
    sq = A * np.sqrt(np.where(real, disc, 0.0))
    roots = []
    for sign in (1.0, -1.0):
        num, other = B * c + sign * sq, B * c - sign * sq
        safe_other = np.where(other != 0, other, 1.0)
        rho = np.where(np.abs(num) >= np.abs(other), num / qa, (A * A * m2 - B * B) / safe_other)
        roots.append((rho, real & (rho > 0) & (B + rho * c > 0)))
    return roots


def independent_dsigma_dx(lepton, material, energy, mV, x, u_k, u_a, u_phi, diagnostics=None):
    """dsigma_V/dx in GeV^-2 at x = E_k/E0 and unit-cube points (u_k, u_a, u_phi)."""
    m = lepton_mass(lepton)
    m2, mV2, M = m * m, mV * mV, material.nucleus_mass_gev
    p = np.sqrt(energy**2 - m2)
    e_k = x * energy
    k = np.sqrt(np.maximum(e_k**2 - mV2, 0.0))
    # V: v = 1 - cos theta_k
    v, dv_du = _log_offset_map(u_k, 0.5 * (mV2 / np.maximum(e_k, mV) ** 2 + m2 / energy**2), 2.0)
    cos_k, sin_k = 1.0 - v, np.sqrt(v * (2.0 - v))
    kx, kz = k * sin_k, k * cos_k
    pk = energy * e_k * v + cos_k * (energy**2 * mV2 + m2 * k**2) / (energy * e_k + p * k)
    # W = p - k
    wx, wz = -kx, p - kz
    w = np.hypot(wx, wz)
    w_hat_x, w_hat_z = wx / w, wz / w
    e1x, e1z = w_hat_z, -w_hat_x  # perpendicular to W-hat in the x-z plane; the third is y
    A = energy - e_k + M
    B = M * (energy - e_k) + 0.5 * ((m2 + mV2 - 2.0 * pk) + m2)
    # recoil lepton direction: a = 1 - cos alpha about W-hat, offset from the forward solution
    (rho_fwd, ok_fwd), _ = _recoil_roots(A, B, m2, w)
    rho_fwd = np.where(ok_fwd, rho_fwd, w)
    a0 = np.maximum((w - rho_fwd) ** 2 / (2.0 * w * np.maximum(rho_fwd, 1e-30)), 1e-14)
    a, da_du = _log_offset_map(u_a, a0, 2.0)
    cos_a, sin_a = 1.0 - a, np.sqrt(a * (2.0 - a))
    cos_phi, sin_phi = np.cos(TWO_PI * u_phi), np.sin(TWO_PI * u_phi)
    n_x = cos_a * w_hat_x + sin_a * cos_phi * e1x
    n_z = cos_a * w_hat_z + sin_a * cos_phi * e1z
    c = w * cos_a
    kinematic = (k > 0) & (e_k < energy - m)
    total = np.zeros_like(x)
    for rho, ok in _recoil_roots(A, B, m2, c):
        ok &= kinematic
        rho = np.where(ok, rho, 1.0)
        e_p = np.sqrt(m2 + rho * rho)
        # q = P' - P = W - p': along W-hat (w - rho cos alpha) and across (-rho sin alpha)
        q_par, q_perp = (w - rho) + rho * a, -rho * sin_a
        qx = q_par * w_hat_x + q_perp * cos_phi * e1x
        qy = q_perp * sin_phi
        qz = q_par * w_hat_z + q_perp * cos_phi * e1z
        q2 = qx * qx + qy * qy + qz * qz
        e_n = np.sqrt(M * M + q2)
        q0 = q2 / (e_n + M)
        t = q2 - q0 * q0
        pq = energy * q0 - p * qz
        kq = e_k * q0 - (kx * qx + kz * qz)
        inv = {
            "m": m, "mV2": mV2, "t": t, "pk": pk, "pq": pq, "kq": kq,
            "pS": 2.0 * M * energy + pq, "kS": 2.0 * M * e_k + kq, "SS": 4.0 * M * M + t,
        }  # fmt: skip
        amp2 = squared_amplitude_vector(inv, g2(t, material))
        df_drho = np.abs(rho / e_p + (rho - c) / e_n)
        weight = (
            energy * k * TWO_PI * rho**2
            / (2.0 * TWO_PI**5 * 4.0 * M * p * 4.0 * e_p * e_n * df_drho)
        )  # fmt: skip
        contribution = np.where(ok, amp2 * weight * dv_du * da_du * TWO_PI, 0.0)
        total += contribution
        if diagnostics is not None:
            # p'.k from the explicit vectors (k has no y component)
            s_from_momenta = 2.0 * (e_p * e_k - rho * (n_x * kx + n_z * kz)) + mV2
            s_from_q = -t - 2.0 * pq
            diagnostics.setdefault("roots", []).append(ok)
            diagnostics.setdefault("s_rel", []).append(
                np.abs(s_from_momenta - s_from_q)[ok] / np.abs(s_from_momenta)[ok]
            )
            diagnostics.setdefault("contribution", []).append(contribution[ok])
    return total


def independent_sigma_pb(lepton, target, energy, mV, x_edges, neval=60_000, nitn=8, seed=11):
    """sigma over [x_edges[0], x_edges[-1]] and its parts in the bins x_edges, in pb (gvar list)."""
    material = get_material(target)
    x_lo = x_edges[0]
    x_hi = min(x_edges[-1], 1.0 - lepton_mass(lepton) / energy)
    n_bins = len(x_edges) - 1

    @vegas.lbatchintegrand
    def integrand(u):
        x = x_lo + (x_hi - x_lo) * u[:, 0]
        value = independent_dsigma_dx(lepton, material, energy, mV, x, u[:, 1], u[:, 2], u[:, 3])
        value = value * (x_hi - x_lo) * GEV2_TO_PB
        out = np.zeros((len(x), 1 + n_bins))
        out[:, 0] = value
        index = np.clip(np.searchsorted(x_edges, x, side="right") - 1, 0, n_bins - 1)
        out[np.arange(len(x)), 1 + index] = value
        return out

    rng = np.random.default_rng(seed)
    integrator = vegas.Integrator(4 * [[0.0, 1.0]], ran_array_generator=rng.random)
    integrator(integrand, nitn=5, neval=neval)  # train the grid, discard
    return integrator(integrand, nitn=nitn, neval=neval)


def _compare(lepton, target, energy, mV, inner_edges=(), rel=0.02, bin_rel=0.03, neval=60_000):
    """Ours vs the independent integration over x in [m_V/E0, 1], and in the x bins between
    m_V/E0, inner_edges and 1 if any are given."""
    x_min = mV / energy
    edges = np.array([x_min, *inner_edges, 1.0])
    n_bins = len(edges) - 1
    ours = cross_section(
        lepton, target, energy, mV, x_min, 1.0,
        process="vector", precision=0.005, seed=5, x_edges=edges,
    )  # fmt: skip
    indep = independent_sigma_pb(lepton, target, energy, mV, edges, neval=neval)
    assert ours.status == "converged"
    assert indep.Q > 0.01, f"independent vegas iterations inconsistent: {indep.summary()}"
    pairs = [(ours.sigma_pb, ours.sigma_err_pb, indep[0].mean, indep[0].sdev, rel)]
    widths = np.diff(edges)
    if n_bins > 1:
        pairs += [
            (o * wd, oe * wd, i.mean, i.sdev, bin_rel)
            for o, oe, i, wd in zip(
                ours.dsigma_dx_pb, ours.dsigma_dx_err_pb, indep[1:], widths, strict=True
            )
        ]
    for a, a_err, b, b_err, tolerance in pairs:
        combined = np.hypot(a_err, b_err)
        assert abs(a - b) <= 3.0 * combined, (a, a_err, b, b_err)
        assert a == pytest.approx(b, rel=tolerance)
    return ours, indep


# ---------------------------------------------------------------------------------------------
# The points: heavy V at low energy (where DMG4 and ours differ), and lighter V for coverage.
# ---------------------------------------------------------------------------------------------
def test_heavy_vector_2gev_electrons_on_lead_20gev():
    """e Pb (Z=82, A=207), E0 = 20 GeV, m_V = 2 GeV (ours / DMG4 = 0.851): the total over
    x > m_V/E0 and its parts in x bins equal an integration of the same |M|^2 over
    (E_k, theta_k, recoil-lepton direction) with |p'| from energy conservation. Independent fact:
    our (xi, t, phi_q) map and its Jacobian are the exact 2 -> 3 phase space for heavy V,
    in total and in the x shape (recorded: ours / independent = 1.005 +- 0.004 in total, bins 0.987 .. 1.017).
    Heavy V at low energy comes mostly from x -> 1 (t_min shrinks there; 72 per cent of sigma is
    above x = 0.95, 6 per cent below 0.8), so the bins resolve that end, up to x = 0.99 .. 1."""
    _compare("e", PB207, 20.0, 2.0, inner_edges=(0.8, 0.9, 0.95, 0.99))


def test_heavy_vector_3gev_electrons_on_lead_20gev():
    """e Pb (Z=82, A=207), E0 = 20 GeV, m_V = 3 GeV (ours / DMG4 = 0.801, the largest gap):
    total over x > m_V/E0 from the independent phase space (recorded: ratio 0.995 +- 0.003)."""
    _compare("e", PB207, 20.0, 3.0)


def test_heavy_vector_1gev_electrons_on_lead_20gev():
    """e Pb (Z=82, A=207), E0 = 20 GeV, m_V = 1 GeV (ours / DMG4 = 0.935): total over
    x > m_V/E0 from the independent phase space (recorded: ratio 0.998 +- 0.004)."""
    _compare("e", PB207, 20.0, 1.0)


def test_vector_ldmx_like_electrons_on_aluminium_8gev():
    """e Al, E0 = 8 GeV, m_V = 0.5 GeV (light nucleus, M = 25 GeV, so recoil matters more):
    total over x > m_V/E0 from the independent phase space (recorded: ratio 0.9995 +- 0.0034)."""
    _compare("e", "Al", 8.0, 0.5)


def test_vector_na64mu_like_muons_on_lead_160gev():
    """mu Pb, E0 = 160 GeV, m_V = 0.1 GeV (muon mass comparable to m_V): total over x > m_V/E0
    from the independent phase space (recorded: ratio 1.0003 +- 0.0018)."""
    _compare("mu", "Pb", 160.0, 0.1)


def test_light_vector_electrons_on_lead_100gev():
    """e Pb (Z=82, A=207), E0 = 100 GeV, m_V = 10 MeV: collinear peaks (theta_k ~ 1e-4) and
    t down to ~1e-12 GeV^2, screened by the form factor. The independent map reaches this
    regime in float64 (see the diagnostic test); total over x > m_V/E0 agrees (recorded:
    ratio 0.998 +- 0.003), so our forward-region handling does not bias the light-V result.
    The peaks need more points per vegas iteration: at 60000 the iterations scatter beyond
    their errors (Q ~ 0.01) for some seeds, at 150000 not."""
    _compare("e", PB207, 100.0, 0.01, neval=150_000)


def test_independent_kinematics_are_self_consistent():
    """Diagnostic for the integrator above, at the heavy-V point and the light-V one: the
    reconstructed momenta conserve four-momentum to rounding (p' + k from the explicit vectors
    gives the same (p'+k)^2 - m^2 as -t - 2 p.q from q = W - p') wherever the integrand has
    weight; there is one physical recoil root per direction (B > m A for these energies), and
    no negative contributions."""
    rng = np.random.default_rng(2)
    for lepton, target, energy, mV, tolerance in [
        ("e", PB207, 20.0, 2.0, 1e-11),
        ("e", PB207, 100.0, 0.01, 1e-6),
    ]:
        material = get_material(target)
        u = rng.random((4, 50_000))
        x = mV / energy + (1.0 - mV / energy) * u[0]
        diagnostics = {}
        independent_dsigma_dx(lepton, material, energy, mV, x, u[1], u[2], u[3], diagnostics)
        n_roots = np.sum(diagnostics["roots"], axis=0)
        contribution = np.concatenate(diagnostics["contribution"])
        s_rel = np.concatenate(diagnostics["s_rel"])
        assert n_roots.max() == 1
        assert np.mean(n_roots == 1) > 0.9
        assert np.all(contribution >= -1e-6 * contribution.max())
        # points off by more than the tolerance carry a negligible share of the integral
        bad = s_rel > tolerance
        assert np.abs(contribution[bad]).sum() < 1e-6 * contribution.sum()
