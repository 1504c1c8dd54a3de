"""Target materials: Z, A, density and radiation length (PDG), plus user-defined ones."""

import math
import numbers
from dataclasses import dataclass

from mcpdask.errors import UnknownMaterialError
from mcpdask.physics.constants import ATOMIC_MASS_UNIT_GEV


@dataclass(frozen=True)
class Material:
    """A target material; the nucleus is treated as one heavy spin-0 particle of charge Z."""

    name: str
    Z: float
    A: float
    """Atomic weight in g/mol (also sets the nucleus mass M = A * 0.9315 GeV)."""
    density_g_cm3: float
    radiation_length_cm: float

    def __post_init__(self):
        for field in ("Z", "A", "density_g_cm3", "radiation_length_cm"):
            value = getattr(self, field)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not (ok and math.isfinite(value) and value > 0):
                raise UnknownMaterialError(
                    f"material {self.name!r}: {field} must be a finite number > 0, got {value!r}"
                )

    @property
    def nucleus_mass_gev(self) -> float:
        return self.A * ATOMIC_MASS_UNIT_GEV


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material("Pb", 82, 207.2, 11.35, 0.5612),
        Material("W", 74, 183.84, 19.3, 0.3504),
        Material("Al", 13, 26.98, 2.699, 8.897),
        Material("Cu", 29, 63.546, 8.96, 1.436),
        Material("Fe", 26, 55.845, 7.874, 1.757),
        Material("C", 6, 12.011, 2.21, 19.32),
    )
}


def get_material(material: "str | Material | dict") -> Material:
    """A Material from a table name ('Pb'), a Material, or a dict with name, Z, A, density_g_cm3,
    radiation_length_cm (a user-defined target)."""
    if isinstance(material, Material):
        return material
    if isinstance(material, dict):
        try:
            return Material(**material)
        except TypeError as exc:
            raise UnknownMaterialError(
                f"user-defined material needs name, Z, A, density_g_cm3, radiation_length_cm: {exc}"
            ) from None
    if material in MATERIALS:
        return MATERIALS[material]
    raise UnknownMaterialError(
        f"unknown target material {material!r}; known: {', '.join(MATERIALS)} "
        "(or define your own: name, Z, A, density_g_cm3, radiation_length_cm; on the command "
        "line `mcpdask xsec --target NAME --z Z --a A --density RHO --x0 X0`)"
    )
