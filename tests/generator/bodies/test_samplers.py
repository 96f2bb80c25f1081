"""Every class sampler of both styles names only registered shape kinds, and every kind is used."""

import numpy as np
import pytest

from generator.anatomy.estimate import nominal_anatomy
from generator.bodies import legacy
from generator.bodies.context import PlacementContext
from generator.bodies.physical import SAMPLERS as PHYSICAL_SAMPLERS
from generator.shapes import kinds
from generator.shapes.registry import SHAPES

DRAWS = 200


def _contexts():
    yield PlacementContext(height=390, width=320, spacing_mm=(0.8, 0.8))
    yield PlacementContext(height=512, width=512, spacing_mm=(0.5, 0.5), anatomy=nominal_anatomy(512, 512))


def _emitted(samplers) -> dict[str, set[str]]:
    out = {}
    for name, sampler in samplers.items():
        rng = np.random.default_rng(11)
        out[name] = {obj.kind for ctx in _contexts() for _ in range(DRAWS) for obj in sampler(rng, ctx)}
    return out


@pytest.mark.parametrize(("samplers", "allowed"), [(PHYSICAL_SAMPLERS, kinds.PHYSICAL_KINDS),
                                                   (legacy.SAMPLERS, kinds.LEGACY_KINDS)], ids=["physical", "legacy"])
def test_samplers_emit_only_registered_kinds_of_their_style(samplers, allowed):
    emitted = _emitted(samplers)
    for name, used in emitted.items():
        assert used, f"{name} drew no objects"
        assert used <= set(SHAPES), f"{name}: unregistered kinds {sorted(used - set(SHAPES))}"
        assert used <= set(allowed), f"{name}: kinds of another style {sorted(used - set(allowed))}"
    assert set().union(*emitted.values()) == set(allowed)  # no registered kind is dead


def test_each_class_draws_its_expected_kinds():
    emitted = _emitted(PHYSICAL_SAMPLERS)
    # Coins (rim, relief) and batteries (can, cap, contents) are layered sheets (issue 16).
    assert emitted["coin"] == {kinds.PHYS_SHEET}
    assert emitted["button_battery"] == {kinds.PHYS_SHEET}
    assert emitted["pin_needle"] == {kinds.PHYS_ROD}
    assert emitted["blade"] == {kinds.PHYS_PRISM}
    assert emitted["bullet"] == {kinds.PHYS_BULLET, kinds.PHYS_FRAGMENT}
    assert emitted["shrapnel"] == {kinds.PHYS_SPHERES, kinds.PHYS_FRAGMENT}
    assert emitted["magnets"] == {kinds.PHYS_SPHERES, kinds.PHYS_WIRE}
    assert {kinds.PHYS_WIRE, kinds.PHYS_SHEET} <= emitted["jewellery_clothing"]
    assert _emitted(legacy.SAMPLERS) == {"coin": {kinds.LEGACY_DISC}, "magnets": {kinds.LEGACY_PAIR},
                                         "bullet": {kinds.LEGACY_BULLET}}
