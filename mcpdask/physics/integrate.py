"""Cross sections dsigma/dx of l N -> l N chi chibar (and l N -> l N V) integrated with vegas.

Methods:
  etl         exact tree level, factorised: Integral ds rho(s) dsigma_V(m_V^2 = s)/dx (5 dims)
  etl-direct  exact tree level, direct 2 -> 4 over the four-body phase space (7 dims)
  ww, iww     Weizsacker-Williams approximations of dsigma_V/dx convolved with rho(s)
One vegas run gives the total over [x_min, x_max] and dsigma/dx in x bins (shared adaptive grid);
the grid adapts to the total, which is the first component of the integrand.
"""

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import vegas
from scipy.stats import chi2 as chi2_distribution

from mcpdask.errors import PhysicsInputError
from mcpdask.physics import kinematics
from mcpdask.physics.amplitude import squared_amplitude_pair, squared_amplitude_vector
from mcpdask.physics.constants import ALPHA, GEV2_TO_PB, lepton_mass
from mcpdask.physics.formfactor import g2
from mcpdask.physics.materials import Material, get_material

PROCESSES = ("mcp", "vector")
METHODS = ("etl", "etl-direct", "ww", "iww")
STATUSES = ("converged", "budget_exhausted", "below_threshold")


def pair_spectral_density(s, m_chi):
    """rho(s) = (alpha / (3 pi s)) (1 + 2 m^2/s) sqrt(1 - 4 m^2/s), eps = 1 (PHYSICS.md 2a)."""
    s = np.asarray(s, dtype=float)
    r = np.where(s > 0, m_chi**2 / np.where(s > 0, s, 1.0), np.inf)
    above = r < 0.25
    safe = np.where(above, r, 0.0)
    return np.where(
        above, ALPHA / (3.0 * np.pi * s) * (1.0 + 2.0 * safe) * np.sqrt(1.0 - 4.0 * safe), 0.0
    )


@dataclass(frozen=True)
class VegasSettings:
    """How vegas is driven: warm-up iterations train the grid and are discarded; production
    iterations are averaged until the total reaches `precision` or `max_evals` is spent."""

    precision: float = 0.01
    max_evals: int = 5_000_000
    neval: int = 40_000
    warmup_iterations: int = 6
    min_iterations: int = 3
    alpha: float = 0.5


@dataclass(frozen=True)
class CrossSectionResult:
    """A cross section at eps = 1 in pb: the total over [x_min, x_max] and dsigma/dx in x bins."""

    lepton: str
    target: str
    energy_gev: float
    mass_gev: float
    x_min: float
    x_max: float
    process: str
    method: str
    seed: int
    precision: float
    sigma_pb: float
    sigma_err_pb: float
    x_edges: np.ndarray = field(repr=False)
    dsigma_dx_pb: np.ndarray = field(repr=False)
    dsigma_dx_err_pb: np.ndarray = field(repr=False)
    chi2_dof: float
    Q: float
    n_eval: int
    wall_s: float
    status: str

    @property
    def converged(self) -> bool:
        return self.status in ("converged", "below_threshold")

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("x_edges", "dsigma_dx_pb", "dsigma_dx_err_pb"):
            out[key] = np.asarray(out[key]).tolist()
        out["converged"] = self.converged
        return out


def _check_inputs(lepton, energy_gev, mass_gev, x_min, x_max, process, method, precision):
    m_lepton = lepton_mass(lepton)
    if process not in PROCESSES:
        raise PhysicsInputError(f"unknown process {process!r}; allowed: {', '.join(PROCESSES)}")
    if method not in METHODS:
        raise PhysicsInputError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if process == "vector" and method == "etl-direct":
        raise PhysicsInputError("method 'etl-direct' needs process 'mcp' (a pair to integrate)")
    if not (np.isfinite(energy_gev) and energy_gev > m_lepton):
        raise PhysicsInputError(
            f"beam energy {energy_gev!r} GeV must be finite and above the {lepton} mass "
            f"{m_lepton:.6g} GeV"
        )
    if not (np.isfinite(mass_gev) and mass_gev > 0):
        raise PhysicsInputError(f"mass {mass_gev!r} GeV must be finite and > 0")
    if not (0 <= x_min < x_max <= 1):
        raise PhysicsInputError(f"need 0 <= x_min < x_max <= 1, got x_min={x_min!r}, x_max={x_max!r}")
    if not (0 < precision < 1):
        raise PhysicsInputError(f"precision {precision!r} must be in (0, 1) (relative, e.g. 0.01)")
    available = min(x_max, 1.0 - m_lepton / energy_gev) * energy_gev
    threshold = 2.0 * mass_gev if process == "mcp" else mass_gev
    if threshold >= available:
        what = "2 m_chi" if process == "mcp" else "m_V"
        raise PhysicsInputError(
            f"{what} = {threshold:.6g} GeV >= available energy {available:.6g} GeV "
            f"(x_max * E0, at most E0 - m_{lepton}): mass {mass_gev!r} GeV is above threshold"
        )
    return m_lepton


