"""Vector-meson channel V -> chi chibar (PHYSICS.md 5): PDG inputs, branching ratio, yields, limits.

Bremsstrahlung photons in a thick-enough target photoproduce vector mesons (gamma N -> V N); an
invisible decay V -> chi chibar is a missing-energy signal (Schuster, Toro, Zhou, arXiv:2112.02104).
For a vector coupling to the electromagnetic current,

    Br(V -> chi chibar) = eps^2 Br(V -> e+e-) * beta_f(m_chi) / beta_f(m_e),
    beta_f(m) = (1 + 2 m^2/m_V^2) sqrt(1 - 4 m^2/m_V^2)   (zero for m >= m_V / 2),

and the signal is N_sig,V = N_V Br(V -> chi chibar), with N_V the number of mesons produced.

Everything here is plain numpy (ufuncs only), so it also works elementwise on xarray DataArrays and
dask arrays. Masses come from the PDG tables of the `particle` package; Br(V -> e+e-) from the PDG
listings (not tabulated in `particle`).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from hepunits import GeV, MeV
from particle import Particle

from mcpdask.errors import PhysicsInputError
from mcpdask.physics.constants import ELECTRON_MASS_GEV


def _pdg_mass_gev(pdgid: int) -> float:
    return Particle.from_pdgid(pdgid).mass * MeV / GeV


@dataclass(frozen=True)
class Meson:
    """A vector meson with its invisible-decay inputs.

    `yield_at_nominal_exposure` is N_V, the number of mesons produced at the reference exposure
    `reference_lot` (leptons on target) and reference target thickness `reference_thickness_x0`
    (in radiation lengths); an experiment config fills both with its own nominal values. Yields
    scale linearly with both (thin-target photon yield N_gamma ~ LOT * L_T / X0); None disables
    that scaling.
    """

    name: str
    mass_gev: float
    br_ee: float
    yield_at_nominal_exposure: float | None = 0.0
    """None: not set by hand (computed from photoproduction where the experiment says so)."""
    reference_lot: float | None = None
    reference_thickness_x0: float | None = None
    source: str = ""

    def __post_init__(self):
        if not (self.mass_gev > 0):
            raise PhysicsInputError(
                f"meson {self.name!r}: mass_gev must be > 0, got {self.mass_gev!r}"
            )
        if not (0 <= self.br_ee <= 1):
            raise PhysicsInputError(
                f"meson {self.name!r}: br_ee must be in [0, 1], got {self.br_ee!r}"
            )
        if self.yield_at_nominal_exposure is not None and not (self.yield_at_nominal_exposure >= 0):
            raise PhysicsInputError(
                f"meson {self.name!r}: yield_at_nominal_exposure must be >= 0, "
                f"got {self.yield_at_nominal_exposure!r}"
            )
        if self.reference_lot is not None and not (self.reference_lot > 0):
            raise PhysicsInputError(
                f"meson {self.name!r}: reference_lot must be > 0, got {self.reference_lot!r}"
            )
        if self.reference_thickness_x0 is not None and not (self.reference_thickness_x0 > 0):
            raise PhysicsInputError(
                f"meson {self.name!r}: reference_thickness_x0 must be > 0, "
                f"got {self.reference_thickness_x0!r}"
            )


PDG_VECTOR_MESONS: dict[str, Meson] = {
    m.name: m
    for m in (
        # masses: PDG via `particle`; Br(e+e-): PDG 2024 listings (rho: Gamma(e+e-)/Gamma).
        Meson("rho", _pdg_mass_gev(113), 4.72e-5, source="PDG: rho(770)0, Br(e+e-) = 4.72e-5"),
        Meson("omega", _pdg_mass_gev(223), 7.38e-5, source="PDG: omega(782), Br(e+e-) = 7.38e-5"),
        Meson("phi", _pdg_mass_gev(333), 2.979e-4, source="PDG: phi(1020), Br(e+e-) = 2.979e-4"),
        Meson("jpsi", _pdg_mass_gev(443), 5.971e-2, source="PDG: J/psi(1S), Br(e+e-) = 5.971e-2"),
    )
}
"""The four vector mesons of PHYSICS.md 5 with PDG masses and Br(V -> e+e-); yields unset (0)."""

_ALIASES = {"j/psi": "jpsi", "jpsi": "jpsi", "j_psi": "jpsi", "psi": "jpsi"}


def canonical_meson_name(name: str) -> str:
    """'J/psi' -> 'jpsi' etc.; other names lower-cased."""
    key = str(name).strip().lower()
    return _ALIASES.get(key, key)


def as_meson(
    spec: "Meson | Mapping",
    *,
    reference_lot: float | None = None,
    reference_thickness_x0: float | None = None,
) -> Meson:
    """A Meson from a Meson, a config object or a dict {name, mass_gev?, br_ee?,
    yield_at_nominal_exposure, reference_lot?, reference_thickness_x0?, note?}; missing mass and
    br_ee are filled from the PDG table; `reference_*` fill the exposure the yield refers to."""
    if isinstance(spec, Meson):
        return spec
    if hasattr(spec, "model_dump"):  # a config object (mcpdask.experiments.Meson)
        spec = spec.model_dump()
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise PhysicsInputError(f"meson spec must be a Meson or a dict with a 'name', got {spec!r}")
    fields = {k: v for k, v in dict(spec).items() if v is not None}
    if "note" in fields:
        fields["source"] = fields.pop("note")
    name = canonical_meson_name(fields.pop("name"))
    base = PDG_VECTOR_MESONS.get(name)
    allowed = {
        "mass_gev",
        "br_ee",
        "yield_at_nominal_exposure",
        "reference_lot",
        "reference_thickness_x0",
        "source",
        "note",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise PhysicsInputError(
            f"meson {name!r}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    if base is None and not {"mass_gev", "br_ee"} <= set(fields):
        raise PhysicsInputError(
            f"meson {name!r} is not one of {sorted(PDG_VECTOR_MESONS)}: give mass_gev and br_ee"
        )
    if reference_lot is not None and "reference_lot" not in fields:
        fields["reference_lot"] = reference_lot
    if reference_thickness_x0 is not None and "reference_thickness_x0" not in fields:
        fields["reference_thickness_x0"] = reference_thickness_x0
    fields = {k: (v if k == "source" else float(v)) for k, v in fields.items()}
    if base is None:
        return Meson(name=name, **fields)
    return replace(base, **fields)


def as_mesons(specs: "Iterable[Meson | Mapping] | None", **kw) -> tuple[Meson, ...]:
    """A tuple of Mesons from a list of specs (see `as_meson`); None gives ()."""
    if specs is None:
        return ()
    mesons = tuple(as_meson(s, **kw) for s in specs)
    names = [m.name for m in mesons]
    if len(set(names)) != len(names):
        raise PhysicsInputError(f"duplicate meson names in {names}")
    return mesons


def threshold_factor(mass_gev, parent_mass_gev):
    """beta_f = (1 + 2 r) sqrt(1 - 4 r), r = m^2 / M^2: the two-body phase space and spin factor of
    V -> f fbar for a vector coupling; exactly 0 for m >= M/2. Elementwise, numpy/xarray/dask."""
    r = (mass_gev / parent_mass_gev) ** 2
    return (1.0 + 2.0 * r) * np.sqrt(np.maximum(1.0 - 4.0 * r, 0.0))


def branching_ratio_chichi_per_eps2(mass_chi_gev, meson: Meson):
    """Br(V -> chi chibar) / eps^2 = Br(V -> e+e-) beta_f(m_chi) / beta_f(m_e) (PHYSICS.md 5)."""
    return (
        meson.br_ee
        * threshold_factor(mass_chi_gev, meson.mass_gev)
        / threshold_factor(ELECTRON_MASS_GEV, meson.mass_gev)
    )


def meson_yield(meson: Meson, leptons_on_target=None, thickness_x0=None):
    """N_V at the given exposure (and target thickness in X0), scaled linearly from the reference."""
    n_v = meson.yield_at_nominal_exposure
    if leptons_on_target is not None and meson.reference_lot is not None:
        n_v = n_v * (leptons_on_target / meson.reference_lot)
    if thickness_x0 is not None and meson.reference_thickness_x0 is not None:
        n_v = n_v * (thickness_x0 / meson.reference_thickness_x0)
    return n_v


def meson_signal_yield(mass_chi_gev, meson: Meson, n_mesons=None, eps=1.0):
    """N_sig,V = N_V Br(V -> chi chibar) for charge eps (default eps = 1, i.e. the yield per eps^2).

    n_mesons defaults to the meson's `yield_at_nominal_exposure`.

    >>> rho = replace(PDG_VECTOR_MESONS["rho"], yield_at_nominal_exposure=5e10)
    >>> round(float(meson_signal_yield(0.25, rho)), -3)
    2179000.0
    >>> float(meson_signal_yield(0.4, rho))  # above m_rho / 2: closed
    0.0
    """
    if n_mesons is None:
        n_mesons = meson.yield_at_nominal_exposure
    return eps**2 * n_mesons * branching_ratio_chichi_per_eps2(mass_chi_gev, meson)


def eps_limit_from_yield(n_signal_eps1, n_up=2.302585092994046):
    """eps_lim = sqrt(N_up / N_sig(eps = 1)); +inf where the yield is 0 (no sensitivity), NaN kept."""
    with np.errstate(divide="ignore"):
        return np.sqrt(np.divide(n_up, n_signal_eps1))


def meson_eps_limit(mass_chi_gev, meson: Meson, n_mesons=None, n_up=2.302585092994046):
    """Per-meson limit eps_lim,V = sqrt(N_up / (N_V Br(V -> chi chibar) / eps^2)).

    >>> rho = replace(PDG_VECTOR_MESONS["rho"], yield_at_nominal_exposure=5e10)
    >>> float(meson_eps_limit(0.25, rho, n_up=2.3))  # doctest: +ELLIPSIS
    0.00102...
    """
    return eps_limit_from_yield(meson_signal_yield(mass_chi_gev, meson, n_mesons), n_up)
