"""One sample as it is stored in a shard, whatever the shard format.

`ShardSample` is the contract between the renderer/annotator and every shard writer and
reader. Its JSON fields (`objects`, `spec`, `meta`) are normalised to plain JSON values on
construction (tuples become lists, keys become strings), so a sample read back from any
shard compares equal to the one that was written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

IMAGE_EXTENSIONS = ("jpg", "png")
"""Allowed `ShardSample.image_format` values: file extensions (a 16-bit PNG is "png" with 16-bit
content). The build option `--image-format` and its values are `render.encode.IMAGE_FORMATS`."""

_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")


def is_valid_key(key: object) -> bool:
    """Whether `key` is a sample key a shard may hold: letters, digits, "_" and "-" only (no
    "/", "..", absolute path, space or non-ASCII: a reader refuses any other member name)."""
    return isinstance(key, str) and len(key) <= 128 and _KEY_RE.fullmatch(key) is not None

# The fields of a sample's JSON annotation: everything except the two binary payloads.
_ANNOTATION_FIELDS = (
    "height",
    "image_format",
    "key",
    "label",
    "label_name",
    "labels",
    "meta",
    "objects",
    "source_id",
    "spec",
    "width",
)
# Fields that builds made before them lack.
_OPTIONAL_FIELDS = ("label_name",)


def canonical_json(value: Any) -> str:
    """Serialise `value` the same way every time: sorted keys, no spaces, strict JSON.

    NaN and infinity are refused (`allow_nan=False`): they are not JSON, and readers other
    than Python's would reject the shard.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _plain_json(value: Any, what: str) -> Any:
    """Return `value` as plain JSON data (lists, dicts with str keys, numbers, strings)."""
    try:
        return json.loads(canonical_json(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable (no NaN, no numpy scalars): {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class ShardSample:
    """A rendered, annotated sample ready to be written to a shard.

    Attributes:
        key: sample name inside the shard, e.g. "00000042" (global index, zero-padded to 8);
            letters, digits, "_" and "-" only, because WebDataset splits member names at
            the first "." into key and extension.
        image: encoded image bytes (JPEG or PNG, 8- or 16-bit grey).
        image_format: one of `IMAGE_EXTENSIONS`.
        height, width: image size in pixels.
        label: class index of the sample: its position in the build's class list
            (dataset.json "classes"), so the same index names different classes in different
            styles (2 is "magnets" in legacy, "button_battery" in physical); map by name.
        label_name: the class name of `label`, so a sample explains itself. None only in
            samples read from builds made before it was written.
        labels: multi-hot vector over the classes (0 or 1 each), length = number of classes.
        objects: per object a JSON dict ("class" (a name), "bbox_xyxy" in pixels with origin
            top-left, "rbox", "mask_rle" (COCO compressed RLE of the object's whole mask),
            "area_px", "material", "pose", ...).
        spec: the sample spec as JSON data; re-renders the sample exactly.
        source_id: stable id of the source image.
        mask_png: instance-id map PNG, (H, W) uint8: 0 = background, k = objects[k - 1];
            where objects overlap, the pixel holds the highest k (the object listed last).
        meta: de-identified image metadata (view, sex, age_years, spacing_mm, ...).
    """

    key: str
    image: bytes
    image_format: str
    height: int
    width: int
    label: int
    labels: tuple[int, ...]
    objects: tuple[dict, ...]
    spec: dict
    source_id: str
    mask_png: bytes
    meta: dict
    label_name: str | None = None

    def __post_init__(self) -> None:
        if not _KEY_RE.fullmatch(self.key):
            raise ValueError(f"key must be letters, digits, '_' or '-' (no '.'), got {self.key!r}")
        if self.image_format not in IMAGE_EXTENSIONS:
            raise ValueError(f"image_format must be one of {IMAGE_EXTENSIONS}, got {self.image_format!r}")
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"height and width must be positive, got {self.height}x{self.width}")
        if self.label < 0:
            raise ValueError(f"label must be a class index >= 0, got {self.label}")
        if self.label_name is not None and not isinstance(self.label_name, str):
            raise ValueError(f"label_name must be a class name (str), got {self.label_name!r}")
        labels = tuple(int(v) for v in self.labels)
        if any(v not in (0, 1) for v in labels):
            raise ValueError(f"labels must be a multi-hot vector of 0 and 1, got {labels}")
        # frozen dataclass: normalise through object.__setattr__, once, at construction.
        object.__setattr__(self, "height", int(self.height))
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "label", int(self.label))
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "objects", tuple(_plain_json(list(self.objects), "objects")))
        object.__setattr__(self, "spec", _plain_json(self.spec, "spec"))
        object.__setattr__(self, "meta", _plain_json(self.meta, "meta"))

    def annotation(self) -> dict[str, Any]:
        """The JSON document stored beside the image (`{key}.json` in tar shards)."""
        return {
            "height": self.height,
            "image_format": self.image_format,
            "key": self.key,
            "label": self.label,
            **({"label_name": self.label_name} if self.label_name is not None else {}),
            "labels": list(self.labels),
            "meta": self.meta,
            "objects": list(self.objects),
            "source_id": self.source_id,
            "spec": self.spec,
            "width": self.width,
        }

    @classmethod
    def from_annotation(cls, annotation: dict[str, Any], *, image: bytes, mask_png: bytes) -> ShardSample:
        """Inverse of `annotation()`, given the image and mask bytes stored beside it."""
        missing = sorted(set(_ANNOTATION_FIELDS) - set(annotation) - set(_OPTIONAL_FIELDS))
        if missing:
            raise ValueError(f"annotation of {annotation.get('key')!r} lacks fields {missing}")
        fields = {name: annotation[name] for name in _ANNOTATION_FIELDS if name in annotation}
        return cls(**fields, image=image, mask_png=mask_png)