def _point_function(method, process, m_lepton, material: Material, energy, mass, inelastic):
    """dsigma/dx (GeV^-2) as a function of the unit-cube coordinates after x, and its dimension."""
    M = material.nucleus_mass_gev

    def emission(x, mV2, u):
        inv, weight, k_lab = kinematics.emission(energy, m_lepton, M, x, mV2, u[:, 0], u[:, 1], u[:, 2])
        return inv, weight, k_lab, g2(inv["t"], material, inelastic)

    if method in ("ww", "iww"):
        from mcpdask.physics import ww

        def vector_ww(x, mV2):
            return ww.dsigma_dx(method, _lepton_name(m_lepton), material, energy, np.sqrt(mV2), x,
                                inelastic=inelastic)

    if process == "vector":
        mV2 = mass**2
        if method == "etl":
            def f(x, u):
                inv, weight, _, g = emission(x, mV2, u)
                return np.where(weight > 0, squared_amplitude_vector(inv, g) * weight, 0.0)
            return f, 3
        return (lambda x, u: vector_ww(x, mV2)), 0

    def pair_mass_squared(x, u_s):
        s_lo, s_hi = 4.0 * mass**2, (x * energy) ** 2
        log_s = np.log(np.maximum(s_hi / s_lo, 1.0))
        s = s_lo * np.exp(u_s * log_s)
        return s, s * log_s

    if method == "etl":
        def f(x, u):
            s, ds_du = pair_mass_squared(x, u[:, 0])
            inv, weight, _, g = emission(x, s, u[:, 1:])
            value = squared_amplitude_vector(inv, g) * weight * pair_spectral_density(s, mass)
            return np.where(weight > 0, value * ds_du, 0.0)
        return f, 4
    if method == "etl-direct":
        def f(x, u):
            s, ds_du = pair_mass_squared(x, u[:, 0])
            inv, weight, k_lab, g = emission(x, s, u[:, 1:4])
            inv, decay_weight = kinematics.pair_decay(inv, energy, M, k_lab, mass, u[:, 4], u[:, 5])
            value = squared_amplitude_pair(inv, g) * weight * decay_weight / (2.0 * np.pi)
            return np.where(weight > 0, value * ds_du, 0.0)
        return f, 6

    def f(x, u):
        s, ds_du = pair_mass_squared(x, u[:, 0])
        return vector_ww(x, s) * pair_spectral_density(s, mass) * ds_du
    return f, 1


def _lepton_name(m_lepton):
    return "e" if m_lepton < 0.01 else "mu"


