"""The two decode algorithms of the trainer, compared on the CPU: PIL in loader workers
(`decode_image`) and batched torchvision decode (`BatchDecoder`: nvJPEG on CUDA)."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.stream import BatchDecoder, decode_image


def _jpeg(seed: int, shape=(90, 70)) -> bytes:
    rng = np.random.default_rng(seed)
    img = (rng.random(shape) * 60 + np.linspace(40, 200, shape[1])[None, :]).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _png16(seed: int) -> bytes:
    img = np.random.default_rng(seed).integers(0, 65535, (40, 50)).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("size", [64, 90])
def test_batch_decoder_on_cpu_matches_the_pil_path(size):
    blobs = [_jpeg(0), _jpeg(1, (80, 80)), _png16(2)]
    batch = BatchDecoder(torch.device("cpu"), size)([torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs])
    assert batch.shape == (3, 1, size, size) and batch.dtype == torch.float32
    pil = torch.stack([decode_image(b, size) for b in blobs])
    # Both run libjpeg-turbo with its default (islow) IDCT and the same resize.
    torch.testing.assert_close(batch, pil, atol=0, rtol=0)
    assert batch[2].std() > 0.15  # the 16-bit PNG kept its range (read as 8-bit it would be flat white)
