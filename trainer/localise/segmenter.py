"""A U-Net with a ResNet encoder (segmentation_models_pytorch), its loss and its read-outs.

Library: segmentation_models_pytorch (smp) rather than MONAI. smp's ResNet encoders are
torchvision's ResNet (the same module names: conv1, bn1, layer1-4), so the encoder of a U-Net
takes a `radiopaque train` resnet18/34/50 classifier's weights unchanged (`--init`); smp builds a
1-channel stem itself (`in_channels=1`), downloads nothing with `encoder_weights=None`, and
ships Dice and focal losses for multi-label masks. MONAI's `BasicUNet`/`UNet` have no ResNet
encoder of torchvision's layout, and its `FlexibleUNet` names encoder weights differently.

Models (`--model` for `--task segment`): `unet_resnet{18,34,50}`. Output: (B, K, H, W) logits,
one channel per foreground class, sigmoid per class (objects of different classes may touch);
H and W must be multiples of 32. Loss: Dice (per class, over the batch, only classes present
in the batch count) plus focal (gamma 2, every pixel): Dice does not drown a 20-pixel object
in a million background pixels, focal keeps the empty images and the background honest.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .names import SEGMENT_MODELS

PEAK_RADIUS_PX = 4  # local maxima closer than this are one mark
MIN_PEAK_SCORE = 0.01
MAX_PEAKS = 100


def build_unet(name: str, num_fg: int) -> nn.Module:
    """A randomly initialised U-Net for (B, 1, H, W) input -> (B, num_fg, H, W) logits."""
    if name not in SEGMENT_MODELS:
        raise ValueError(f"segmenter must be one of {', '.join(SEGMENT_MODELS)}, got {name!r}")
    import segmentation_models_pytorch as smp

    return smp.Unet(encoder_name=name.split("_", 1)[1], encoder_weights=None, in_channels=1, classes=num_fg)


class DiceFocalLoss(nn.Module):
    """loss(logits (B, K, H, W), masks (B, K, H, W) {0, 1}) -> scalar: Dice + focal."""

    def __init__(self, focal_weight: float = 1.0):
        super().__init__()
        from segmentation_models_pytorch.losses import DiceLoss, FocalLoss

        self.dice = DiceLoss(mode="multilabel", from_logits=True)
        self.focal = FocalLoss(mode="multilabel", gamma=2.0)
        self.focal_weight = focal_weight

    def forward(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        return self.dice(logits, masks) + self.focal_weight * self.focal(logits, masks)


def pad32(images: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) on the bottom and right to multiples of 32; return it and (H, W)."""
    h, w = images.shape[-2:]
    ph, pw = (-h) % 32, (-w) % 32
    return (F.pad(images, (0, pw, 0, ph)) if ph or pw else images), (h, w)


@torch.no_grad()
def segment(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W) float32 probabilities for images (B, 1, H, W) of any size (fully convolutional)."""
    model.eval()
    padded, (h, w) = pad32(images)
    return torch.sigmoid(model(padded).float())[..., :h, :w]


def peaks(probs: torch.Tensor, radius: int = PEAK_RADIUS_PX, min_score: float = MIN_PEAK_SCORE,
          max_peaks: int = MAX_PEAKS) -> list[dict]:
    """Marks from probability maps (B, K, H, W): local maxima of the any-class map (max over K)
    within `radius` px, >= min_score, the highest `max_peaks` per image. Per image: "points"
    (P, 3) float32 (score, x, y) in pixels (pixel centres), "labels" (P,) int64 (the class of the
    maximum), on the CPU, by descending score.

    A plateau is one mark: a confident model's sigmoid rounds to exactly 1.0 over a whole object
    in float32, and every pixel of it is a local maximum (without this, one object took all
    `max_peaks` marks of its image and the others none). Touching maxima are one plateau (two
    maxima within `radius` of each other are equal), marked at its first pixel in raster order;
    equal maxima within `radius` that do not touch are one mark too, the first kept."""
    top, cls = probs.max(dim=1)  # (B, H, W)
    pooled = F.max_pool2d(top[:, None], 2 * radius + 1, stride=1, padding=radius)[:, 0]
    is_peak = (top == pooled) & (top >= min_score)
    out = []
    for b in range(probs.shape[0]):
        ys, xs = torch.nonzero(is_peak[b], as_tuple=True)  # raster order
        order = torch.argsort(top[b, ys, xs], descending=True, stable=True)
        ys, xs = ys[order], xs[order]
        first = _plateau_roots(ys, xs, *top.shape[-2:])
        ys, xs = _suppress_near(ys[first], xs[first], radius, max_peaks)
        scores = top[b, ys, xs]
        points = torch.stack([scores, xs.float() + 0.5, ys.float() + 0.5], dim=1) if len(ys) else torch.zeros(0, 3)
        out.append({"points": points.float().cpu(), "labels": cls[b, ys, xs].cpu()})
    return out


_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _plateau_roots(ys: torch.Tensor, xs: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Indices of the first pixel (in the given order) of each 8-connected group of the
    pixels (ys, xs): min-label propagation over the pixels' own neighbour lists with pointer
    jumping, so it costs O(pixels) per round, not O(image)."""
    n = len(ys)
    if n < 2:
        return torch.arange(n, device=ys.device)
    grid = torch.full((h + 2, w + 2), n, dtype=torch.long, device=ys.device)  # n: no pixel there
    grid[ys + 1, xs + 1] = torch.arange(n, device=ys.device)
    nb = torch.stack([grid[ys + 1 + dy, xs + 1 + dx] for dy, dx in _NEIGHBOURS])  # (8, n)
    label = torch.arange(n, device=ys.device)
    sentinel = torch.tensor([n], device=ys.device)
    while True:
        new = torch.minimum(label, torch.cat([label, sentinel])[nb].min(0).values)
        new = new[new]  # pointer jumping: take my label's label
        if torch.equal(new, label):
            return torch.nonzero(label == torch.arange(n, device=ys.device))[:, 0]
        label = new


def _suppress_near(ys: torch.Tensor, xs: torch.Tensor, radius: int, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy: keep candidates in the given order, dropping each one within `radius` px
    (Chebyshev) of one kept before it; at most `limit`. One vectorised pass per kept mark."""
    keep = []
    alive = torch.ones(len(ys), dtype=torch.bool, device=ys.device)
    while len(keep) < limit:
        left = torch.nonzero(alive)
        if not len(left):
            break
        i = int(left[0])
        keep.append(i)
        alive &= ((ys - ys[i]).abs() > radius) | ((xs - xs[i]).abs() > radius)
    idx = torch.tensor(keep, dtype=torch.long, device=ys.device)
    return ys[idx], xs[idx]
