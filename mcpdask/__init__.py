"""mcpdask: millicharged-particle reach of lepton fixed-target missing-energy experiments.

The public API is imported lazily, so `import mcpdask` stays cheap:

    mcpdask.scan(config, store, client=None)   run a scan (YAML path or ScanSpec) into a Zarr cube
    mcpdask.open_cube(store)                   the cube as a lazily loaded (dask-backed) Dataset
    mcpdask.load_scan(path), mcpdask.load_experiment(name_or_path)
    mcpdask.limits(cube, exposure=..., channels=...)   lazy eps limits (DataArray) from a cube
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
    "scan": ("mcpdask.scan", "scan"),
    "open_cube": ("mcpdask.cube", "open_cube"),
    "load_scan": ("mcpdask.experiments", "load_scan"),
    "load_experiment": ("mcpdask.experiments", "load_experiment"),
    "Experiment": ("mcpdask.experiments", "Experiment"),
    "ScanSpec": ("mcpdask.experiments", "ScanSpec"),
    "limits": ("mcpdask.reach", "eps_limits"),
    "signal_yield": ("mcpdask.reach", "signal_yield"),
    "limits_dataset": ("mcpdask.reach", "limits_dataset"),
    "cross_section": ("mcpdask.physics.integrate", "cross_section"),
    "vector_cross_section": ("mcpdask.physics.integrate", "vector_cross_section"),
}

__all__ = [
    "Experiment",
    "ScanSpec",
    "__version__",
    "cross_section",
    "limits",
    "limits_dataset",
    "load_experiment",
    "load_scan",
    "open_cube",
    "scan",
    "signal_yield",
    "vector_cross_section",
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        # `mcpdask.scan` is the module mcpdask.scan, which is callable as its function scan()
        value = module if name == "scan" else getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mcpdask' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
