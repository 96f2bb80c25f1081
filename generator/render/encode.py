"""Image encoding at the output edge: float32 [0, 1] -> JPEG / PNG / 16-bit PNG bytes.

PIL with fixed settings, so the same pixels always give the same bytes.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from generator.names import IMAGE_FORMATS


def quantise(pixels: np.ndarray, image_format: str) -> np.ndarray:
    """(H, W) float32 [0, 1] -> uint8, or uint16 for png16 (round to nearest)."""
    scale = 65535.0 if image_format == "png16" else 255.0
    q = np.rint(np.clip(pixels, 0.0, 1.0) * scale)
    return q.astype(np.uint16 if image_format == "png16" else np.uint8)


def quantise_batch(images: torch.Tensor, image_format: str) -> np.ndarray:
    """(B, 1, H, W) float32 [0, 1] on any device -> (B, H, W) uint8 (uint16 for png16) numpy.

    The same rounding as `quantise`, done on the render device so that only 1 (or 2) bytes
    per pixel cross to the host. On the CPU one image at a time through one scratch image:
    a batch's float temporaries outgrow the cache and cost twice as much.
    """
    scale = 65535.0 if image_format == "png16" else 255.0
    dtype = torch.int32 if image_format == "png16" else torch.uint8  # uint16 is not a torch dtype
    if images.device.type != "cpu":
        q = torch.round(images[:, 0].clamp(0.0, 1.0) * scale).to(dtype).cpu()
    else:
        b, _, h, w = images.shape
        q = torch.empty(b, h, w, dtype=dtype)
        scratch = torch.empty(h, w)
        for i in range(b):
            torch.clamp(images[i, 0], 0.0, 1.0, out=scratch)
            q[i].copy_(scratch.mul_(scale).round_())
    return q.numpy().astype(np.uint16) if image_format == "png16" else q.numpy()


def encode_image(pixels: np.ndarray, image_format: str, jpeg_quality: int = 95) -> bytes:
    """Encode a (H, W) image: float32 in [0, 1], or already quantised (uint8, uint16 for
    png16). image_format: one of IMAGE_FORMATS."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    q = pixels if pixels.dtype in (np.uint8, np.uint16) else quantise(pixels, image_format)
    buf = io.BytesIO()
    if image_format == "jpg":
        Image.fromarray(q, mode="L").save(buf, format="JPEG", quality=jpeg_quality)
    elif image_format == "png":
        Image.fromarray(q, mode="L").save(buf, format="PNG", compress_level=3)
    else:
        Image.fromarray(q.astype(np.uint16), mode="I;16").save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def encode_instance_map(instance_ids: np.ndarray) -> bytes:
    """(H, W) uint8 instance-id map (0 background, k = object k) -> PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(instance_ids.astype(np.uint8), mode="L").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def file_extension(image_format: str) -> str:
    """Tar member / file extension for an image format (png16 is stored as .png)."""
    return "jpg" if image_format == "jpg" else "png"
