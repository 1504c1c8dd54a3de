"""Scans: point (the task of one point, its seed and computation) and runner (the scan itself)."""

from mcpdask.scanning.point import PointTask, compute_point, make_task, point_seed
from mcpdask.scanning.runner import ScanReport, default_store, scan

__all__ = [
    "PointTask",
    "ScanReport",
    "compute_point",
    "default_store",
    "make_task",
    "point_seed",
    "scan",
]
