"""BASELINE: a detector trainer in the shape of the project's sources, for comparison.

Not part of radiopaque. The sources trained a torchvision Faster R-CNN on chest-film boxes
with a per-image `Dataset`: each item opens one image file with PIL (RGB), turns it into a
tensor and reads its boxes from an annotation table; a `DataLoader` with a list collate feeds
a torchvision `fasterrcnn` with its defaults (FrozenBatchNorm, anchors 32-512 px, 2000 / 512
proposals and box samples, ImageNet normalisation over 3 channels) and SGD. Here the backbone
is the same ResNet-18 FPN as ours and the model's internal resize is held at the images' own
size, so both sides train the same network at the same resolution and the figure compares
the pipelines, not the architectures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset


class BoxFolder(Dataset):
    """(image (3, H, W) float32 in [0, 1], {"boxes", "labels"}) per entry of annotations.json:
    [{"file", "boxes": [[x1, y1, x2, y2], ...], "labels": [1-based ints]}]."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.items = json.loads((self.folder / "annotations.json").read_text())

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        from torchvision.transforms.functional import to_tensor

        item = self.items[i]
        img = Image.open(self.folder / item["file"]).convert("RGB")
        target = {"boxes": torch.tensor(item["boxes"], dtype=torch.float32).reshape(-1, 4),
                  "labels": torch.tensor(item["labels"], dtype=torch.int64)}
        return to_tensor(img), target


def _collate(batch):
    return tuple(zip(*batch))


def train(folder: Path, *, steps: int, num_classes: int, batch_size: int = 4, loader_workers: int = 2,
          image_size: int = 256, seed: int = 0) -> dict:
    """`steps` SGD steps over `folder`; returns images, seconds, data_s, compute_s."""
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    torch.manual_seed(seed)
    loader = DataLoader(BoxFolder(folder), batch_size=batch_size, shuffle=True, num_workers=loader_workers,
                        collate_fn=_collate, drop_last=True)
    backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5)
    model = FasterRCNN(backbone, num_classes, min_size=image_size, max_size=image_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9, weight_decay=1e-4)
    model.train()
    images = step = 0
    data_s = compute_s = 0.0
    start = last = time.perf_counter()
    while step < steps:
        for x, y in loader:
            t_data = time.perf_counter()
            loss = sum(model(list(x), list(y)).values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
            now = time.perf_counter()
            data_s += t_data - last
            compute_s += now - t_data
            images += len(x)
            step += 1
            last = time.perf_counter()
            if step >= steps:
                break
    return {"images": images, "seconds": time.perf_counter() - start, "data_s": data_s, "compute_s": compute_s}


def export_folder(build_dir: Path, out: Path) -> int:
    """Write a build's samples as PNG files plus annotations.json (the baseline's input); returns
    the number of foreground classes."""
    import io

    from generator.output.formats import FORMATS
    from generator.output.manifest import read_manifest
    from generator.output.storage import Store

    store = Store(str(build_dir), create=False)
    manifest = read_manifest(store)
    fg = [c for c in manifest.classes if c != "none"]
    fmt, shards = manifest.shards_to_read(None)
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for shard in shards:
        for s in FORMATS[fmt].decode(store.read_bytes(shard.path)):
            name = f"{s.key}.png"
            Image.open(io.BytesIO(s.image)).save(out / name)
            objects = [o for o in s.objects if o.get("bbox_xyxy")]
            items.append({"file": name, "boxes": [o["bbox_xyxy"] for o in objects],
                          "labels": [fg.index(o["class"]) + 1 for o in objects]})
    (out / "annotations.json").write_text(json.dumps(items))
    return len(fg)
