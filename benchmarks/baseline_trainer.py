"""BASELINE: the prototype's trainer, reimplemented faithfully for comparison.

Not part of radiopaque. A standard `torch.utils.data.DataLoader` over the prototype's JPEG
folder (`labels.csv`: file,label), each item decoded with PIL in a loader worker and
transformed on the CPU with torchvision (resize to 224, ImageNet-style augmentation and
normalisation, 3 channels), an fp32 torchvision resnet18 and a plain loop: forward, loss,
backward, SGD step. The data-wait time (waiting for the next batch) is kept apart from
compute time, as the trainer's log does.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def prototype_transform(size: int = 224):
    from torchvision import transforms as T

    return T.Compose([
        T.Resize((size, size)),
        T.RandomHorizontalFlip(),
        T.RandomRotation(10),
        T.ColorJitter(brightness=0.1, contrast=0.1),
        T.ToTensor(),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


class JpegFolder(Dataset):
    """(image (3, 224, 224) float32 normalised, label int) per row of labels.csv."""

    def __init__(self, folder: Path, size: int = 224):
        self.folder = Path(folder)
        with open(self.folder / "labels.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.classes = sorted({r["label"] for r in rows})
        self.items = [(r["file"], self.classes.index(r["label"])) for r in rows]
        self.transform = prototype_transform(size)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        name, label = self.items[i]
        img = Image.open(self.folder / name).convert("RGB")
        return self.transform(img), label


def train(folder: Path, *, steps: int, batch_size: int = 32, loader_workers: int = 2, device: str = "cpu",
          seed: int = 0, image_size: int = 224) -> dict:
    """`steps` SGD steps over `folder`; returns images, seconds, data_s, compute_s."""
    import torchvision

    torch.manual_seed(seed)
    data = JpegFolder(folder, image_size)
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, num_workers=loader_workers, drop_last=True)
    model = torchvision.models.resnet18(weights=None, num_classes=len(data.classes)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    images = step = 0
    data_s = compute_s = 0.0
    start = last = time.perf_counter()
    while step < steps:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            t_data = time.perf_counter()
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()  # a CPU-GPU sync point: compute time is honest
            now = time.perf_counter()
            data_s += t_data - last
            compute_s += now - t_data
            images += x.shape[0]
            step += 1
            last = time.perf_counter()
            if step >= steps:
                break
    return {"images": images, "seconds": time.perf_counter() - start, "data_s": data_s, "compute_s": compute_s}
