"""Every shape kind by name, built in one place: what `render.rasterise` looks kinds up in."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from generator.shapes.base import Shape
from generator.shapes.bullet import Bullet
from generator.shapes.disc import Disc
from generator.shapes.legacy import FlatBullet, FlatDisc, FlatPair
from generator.shapes.prism import Prism
from generator.shapes.rod import Rod
from generator.shapes.spheres import Spheres
from generator.shapes.wire import Wire

SHAPES: Mapping[str, Shape] = MappingProxyType({
    "phys_disc": Disc(),
    "phys_spheres": Spheres(),
    "phys_bullet": Bullet(),
    "phys_rod": Rod(),
    "phys_prism": Prism(),
    "phys_fragment": Prism(),
    "phys_wire": Wire(),
    "legacy_disc": FlatDisc(),
    "legacy_pair": FlatPair(),
    "legacy_bullet": FlatBullet(),
})
