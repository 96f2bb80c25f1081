"""The registry: one shape per kind constant, nothing else."""

import pytest
import torch

from generator.shapes import kinds
from generator.shapes.base import ParamTable
from generator.shapes.registry import SHAPES


def test_the_registry_holds_exactly_the_kind_constants():
    assert set(SHAPES) == set(kinds.KINDS)
    assert len(kinds.KINDS) == len(set(kinds.KINDS)) == 11  # phys_sheet added (issue 16)
    assert set(kinds.PHYSICAL_KINDS).isdisjoint(kinds.LEGACY_KINDS)
    assert all(type(kind) is str for kind in kinds.KINDS)  # specs store plain strings


def test_every_registered_shape_has_the_contract():
    for kind, shape in SHAPES.items():
        assert callable(shape.extent_px) and callable(shape.field), kind


def test_the_registry_is_read_only():
    with pytest.raises(TypeError):
        SHAPES["extra"] = SHAPES[kinds.PHYS_DISC]  # type: ignore[index]


def test_prism_and_fragment_are_separate_instances_of_one_shape():
    prism, fragment = SHAPES[kinds.PHYS_PRISM], SHAPES[kinds.PHYS_FRAGMENT]
    assert type(prism) is type(fragment) and prism is not fragment
    params = ParamTable(["thickness_mm", *[f"v{k}_{a}_mm" for k in range(8) for a in "xy"]],
                        torch.tensor([[1.0]] + [[3.0], [4.0]] * 8))
    spacing = torch.tensor([[0.5, 0.5]])
    assert torch.equal(prism.extent_px(params, spacing), fragment.extent_px(params, spacing))
    assert prism.extent_px(params, spacing).item() == (5.0 + 1.0) / 0.5 + 1.0
