"""mcpdask: millicharged-particle reach of lepton fixed-target missing-energy experiments.

The public API is imported lazily, so `import mcpdask` stays cheap:

    mcpdask.scan(config, store, client=None, run_on=RunOn(...))   a scan into a Zarr cube
    mcpdask.open_cube(store)                   the cube as a lazily loaded (dask-backed) Dataset
    mcpdask.load_scan(path), mcpdask.load_experiment(name_or_path)
    mcpdask.eps_limits(cube, Exposure(...), Statistics(...), channels=...)   lazy eps limits
    mcpdask.signal_yield(cube, ...), mcpdask.limits_dataset(cube, ...)
    mcpdask.cross_section(lepton, target, energy_gev, mass_gev, x_min, ...)   one point, in pb
    mcpdask.vector_cross_section(lepton, target, energy_gev, m_v_gev)   dark-photon sigma_V, in pb
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcpdask")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

_LAZY = {
    "scan": "mcpdask.scanning",
    "ScanReport": "mcpdask.scanning",
    "RunOn": "mcpdask.cluster",
    "open_cube": "mcpdask.cube",
    "load_scan": "mcpdask.experiments",
    "load_experiment": "mcpdask.experiments",
    "Experiment": "mcpdask.experiments",
    "ScanSpec": "mcpdask.experiments",
    "Exposure": "mcpdask.limits",
    "Statistics": "mcpdask.limits",
    "eps_limits": "mcpdask.limits",
    "signal_yield": "mcpdask.limits",
    "limits_dataset": "mcpdask.limits",
    "reach_window": "mcpdask.limits",
    "cross_section": "mcpdask.physics.integrate",
    "vector_cross_section": "mcpdask.physics.integrate",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mcpdask' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
