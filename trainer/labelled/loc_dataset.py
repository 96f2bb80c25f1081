"""A labelled set (COCO, object-CXR, YOLO) as the localisation loaders' samples, for evaluation.

`LabelledLocDataset(labelled, classes=..., image_size=S)` is a map-style Dataset whose items
are the dicts a build's localisation stream yields (`trainer.localise.samples`), so one
evaluation loop scores builds and real labelled films alike:

    image         (1, S, S) float32 in [0, 1]   the film decoded and resized like a build's
                                                (`trainer.stream.decode_image`: squashed square)
    inst          (S, S) uint8                  instance ids: object k is k + 1, a later object
                                                drawn over an earlier one (as a build's map);
                                                from the masks, or the filled boxes where the
                                                set has none (see `has_masks`)
    boxes         (N, 4) float32 xyxy           scaled to S pixels
    labels        (N,) int64                    0-based index in the model's foreground classes
    inst_classes  (N,) int64                    the same, per instance id
    scale         (2,) float32                  (sx, sy) model pixels per stored pixel
    key           str                           the image's name in its labelled file

Classes: a labelled class name maps to the model's foreground class (`classes` less "none")
of the same name, or of the name `class_map` gives it (object-CXR's single "foreign_object"
needs one, e.g. {"foreign_object": "coin"}, when only class-agnostic scores are read: FROC,
any-object AUROC). A name that maps to no model class is a ValueError naming it, before any
image is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from trainer.labelled.errors import LabelError
from trainer.labelled.record import LabelledSet

NONE_CLASS = "none"


class LabelledLocDataset(Dataset):
    """See the module docstring."""

    def __init__(self, labelled: LabelledSet, *, classes: Sequence[str], image_size: int,
                 class_map: Mapping[str, str] | None = None):
        fg = [c for c in classes if c != NONE_CLASS]
        class_map = dict(class_map or {})
        lut = []
        for name in labelled.class_names:
            target = class_map.get(name, name)
            if target not in fg:
                raise ValueError(f"labelled class {name!r} ({labelled.format}) maps to {target!r}, not one of the "
                                 f"model's classes {fg}; pass a class map such as {{{name!r}: {fg[0]!r}}}")
            lut.append(fg.index(target))
        self.labelled, self.image_size = labelled, int(image_size)
        self._lut = torch.tensor(lut, dtype=torch.int64)
        self.has_masks = all(im.masks_rle is not None for im in labelled.images if im.boxes.shape[0])

    def __len__(self) -> int:
        return len(self.labelled.images)

    def __getitem__(self, i: int) -> dict:
        from trainer.stream import decode_image

        im = self.labelled.images[i]
        s = self.image_size
        try:
            with open(im.path, "rb") as f:
                image = decode_image(f.read(), s)  # (1, S, S)
        except (OSError, SyntaxError, ValueError) as exc:
            raise LabelError(im.path, None, f"not a readable image ({type(exc).__name__}: {exc})") from None
        sx, sy = s / im.width, s / im.height
        labels = self._lut[im.labels - 1] if im.labels.numel() else torch.zeros(0, dtype=torch.int64)
        if im.boxes.shape[0] > 255:
            raise LabelError(im.path, None, f"{im.boxes.shape[0]} objects: an instance map holds at most 255")
        ids = torch.zeros(im.height, im.width, dtype=torch.uint8)
        masks = im.masks
        for k in range(im.boxes.shape[0]):
            if masks is not None:
                ids[masks[k].bool()] = k + 1
            else:
                x0, y0, x1, y1 = im.boxes[k].tolist()
                ids[int(y0):max(int(y1 + 0.5), int(y0) + 1), int(x0):max(int(x1 + 0.5), int(x0) + 1)] = k + 1
        inst = F.interpolate(ids[None, None].float(), size=(s, s), mode="nearest")[0, 0].to(torch.uint8)
        boxes = im.boxes * torch.tensor([sx, sy, sx, sy], dtype=torch.float32)
        return {"image": image, "inst": inst, "boxes": boxes, "labels": labels, "inst_classes": labels.clone(),
                "scale": torch.tensor([sx, sy], dtype=torch.float32), "key": im.name}