def cross_section(
    lepton: str,
    target: "str | Material | dict",
    energy_gev: float,
    mass_gev: float,
    x_min: float,
    x_max: float = 1.0,
    *,
    process: str = "mcp",
    method: str = "etl",
    x_edges=None,
    precision: float = 0.01,
    max_evals: int | None = None,
    seed: int = 0,
    inelastic: bool = False,
    vegas_settings: VegasSettings | None = None,
) -> CrossSectionResult:
    """sigma(x_min < x < x_max) and dsigma/dx in the bins `x_edges` (default: 20 bins over
    [x_min, x_max]) in pb at eps = 1, for process 'mcp' (mass = m_chi) or 'vector' (mass = m_V,
    coupling e). Raises PhysicsInputError for inputs out of range.

    >>> r = cross_section("mu", "Pb", 160.0, 0.05, 0.5, precision=0.05, seed=1)
    >>> r.status, 1.0 < r.sigma_pb < 10.0
    ('converged', True)
    """
    start = time.perf_counter()
    material = get_material(target)
    m_lepton = _check_inputs(lepton, energy_gev, mass_gev, x_min, x_max, process, method, precision)
    edges = np.linspace(x_min, x_max, 21) if x_edges is None else np.asarray(x_edges, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0) or edges[0] < 0 or edges[-1] > 1:
        raise PhysicsInputError("x_edges must be increasing values in [0, 1], at least two of them")
    settings = vegas_settings or VegasSettings()
    settings = VegasSettings(**{**asdict(settings), "precision": precision,
                                **({"max_evals": int(max_evals)} if max_evals else {})})
    threshold_x = (2.0 * mass_gev if process == "mcp" else mass_gev) / energy_gev
    x_lo = max(min(edges[0], x_min), threshold_x)
    x_hi = min(max(edges[-1], x_max), 1.0 - m_lepton / energy_gev)
    point, ndim = _point_function(method, process, m_lepton, material, energy_gev, mass_gev, inelastic)
    widths = np.diff(edges)

    @vegas.lbatchintegrand
    def integrand(u):
        x = x_lo + (x_hi - x_lo) * u[:, 0]
        value = point(x, u[:, 1:]) * (x_hi - x_lo) * GEV2_TO_PB
        out = np.empty((len(x), len(edges)))
        out[:, 0] = np.where((x >= x_min) & (x <= x_max), value, 0.0)
        bin_index = np.searchsorted(edges, x, side="right") - 1
        in_bins = (bin_index >= 0) & (bin_index < len(widths))
        out[:, 1:] = 0.0
        rows = np.nonzero(in_bins)[0]
        out[rows, 1 + bin_index[rows]] = value[rows] / widths[bin_index[rows]]
        return out

    mean, sdev, chi2_dof, q_value, n_eval, status = _run_vegas(integrand, 1 + ndim, settings, seed)
    return CrossSectionResult(
        lepton=lepton, target=material.name, energy_gev=float(energy_gev), mass_gev=float(mass_gev),
        x_min=float(x_min), x_max=float(x_max), process=process, method=method, seed=int(seed),
        precision=float(precision), sigma_pb=float(mean[0]), sigma_err_pb=float(sdev[0]),
        x_edges=edges, dsigma_dx_pb=mean[1:], dsigma_dx_err_pb=sdev[1:], chi2_dof=chi2_dof,
        Q=q_value, n_eval=n_eval, wall_s=time.perf_counter() - start, status=status,
    )  # fmt: skip


def _run_vegas(integrand, ndim, settings: VegasSettings, seed: int):
    """Warm up, then average production iterations (inverse-variance weights per component)
    until the total's relative error reaches the precision or the evaluation budget is spent."""
    rng = np.random.default_rng(seed)
    integrator = vegas.Integrator(
        ndim * [[0.0, 1.0]], ran_array_generator=rng.random, alpha=settings.alpha, nhcube_batch=5000
    )
    neval = settings.neval
    n_eval = 0
    for _ in range(settings.warmup_iterations):
        integrator(integrand, nitn=1, neval=neval)
        n_eval += integrator.last_neval
    weights_sum, weighted_means, means, variances = 0.0, 0.0, [], []
    status = "budget_exhausted"
    while n_eval < settings.max_evals:
        result = integrator(integrand, nitn=1, neval=neval)
        n_eval += integrator.last_neval
        import gvar

        m, v = gvar.mean(result), gvar.var(result)
        means.append(m), variances.append(v)
        w = np.where(v > 0, 1.0 / np.where(v > 0, v, 1.0), 0.0)
        weights_sum, weighted_means = weights_sum + w, weighted_means + w * m
        if len(means) < settings.min_iterations:
            continue
        total = weighted_means[0] / weights_sum[0] if weights_sum[0] > 0 else 0.0
        total_err = math.sqrt(1.0 / weights_sum[0]) if weights_sum[0] > 0 else 0.0
        if total == 0.0 and total_err == 0.0:
            status = "below_threshold"
            break
        if total_err <= settings.precision * abs(total):
            status = "converged"
            break
        if len(means) % 4 == 0:
            neval *= 2
    safe_weights = np.where(weights_sum > 0, weights_sum, 1.0)
    mean = np.where(weights_sum > 0, weighted_means / safe_weights, np.array(means).mean(axis=0))
    sdev = np.where(weights_sum > 0, np.sqrt(1.0 / safe_weights), 0.0)
    dof = len(means) - 1
    chi2 = float(np.sum((np.array(means)[:, 0] - mean[0]) ** 2 / np.where(
        np.array(variances)[:, 0] > 0, np.array(variances)[:, 0], np.inf)))
    chi2_dof = chi2 / dof if dof > 0 else 0.0
    q_value = float(chi2_distribution.sf(chi2, dof)) if dof > 0 else 1.0
    return mean, sdev, chi2_dof, q_value, n_eval, status
