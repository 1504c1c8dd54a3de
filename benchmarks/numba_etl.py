"""A numba prototype of the `etl` integrand, to measure what a compiled kernel would gain.

Not used by mcpdask: the same arithmetic as mcpdask.physics.integrate._point_function('etl')
(pair mass map, kinematics.emission, squared_amplitude_vector, g2, pair_spectral_density), one
point at a time in a compiled loop instead of ~150 numpy array passes. The closed-form lepton
tensor is the generated function itself, compiled by numba.

    python -m benchmarks.numba_etl      # agreement with numpy, integrand and per-point speed

Times are CPU (process) times, so other jobs on the machine distort them little.
"""

import math
import time

import numba
import numpy as np

from mcpdask.physics import integrate
from mcpdask.physics._amplitude_closed_form import tensor_minus_g
from mcpdask.physics.constants import ALPHA
from mcpdask.physics.formfactor import nuclear_size_scale_gev2, screening_scale_gev
from mcpdask.physics.materials import get_material

TWO_PI = 2.0 * math.pi
E2 = 4.0 * math.pi * ALPHA
_tensor = numba.njit(cache=False, fastmath=False)(tensor_minus_g)


@numba.njit(cache=False)
def _etl_kernel(x, u, energy, m, M, mass, z2, a2, d, out):
    m2 = m * m
    p_abs = math.sqrt(energy * energy - m2)
    for i in range(x.shape[0]):
        out[i] = 0.0
        xi_ = x[i]
        # pair mass squared, logarithmic
        s_lo, s_hi = 4.0 * mass * mass, (xi_ * energy) ** 2
        log_s = math.log(max(s_hi / s_lo, 1.0))
        s = s_lo * math.exp(u[i, 0] * log_s)
        ds_du = s * log_s
        mV2 = s
        # emission
        e_k = xi_ * energy
        k_abs = math.sqrt(max(e_k * e_k - mV2, 0.0))
        e_minus_pk = (energy**2 * mV2 + m2 * e_k**2 - m2 * mV2) / (energy * e_k + p_abs * k_abs)
        xi_lo = 2.0 * e_minus_pk - mV2
        xi_hi = xi_lo + 4.0 * p_abs * k_abs
        if not (k_abs > 0 and xi_lo > 0 and e_k < energy - m):
            continue
        log_xi = math.log(xi_hi / xi_lo)
        xi = xi_lo * math.exp(u[i, 1] * log_xi)
        one_minus_cos = min((xi - xi_lo) / (2.0 * p_abs * k_abs), 2.0)
        cos_theta = 1.0 - one_minus_cos
        sin_theta = math.sqrt(one_minus_cos * (2.0 - one_minus_cos))
        dcos_du = xi * log_xi / (2.0 * p_abs * k_abs)
        w_x, w_z = -k_abs * sin_theta, p_abs - k_abs * cos_theta
        w_abs = math.hypot(w_x, w_z)
        w0 = energy - e_k
        a = 1.0 + w0 / M
        quad_a = a * a - (w_abs / M) ** 2
        quad_b = 2.0 * a * xi - 4.0 * w_abs**2
        disc = quad_b**2 - 4.0 * quad_a * xi**2
        if not (disc > 0 and w0 > m):
            continue
        t_lo = 2.0 * xi**2 / (-quad_b + math.sqrt(disc))
        t_hi = min(xi**2 / (quad_a * t_lo), 2.0 * M * (w0 - m))
        if not (t_hi > t_lo):
            continue
        log_t = math.log(t_hi / t_lo)
        t = t_lo * math.exp(u[i, 2] * log_t)
        dt_du = t * log_t
        q_abs = math.sqrt(t + t * t / (4.0 * M * M))
        q0 = t / (2.0 * M)
        cos_q = min(max((t * a + xi) / (2.0 * w_abs * q_abs), -1.0), 1.0)
        sin_q = math.sqrt((1.0 - cos_q) * (1.0 + cos_q))
        phi = TWO_PI * u[i, 3]
        q_par, q_e1 = q_abs * cos_q, q_abs * sin_q * math.cos(phi)
        q_x = (q_par * w_x + q_e1 * w_z) / w_abs
        q_z = (q_par * w_z - q_e1 * w_x) / w_abs
        pq = energy * q0 - p_abs * q_z
        kq = e_k * q0 - k_abs * (sin_theta * q_x + cos_theta * q_z)
        pk = 0.5 * (xi + mV2)
        pS = 2.0 * M * energy + pq
        kS = 2.0 * M * e_k + kq
        SS = 4.0 * M * M + t
        weight = energy * k_abs / (64.0 * M * M * p_abs * w_abs * TWO_PI**4)
        weight = weight * dcos_du * dt_du * TWO_PI
        if not (weight > 0):
            continue
        # form factor and amplitude
        a2t = a2 * t
        ff = a2t / (1.0 + a2t) / (1.0 + t / d)
        g = z2 * ff * ff
        s_tilde, u_tilde = -t - 2.0 * pq, mV2 - 2.0 * pk
        amp = 0.5 * E2**3 * g / t**2 * _tensor(
            m, mV2, t, pk, pq, kq, pS, kS, SS, s_tilde, u_tilde
        )  # fmt: skip
        # pair spectral density
        r = mass * mass / s
        rho = 0.0
        if r < 0.25:
            rho = ALPHA / (3.0 * math.pi * s) * (1.0 + 2.0 * r) * math.sqrt(1.0 - 4.0 * r)
        out[i] = amp * weight * rho * ds_du


