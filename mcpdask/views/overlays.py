"""Existing limits for overlays: reading `mass_GeV,eps` CSV files and turning them into filled regions.

File format (one experiment per file): '#' comment lines first, naming the source, then the header
`mass_GeV,eps`, then one `mass,eps` row per point (mass in GeV, eps in units of e). Blank lines and
further '#' lines are ignored. A file traces either a closed contour of the excluded region or its
lower edge only; either way the excluded region lies above the traced line, so the filled region is
the traced polygon closed along the top of the plot (`Overlay.polygon`). Any malformed line is an
OverlayError naming the file and the line number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcpdask.errors import McpdaskError

HEADER = ("mass_GeV", "eps")


class OverlayError(McpdaskError):
    """An overlay file or directory of existing limits is missing or malformed."""


@dataclass(frozen=True)
class Overlay:
    """An existing exclusion in the (m_chi, eps) plane as read from a file: the traced points in
    file order, the experiment name (file stem) and the source named in the comment lines."""

    name: str
    mass_gev: np.ndarray
    eps: np.ndarray
    source: str = ""
    path: str = ""

    @property
    def closed(self) -> bool:
        """True when the traced line returns to its first point (a closed contour)."""
        first = np.log([self.mass_gev[0], self.eps[0]])
        last = np.log([self.mass_gev[-1], self.eps[-1]])
        return bool(np.all(np.abs(first - last) < 1e-6))

    def polygon(self, eps_top: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
        """(mass, eps) vertices of the excluded region: the traced line, closed along eps_top
        (raised to the file's largest eps if that is higher) unless it is already closed."""
        if self.closed:
            return self.mass_gev.copy(), self.eps.copy()
        top = max(float(eps_top), float(self.eps.max()))
        mass = np.r_[self.mass_gev, self.mass_gev[-1], self.mass_gev[0]]
        eps = np.r_[self.eps, top, top]
        return mass, eps

    def to_reference_curve(self):
        """The same curve as a mcpdask.reach.ReferenceCurve (for reach windows)."""
        from mcpdask.reach import ReferenceCurve

        return ReferenceCurve(self.name, self.mass_gev, self.eps, source=self.source)


def read_overlay(path: str | Path) -> Overlay:
    """Read one overlay CSV (format in the module docstring).

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    ...     _ = f.write("# toy bound, made up\\nmass_GeV,eps\\n0.01,1e-3\\n0.1,2e-3\\n")
    >>> ov = read_overlay(f.name); os.unlink(f.name)
    >>> ov.source, ov.eps.tolist()
    ('toy bound, made up', [0.001, 0.002])
    """
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise OverlayError(f"overlay {path}: not a text file") from None
    except OSError as exc:
        raise OverlayError(f"overlay {path}: cannot read it ({exc.strerror})") from None
    comments: list[str] = []
    header_seen = False
    mass: list[float] = []
    eps: list[float] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if not header_seen:
                comments.append(line.lstrip("#").strip())
            continue
        where = f"overlay {path} line {number}"
        if not header_seen:
            fields = tuple(f.strip() for f in line.split(","))
            if fields != HEADER:
                raise OverlayError(
                    f"{where}: expected the header 'mass_GeV,eps' after the '#' comment lines, "
                    f"got {line[:60]!r}"
                )
            if not any(comments):
                raise OverlayError(
                    f"{where}: no '#' comment line naming the source before the header"
                )
            header_seen = True
            continue
        fields = tuple(f.strip() for f in line.split(","))
        if len(fields) != 2:
            raise OverlayError(
                f"{where}: expected 2 columns 'mass_GeV,eps', got {len(fields)}: {line[:60]!r}"
            )
        try:
            m_val, e_val = float(fields[0]), float(fields[1])
        except ValueError:
            raise OverlayError(f"{where}: not a number: {line[:60]!r}") from None
        if not (math.isfinite(m_val) and math.isfinite(e_val) and m_val > 0 and e_val > 0):
            raise OverlayError(f"{where}: mass and eps must be finite and > 0, got {line[:60]!r}")
        mass.append(m_val)
        eps.append(e_val)
    if not header_seen:
        raise OverlayError(f"overlay {path}: no header line 'mass_GeV,eps'")
    if len(mass) < 2:
        raise OverlayError(f"overlay {path}: needs at least 2 data rows, has {len(mass)}")
    source = "; ".join(c for c in comments if c)
    return Overlay(path.stem, np.array(mass), np.array(eps), source=source, path=str(path))


def read_overlays(path: str | Path) -> list[Overlay]:
    """All overlays of a directory (its *.csv files, sorted by name) or of a single file."""
    path = Path(path)
    if not path.exists():
        raise OverlayError(f"overlay directory {path}: does not exist")
    if path.is_file():
        return [read_overlay(path)]
    files = sorted(path.glob("*.csv"))
    if not files:
        raise OverlayError(f"overlay directory {path}: has no *.csv files")
    return [read_overlay(f) for f in files]
