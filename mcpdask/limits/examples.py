"""A tiny in-memory cube with the stored schema, for examples and doctests."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["example_cube"]


def example_cube() -> xr.Dataset:
    """A tiny in-memory cube with the stored schema (one experiment, constant dsigma/dx = 1 pb)."""
    edges = np.linspace(0.0, 1.0, 11)
    mass = np.array([0.01, 0.1])
    shape = (1, 1, mass.size, edges.size - 1)
    return xr.Dataset(
        {
            "dsigma_dx": (("experiment", "energy", "mass", "x"), np.ones(shape)),
            "dsigma_dx_err": (("experiment", "energy", "mass", "x"), np.full(shape, 0.01)),
            "sigma": (("experiment", "energy", "mass"), np.ones(shape[:3])),
            "sigma_err": (("experiment", "energy", "mass"), np.full(shape[:3], 0.01)),
            "status": (("experiment", "energy", "mass"), np.ones(shape[:3], dtype=np.int8)),
        },
        coords={
            "experiment": ["na64mu"],
            "energy": [160.0],
            "mass": mass,
            "x": 0.5 * (edges[1:] + edges[:-1]),
            "x_edge": edges,
            "lepton": ("experiment", ["mu"]),
            "target": ("experiment", ["Pb"]),
            "target_Z": ("experiment", [82.0]),
            "target_A": ("experiment", [207.2]),
            "target_density": ("experiment", [11.35]),
            "target_X0": ("experiment", [0.5612]),
            "thickness_cm": ("experiment", [40 * 0.5612]),
            "leptons_on_target": ("experiment", [1e14]),
            "x_min": ("experiment", [0.5]),
            "x_max": ("experiment", [1.0]),
            "nominal_energy": ("experiment", [160.0]),
        },
    )
