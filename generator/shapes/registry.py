"""Every shape kind by name, built in one place: what `render.rasterise` looks kinds up in."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from generator.shapes import kinds
from generator.shapes.base import Shape
from generator.shapes.bullet import Bullet
from generator.shapes.disc import Disc
from generator.shapes.legacy import FlatBullet, FlatDisc, FlatPair
from generator.shapes.prism import Prism
from generator.shapes.rod import Rod
from generator.shapes.sheet import Sheet
from generator.shapes.spheres import Spheres
from generator.shapes.wire import Wire

SHAPES: Mapping[str, Shape] = MappingProxyType({
    kinds.PHYS_DISC: Disc(),
    kinds.PHYS_SPHERES: Spheres(),
    kinds.PHYS_BULLET: Bullet(),
    kinds.PHYS_ROD: Rod(),
    kinds.PHYS_PRISM: Prism(),
    kinds.PHYS_FRAGMENT: Prism(),
    kinds.PHYS_WIRE: Wire(),
    kinds.PHYS_SHEET: Sheet(),
    kinds.LEGACY_DISC: FlatDisc(),
    kinds.LEGACY_PAIR: FlatPair(),
    kinds.LEGACY_BULLET: FlatBullet(),
})
