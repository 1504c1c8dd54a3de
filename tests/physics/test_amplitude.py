"""The closed-form squared amplitudes against brute-force numeric Dirac traces, and current
conservation of the lepton current with both diagrams (independent: explicit 4x4 matrices)."""

import numpy as np
import pytest

from mcpdask.physics._amplitude_closed_form import tensor_minus_g, tensor_rr

METRIC = np.diag([1.0, -1.0, -1.0, -1.0])
SIGMA = [
    np.array([[0, 1], [1, 0]], complex),
    np.array([[0, -1j], [1j, 0]], complex),
    np.array([[1, 0], [0, -1]], complex),
]
ZERO2, ONE2 = np.zeros((2, 2), complex), np.eye(2, dtype=complex)
GAMMA = [np.block([[ONE2, ZERO2], [ZERO2, -ONE2]])] + [
    np.block([[ZERO2, s], [-s, ZERO2]]) for s in SIGMA
]
IDENTITY = np.eye(4, dtype=complex)


def mdot(a, b):
    return a @ METRIC @ b


def slash(v):
    return sum(METRIC[i, i] * v[i] * GAMMA[i] for i in range(4))


def bar(matrix):
    return GAMMA[0] @ matrix.conj().T @ GAMMA[0]


def on_shell(mass, three_momentum):
    return np.array([np.sqrt(mass**2 + three_momentum @ three_momentum), *three_momentum])


def random_point(rng, m, m_v):
    """A physical-looking point: beam along z, nucleus at rest, on-shell p, k, P, P'."""
    M = 26.98 * 0.9315
    p = on_shell(m, np.array([0.0, 0.0, rng.uniform(1, 50)]))
    k = on_shell(m_v, rng.normal(size=3) * np.array([0.3, 0.3, 5.0]) + [0, 0, 3.0])
    q3 = rng.normal(size=3) * 0.05
    P = np.array([M, 0, 0, 0])
    P_out = on_shell(M, q3)
    return p, k, P, P_out


def closed_form_args(p, k, P, P_out, m, m_v):
    q, S = P_out - P, P + P_out
    t = -mdot(q, q)
    pk, pq = mdot(p, k), mdot(p, q)
    return (m, m_v**2, t, pk, pq, mdot(k, q), mdot(p, S), mdot(k, S), mdot(S, S),
            -t - 2 * pq, m_v**2 - 2 * pk)  # fmt: skip


def lepton_operator(eps, p, k, q, S, m):
    """O(eps) = eps S(p' + k) Sigma + Sigma S(p - k) eps with numerators only over denominators."""
    p_out = p - k - q
    s_t, u_t = mdot(p_out + k, p_out + k) - m**2, mdot(p - k, p - k) - m**2
    prop_s = (slash(p_out + k) + m * IDENTITY) / s_t
    prop_u = (slash(p - k) + m * IDENTITY) / u_t
    return eps @ prop_s @ slash(S) + slash(S) @ prop_u @ eps


def numeric_trace(a_matrix, b_matrix, p, k, q, S, m):
    p_out = p - k - q
    O_a = lepton_operator(a_matrix, p, k, q, S, m)
    O_b = lepton_operator(b_matrix, p, k, q, S, m)
    return np.trace((slash(p_out) + m * IDENTITY) @ O_a @ (slash(p) + m * IDENTITY) @ bar(O_b)).real


@pytest.mark.parametrize("m, m_v", [(0.000511, 0.03), (0.10566, 0.2), (0.10566, 1e-3)])
def test_closed_form_minus_g_equals_numeric_dirac_trace(m, m_v):
    rng = np.random.default_rng(1)
    for _ in range(5):
        p, k, P, P_out = random_point(rng, m, m_v)
        q, S = P_out - P, P + P_out
        brute = -sum(
            METRIC[n, n] * numeric_trace(GAMMA[n], GAMMA[n], p, k, q, S, m) for n in range(4)
        )
        closed = tensor_minus_g(*closed_form_args(p, k, P, P_out, m, m_v))
        assert closed == pytest.approx(brute, rel=1e-10)


def test_closed_form_rr_equals_numeric_dirac_trace():
    rng = np.random.default_rng(2)
    m, m_v = 0.10566, 0.3
    for _ in range(5):
        p, k, P, P_out = random_point(rng, m, m_v)
        q, S = P_out - P, P + P_out
        r = rng.normal(size=4)
        r = r - mdot(r, k) / mdot(k, k) * k  # r.k = 0, as for r = (k1 - k2)/2
        brute = numeric_trace(slash(r), slash(r), p, k, q, S, m)
        closed = tensor_rr(
            *closed_form_args(p, k, P, P_out, m, m_v),
            mdot(r, p),
            mdot(r, q),
            mdot(r, S),
            mdot(r, r),
        )
        assert closed == pytest.approx(brute, rel=1e-10)


def dirac_spinors(p, m):
    """u(p, s) for both spins (Dirac representation)."""
    E, p3 = p[0], p[1:]
    sigma_p = sum(s * c for s, c in zip(SIGMA, p3, strict=False))
    out = []
    for chi in (np.array([1, 0], complex), np.array([0, 1], complex)):
        out.append(np.sqrt(E + m) * np.concatenate([chi, sigma_p @ chi / (E + m)]))
    return out


def test_lepton_current_is_conserved_with_both_diagrams():
    """k_nu J^nu = 0 (and q_mu of the photon vertex too) only for the sum of both diagrams."""
    rng = np.random.default_rng(3)
    m, m_v = 0.10566, 0.05
    p, k, P, P_out = random_point(rng, m, m_v)
    q, S = P_out - P, P + P_out
    p_out = p - k - q
    p_out[0] = np.sqrt(m**2 + p_out[1:] @ p_out[1:])  # put p' on shell, keep momentum
    q = p - k - p_out  # energy non-conservation moves to the photon, which is off shell anyway
    for u_in in dirac_spinors(p, m):
        for u_out in dirac_spinors(p_out, m):
            ubar = u_out.conj() @ GAMMA[0]
            full = [ubar @ lepton_operator(GAMMA[n], p, k, q, S, m) @ u_in for n in range(4)]
            one = [
                ubar
                @ GAMMA[n]
                @ (slash(p_out + k) + m * IDENTITY)
                @ slash(S)
                @ u_in
                / (mdot(p_out + k, p_out + k) - m**2)
                for n in range(4)
            ]
            scale = np.abs(full).max()
            k_dot = sum(METRIC[n, n] * k[n] * full[n] for n in range(4))
            assert abs(k_dot) < 1e-10 * scale * abs(k[0])
            k_dot_one = sum(METRIC[n, n] * k[n] * one[n] for n in range(4))
            assert abs(k_dot_one) > 1e-3 * scale * abs(k[0])  # one diagram alone is not
