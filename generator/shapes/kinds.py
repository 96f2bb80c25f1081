"""Shape kind names: what an ObjectSpec's `kind` holds and `registry.SHAPES` is keyed by.

Plain strings, so a spec's JSON is the same text whichever module wrote the kind.
"""

from __future__ import annotations

PHYS_DISC = "phys_disc"
PHYS_SPHERES = "phys_spheres"
PHYS_BULLET = "phys_bullet"
PHYS_ROD = "phys_rod"
PHYS_PRISM = "phys_prism"
PHYS_FRAGMENT = "phys_fragment"  # a prism, grouped apart so small fragments get small windows
PHYS_WIRE = "phys_wire"
PHYS_SHEET = "phys_sheet"

LEGACY_DISC = "legacy_disc"
LEGACY_PAIR = "legacy_pair"
LEGACY_BULLET = "legacy_bullet"

PHYSICAL_KINDS = (PHYS_DISC, PHYS_SPHERES, PHYS_BULLET, PHYS_ROD, PHYS_PRISM, PHYS_FRAGMENT, PHYS_WIRE, PHYS_SHEET)
LEGACY_KINDS = (LEGACY_DISC, LEGACY_PAIR, LEGACY_BULLET)
KINDS = PHYSICAL_KINDS + LEGACY_KINDS
