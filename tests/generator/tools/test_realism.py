"""The realism tool's detector: the white top-hat keeps small bright structures only."""

import numpy as np
import torch
import torch.nn.functional as F

from generator.tools.realism import white_tophat


def test_white_tophat_keeps_small_bright_structures_and_equals_the_max_pool_opening():
    rng = np.random.default_rng(0)
    px = (0.3 + 0.02 * rng.random((120, 100))).astype(np.float32)
    px[:, 40:70] += 0.4  # a wide band (the spine): wider than the square, removed
    px[20:24, 10:14] += 0.5  # a small stud: narrower than the square, kept
    px[0:3, 95:100] += 0.3  # at the image corner: pixels beyond the image are ignored, kept
    th = white_tophat(px, 10)  # an 11 x 11 square
    assert th.shape == px.shape and th.dtype == np.float32
    assert th[20:24, 10:14].min() > 0.45
    assert th[0:3, 95:100].min() > 0.25
    assert th[60:100, 45:65].max() < 0.05
    x = torch.from_numpy(px)[None, None]  # the opening as erosion then dilation by max-pooling
    opened = F.max_pool2d(-F.max_pool2d(-x, 11, 1, 5), 11, 1, 5)
    assert np.array_equal(th, (x - opened)[0, 0].numpy())  # min and max are exact: bit for bit
