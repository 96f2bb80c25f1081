"""Quantisation and encoding at the output edge."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from generator.render.encode import encode_image, quantise, quantise_batch


def _awkward_batch(device: torch.device) -> torch.Tensor:
    """(3, 1, 5, 7): out-of-range values, exact half steps of both scales, and noise."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 5, 7, generator=g) * 1.4 - 0.2
    x[0, 0, 0, :4] = torch.tensor([0.5 / 255, 1.5 / 255, 2.5 / 255, 254.5 / 255])  # ties round to even
    x[1, 0, 0, :3] = torch.tensor([-1.0, 2.0, 1.0])
    x[2, 0, 0, :2] = torch.tensor([0.5 / 65535, 1.5 / 65535])
    return x.to(device)


@pytest.mark.parametrize("image_format", ["jpg", "png16"])
def test_batch_quantisation_equals_the_per_image_rounding(device, image_format):
    images = _awkward_batch(device)
    q = quantise_batch(images, image_format)
    expected = np.stack([quantise(im[0].cpu().numpy(), image_format) for im in images])
    assert q.dtype == expected.dtype == (np.uint16 if image_format == "png16" else np.uint8)
    np.testing.assert_array_equal(q, expected)
    assert q[1, 0, :3].tolist() == ([0, 65535, 65535] if image_format == "png16" else [0, 255, 255])


def test_quantise_rounds_half_to_even_and_clips():
    x = np.array([[0.5 / 255, 1.5 / 255, 254.5 / 255, -0.3, 1.7]], dtype=np.float32)
    assert quantise(x, "jpg").tolist() == [[0, 2, 254, 0, 255]]


def test_quantisation_leaves_its_input_alone():
    images = _awkward_batch(torch.device("cpu"))
    before = images.clone()
    quantise_batch(images, "jpg")
    assert torch.equal(images, before)


def test_encoded_png_decodes_to_the_quantised_pixels():
    pixels = quantise_batch(_awkward_batch(torch.device("cpu")), "png")[2]
    decoded = np.asarray(Image.open(io.BytesIO(encode_image(pixels, "png"))))
    np.testing.assert_array_equal(decoded, pixels)
