"""One Kornia transform for a batch's images, instance masks and boxes (`AugmentationSequential`
with data keys input, mask and bbox_xyxy), on the batch's device (the GPU when training there).

Geometric: one affine per sample, shift and scale only, plus flips when asked (`--hflip`,
`--vflip`; see `trainer.augment` on laterality). No rotation: the box Kornia returns for a
rotated box is the box of its rotated corners, larger than the rotated object's own box (up to
~40 % wider for a disc at 45 deg), so boxes would no longer be tight; shift, scale and flips map
a tight box to a tight box, and the masks (nearest-neighbour resampled) agree with the boxes
within a pixel. Photometric (image only): brightness, contrast, gamma.

Kornia draws from torch's global RNG only: the loop calls this under `trainer.rng.forked_rng`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .crops import keep_visible
from .targets import pad_boxes


@dataclass(frozen=True, kw_only=True)
class JointAugmentConfig:
    shift_fraction: float = 0.06
    scale_range: tuple[float, float] = (0.85, 1.15)
    brightness: float = 0.1
    contrast: float = 0.15
    gamma: tuple[float, float] = (0.8, 1.25)
    hflip: bool = False
    vflip: bool = False
    p: float = 0.8


class JointAugment(nn.Module):
    """forward(image (B, 1, H, W) float [0, 1], inst (B, H, W) uint8, boxes [(N_b, 4)], labels
    [(N_b,)]) -> the same, transformed together. Boxes are clipped to the image and dropped (with
    their labels) when under 40 % of their area stays inside or a side is under 1 px."""

    def __init__(self, cfg: JointAugmentConfig = JointAugmentConfig()):
        super().__init__()
        import kornia.augmentation as K

        ops: list[nn.Module] = [K.RandomAffine(degrees=0.0, translate=(cfg.shift_fraction, cfg.shift_fraction),
                                               scale=cfg.scale_range, padding_mode="zeros", p=cfg.p)]
        if cfg.hflip:
            ops.append(K.RandomHorizontalFlip(p=0.5))
        if cfg.vflip:
            ops.append(K.RandomVerticalFlip(p=0.5))
        ops += [K.RandomBrightness(brightness=(1 - cfg.brightness, 1 + cfg.brightness), p=cfg.p),
                K.RandomContrast(contrast=(1 - cfg.contrast, 1 + cfg.contrast), p=cfg.p),
                K.RandomGamma(gamma=cfg.gamma, p=cfg.p)]
        self.seq = K.AugmentationSequential(*ops, data_keys=["input", "mask", "bbox_xyxy"])

    def forward(self, image: torch.Tensor, inst: torch.Tensor, boxes: list[torch.Tensor],
                labels: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, list, list]:
        if image.dim() != 4 or image.shape[1] != 1 or inst.shape != (image.shape[0], *image.shape[2:]):
            raise ValueError(f"expected image (B, 1, H, W) and inst (B, H, W), got {tuple(image.shape)}, "
                             f"{tuple(inst.shape)}")
        padded, valid = pad_boxes(boxes)
        # Boxes are pixel edges (x2 exclusive); Kornia moves points in pixel-centre coordinates
        # (pixel i at i), as it warps images: shift by half a pixel there and back.
        padded = padded.to(image.device) - 0.5
        out, mask, moved = self.seq(image, inst[:, None].float(), padded)
        moved = moved + 0.5
        h, w = image.shape[-2:]
        limit = torch.tensor([w, h, w, h], dtype=moved.dtype, device=moved.device)
        new_boxes, new_labels = [], []
        for i in range(image.shape[0]):
            before = moved[i][valid[i].to(moved.device)]
            after = torch.minimum(before.clamp(min=0), limit)
            b, lab = keep_visible(before, after, labels[i].to(image.device))
            new_boxes.append(b)
            new_labels.append(lab)
        return out.clamp(0.0, 1.0), mask[:, 0].round().to(torch.uint8), new_boxes, new_labels
