"""Sample specs: plain data that re-renders one sample exactly.

A spec holds every random choice made for a sample (source, objects with their class,
shape kind, position, pose and size, and the style's imaging parameters; the distractors
drawn with `--distractors`, which are never foreign bodies; the whole-film randomisation
drawn with `--randomise`). It is stored with the sample as JSON, so `render(spec, source)`
can replay any sample.
Coordinates are output pixels, origin top-left, x to the right, y down.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class ObjectSpec:
    """One foreign body. `params` are the shape kind's parameters, units in their names."""

    cls: str
    kind: str
    center_px: tuple[float, float]
    material: str
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SampleSpec:
    """Everything needed to re-render sample `index` from its source image."""

    index: int
    key: str
    source_index: int
    source_id: str
    label: str
    style: str
    height: int
    width: int
    spacing_mm: tuple[float, float]  # (row, col) of the OUTPUT image
    objects: tuple[ObjectSpec, ...] = ()
    imaging: dict[str, float] = field(default_factory=dict)
    # Support devices and burnt-in markers/text (generator.bodies.distractors): rendered,
    # never labelled as foreign bodies.
    distractors: tuple[ObjectSpec, ...] = ()
    # Whole-film domain randomisation (generator.render.randomise); empty: none.
    randomise: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data (what `dataclasses.asdict` gives, written out: asdict's
        deep copy of every parameter cost more than rendering a legacy sample)."""
        return {
            "index": self.index,
            "key": self.key,
            "source_index": self.source_index,
            "source_id": self.source_id,
            "label": self.label,
            "style": self.style,
            "height": self.height,
            "width": self.width,
            "spacing_mm": tuple(self.spacing_mm),
            "objects": tuple(_object_dict(o) for o in self.objects),
            "imaging": dict(self.imaging),
            "distractors": tuple(_object_dict(o) for o in self.distractors),
            "randomise": dict(self.randomise),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SampleSpec:
        """The spec of `to_dict`; specs written before distractors and randomisation have neither."""
        return cls(
            index=d["index"],
            key=d["key"],
            source_index=d["source_index"],
            source_id=d["source_id"],
            label=d["label"],
            style=d["style"],
            height=d["height"],
            width=d["width"],
            spacing_mm=tuple(d["spacing_mm"]),
            objects=tuple(_object_of(o) for o in d["objects"]),
            imaging=dict(d["imaging"]),
            distractors=tuple(_object_of(o) for o in d.get("distractors", ())),
            randomise=dict(d.get("randomise", {})),
        )


def _object_dict(o: ObjectSpec) -> dict[str, Any]:
    return {"cls": o.cls, "kind": o.kind, "center_px": tuple(o.center_px), "material": o.material,
            "params": dict(o.params)}


def _object_of(o: dict[str, Any]) -> ObjectSpec:
    return ObjectSpec(cls=o["cls"], kind=o["kind"], center_px=tuple(o["center_px"]), material=o["material"],
                      params=dict(o["params"]))


def sample_key(index: int) -> str:
    """The sample's key in shards: its global index, zero-padded so keys sort numerically."""
    return f"{index:08d}"
