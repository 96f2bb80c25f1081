"""Attenuation-domain compositing end to end: calibration, saturation, noise, devices."""

import pytest
import torch

from generator.render.attenuate import composite_attenuation
from generator.render.calibrate import intensity_scale
from tests.generator.render.phantoms import imaging_kw, phantom


def test_dense_metal_reaches_but_never_exceeds_the_brightest_anatomy(device):
    img = phantom(device=device)
    tau = torch.zeros_like(img)
    tau[0, :, 60:80, 10:30] = 50.0  # 10 mm of lead: saturating
    out = composite_attenuation(img, tau, **imaging_kw(2, device))
    assert float(out[0, 0, 65:75, 15:25].min()) == pytest.approx(float(img[0].max()), abs=1e-3)
    assert float(out.max()) <= float(img.max()) + 1e-6


def test_a_coin_over_bright_anatomy_stays_visible(device):
    img = phantom(device=device)
    img[:, :, 0:8, 44:52] = 0.8
    img[:, :, 0:2, 44:46] = 0.95  # a few very bright pixels: above the 99.5 % quantile (0.8)
    tau = torch.zeros_like(img)
    tau[0, :, 60:80, 42:54] = 1.394 * 1.75  # a copper-nickel coin over the spine band (0.8)
    out = composite_attenuation(img, tau, **imaging_kw(2, device))
    assert float(intensity_scale(img)[1][0]) == pytest.approx(0.8, abs=1 / 2046)  # histogram bin centre
    # headroom up to the film's brightest pixel (0.95): the coin takes most of it
    assert float(out[0, 0, 70, 48] - img[0, 0, 70, 48]) > 0.1


def test_plastic_stays_faint_and_metal_does_not(device):
    img = phantom(device=device)
    tau = torch.zeros_like(img)
    tau[0, :, 60:80, 10:30] = 0.0229 * 3.0  # 3 mm plastic
    tau[1, :, 60:80, 10:30] = 1.394 * 1.75  # a copper-nickel coin
    out = composite_attenuation(img, tau, **imaging_kw(2, device))
    gain_plastic = float(out[0, 0, 70, 20] - img[0, 0, 70, 20])
    gain_coin = float(out[1, 0, 70, 20] - img[1, 0, 70, 20])
    span = 0.9 - 0.2
    assert 0.0 < gain_plastic < 0.08 * span  # a few percent of the display span: faint
    assert gain_coin > 0.6 * span


def test_negatives_get_the_same_noise_as_positives_away_from_objects(device):
    img = phantom(device=device)
    tau = torch.zeros_like(img)
    tau[1, :, 60:70, 10:20] = 2.0
    kw = imaging_kw(2, device, noise_sigma=torch.full((2,), 0.01), noise_seed=torch.tensor([5, 5]))
    out = composite_attenuation(img, tau, **kw)
    assert torch.equal(out[0, :, :40], out[1, :, :40])  # same seed, same pipeline
    assert float((out[0] - img[0]).std()) == pytest.approx(0.01, rel=0.15)


def test_shape_errors_say_what_they_got():
    with pytest.raises(ValueError, match=r"got \(2, 64, 64\)"):
        composite_attenuation(torch.zeros(2, 64, 64), torch.zeros(2, 64, 64), **imaging_kw(2, torch.device("cpu")))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cpu_and_cuda_composite_agree():
    img = phantom()
    tau = torch.zeros_like(img)
    tau[:, :, 60:80, 10:30] = 1.3
    kw = dict(noise_sigma=torch.full((2,), 0.01), scatter_fraction=torch.full((2,), 0.1))
    a = composite_attenuation(img, tau, **imaging_kw(2, torch.device("cpu"), **kw))
    b = composite_attenuation(img.cuda(), tau.cuda(), **imaging_kw(2, torch.device("cuda"), **kw)).cpu()
    assert float((a - b).abs().max()) < 1e-4