def etl_point_function(m_lepton, material, energy, mass):
    """Drop-in for _point_function('etl', 'mcp', ...): f(x, u) and its dimension (4)."""
    M = material.nucleus_mass_gev
    z2 = float(material.Z) ** 2
    a2 = screening_scale_gev(material) ** 2
    d = nuclear_size_scale_gev2(material)

    def f(x, u):
        out = np.empty(len(x))
        _etl_kernel(np.ascontiguousarray(x), np.ascontiguousarray(u), energy, m_lepton, M, mass,
                    z2, a2, d, out)  # fmt: skip
        return out

    return f, 4


def patched_point_function(original):
    """_point_function with the numba kernel for elastic etl/mcp, the original otherwise."""

    def pf(method, process, m_lepton, material, energy, mass, inelastic):
        if method == "etl" and process == "mcp" and not inelastic:
            return etl_point_function(m_lepton, material, energy, mass)
        return original(method, process, m_lepton, material, energy, mass, inelastic)

    return pf


CASES = {
    "NA64mu": {"lepton": "mu", "target": "Pb", "energy_gev": 160.0, "x_min": 0.5},
    "LDMX": {"lepton": "e", "target": "Al", "energy_gev": 8.0, "x_min": 0.7},
}


def compare(n_points=200_000, mass=0.05, n_seeds=10, precisions=(0.01, 0.001)):
    """Agreement of the two integrands, their throughput, and cross_section time per point."""
    from mcpdask.physics.constants import lepton_mass

    rng = np.random.default_rng(0)
    rows = []
    original = integrate._point_function
    for name, exp in CASES.items():
        m_l, mat = lepton_mass(exp["lepton"]), get_material(exp["target"])
        f_np, _ = original("etl", "mcp", m_l, mat, exp["energy_gev"], mass, False)
        f_nb, _ = etl_point_function(m_l, mat, exp["energy_gev"], mass)
        x = rng.uniform(exp["x_min"], 1.0, n_points)
        u = rng.random((n_points, 4))
        f_nb(x[:10], u[:10])  # compile
        a, b = f_np(x, u), f_nb(x, u)
        scale = np.abs(a).max()
        row = {"experiment": name, "max_abs_diff_over_max": float(np.abs(a - b).max() / scale),
               "zero_pattern_equal": bool(np.array_equal(a == 0, b == 0))}  # fmt: skip
        for label, f in (("numpy", f_np), ("numba", f_nb)):
            start = time.process_time()
            f(x, u)
            row[f"{label}_evals_per_s"] = n_points / (time.process_time() - start)
        for prec in precisions:
            variants = {"numpy": original, "numba": patched_point_function(original)}
            times = {label: [] for label in variants}
            for rep in range(3):  # alternate the order; keep the fastest of 3
                for label in list(variants)[:: 1 if rep % 2 == 0 else -1]:
                    integrate._point_function = variants[label]
                    try:
                        integrate.cross_section(**exp, mass_gev=mass, precision=prec, seed=99)
                        start = time.process_time()
                        res = [integrate.cross_section(**exp, mass_gev=mass, precision=prec,
                                                       seed=s) for s in range(n_seeds)]  # fmt: skip
                        times[label].append((time.process_time() - start) / n_seeds)
                        row[f"{label}_sigma_at_{prec:g}"] = float(
                            np.mean([r.sigma_pb for r in res])
                        )
                    finally:
                        integrate._point_function = original
            for label, ts in times.items():
                row[f"{label}_point_s_at_{prec:g}"] = min(ts)
        rows.append(row)
    return rows


def format_table(rows):
    lines = ["numba prototype of the etl integrand (m_chi = 0.05 GeV)"]
    for r in rows:
        lines.append(
            f"{r['experiment']:<7} integrand {r['numpy_evals_per_s']:.3g} -> "
            f"{r['numba_evals_per_s']:.3g} evals/s (x{r['numba_evals_per_s'] / r['numpy_evals_per_s']:.1f}),"
            f" max |diff|/max {r['max_abs_diff_over_max']:.1e}"
        )
        for key in [k for k in r if k.startswith("numpy_point_s_at_")]:
            prec = key.rsplit("_", 1)[1]
            a, b = r[key], r[f"numba_point_s_at_{prec}"]
            lines.append(
                f"        point at {float(prec):.1%}: {a:.3f} s -> {b:.3f} s (x{a / b:.2f})"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_table(compare()))
