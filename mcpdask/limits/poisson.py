"""Poisson upper limits on a signal and the statistics settings of a limit.

Limit. eps_lim = sqrt(N_up / N(eps = 1)). N_up is the classical (Neyman) one-sided Poisson upper
limit on the signal mean at confidence level CL with known expected background b, evaluated for an
observed count equal to the expected background (the "expected" limit; continuous in b):

    P(n <= n_obs | N_up + b) = 1 - CL   <=>   N_up = gammaincinv(n_obs + 1, CL) - b ,  n_obs = b

(the Garwood / chi^2 form N_up + b = chi2.ppf(CL, 2 (n_obs + 1)) / 2). With b = 0 and CL = 0.9 it
is -ln(0.1) = 2.3026, the paper's "2.3". No CLs or Feldman-Cousins construction is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from mcpdask.errors import PhysicsInputError

__all__ = ["Statistics", "poisson_upper_limit"]


def poisson_upper_limit(cl: float = 0.9, background=0.0, observed=None):
    """Classical one-sided Poisson upper limit on the signal mean (see the module docstring).

    `observed` defaults to the expected background (the expected limit); it may be non-integer
    (continuous extension through the regularised incomplete gamma function).

    >>> round(poisson_upper_limit(0.9), 4)  # -ln(0.1)
    2.3026
    >>> round(poisson_upper_limit(0.95), 4)  # -ln(0.05)
    2.9957
    >>> round(poisson_upper_limit(0.9, background=3.0), 3)
    3.681
    """
    if not (isinstance(cl, int | float) and 0.0 < cl < 1.0):
        raise PhysicsInputError(f"confidence level must be in (0, 1), got {cl!r}")
    b = np.asarray(background, dtype=float)
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise PhysicsInputError(f"expected background must be finite and >= 0, got {background!r}")
    n = b if observed is None else np.asarray(observed, dtype=float)
    if np.any(n < 0):
        raise PhysicsInputError(f"observed count must be >= 0, got {observed!r}")
    s_up = special.gammaincinv(n + 1.0, cl) - b
    if np.any(s_up <= 0):
        raise PhysicsInputError(
            f"no positive upper limit for CL={cl}, background={background!r}, observed={observed!r}"
        )
    return float(s_up) if s_up.ndim == 0 else s_up


@dataclass(frozen=True)
class Statistics:
    """How a limit is set: the signal upper limit `n_up` directly, or the classical Poisson one at
    confidence level `cl` with expected background `background` (observed = expected)."""

    n_up: float | None = None
    cl: float = 0.9
    background: float = 0.0

    def __post_init__(self):
        if self.n_up is not None:
            if self.background != 0.0 or self.cl != 0.9:
                raise PhysicsInputError("give either n_up or cl/background, not both")
            arr = np.asarray(self.n_up, dtype=float)
            if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                raise PhysicsInputError(f"n_up must be finite and > 0, got {self.n_up!r}")
        else:
            poisson_upper_limit(self.cl, self.background)  # refuses bad cl / background now

    @property
    def signal_upper_limit(self):
        """N_up: the given n_up, else the Poisson upper limit."""
        if self.n_up is not None:
            return self.n_up
        return poisson_upper_limit(self.cl, self.background)

    def describe(self) -> str:
        if self.n_up is not None:
            return f"N_up = {float(self.n_up):.4g} (given)"
        return (f"N_up = {self.signal_upper_limit:.4g} ({self.cl:.0%} CL classical Poisson, "
                f"background {self.background:g})")  # fmt: skip
