"""Small generated films and imaging parameters shared by the compositing tests."""

import torch


def phantom(b=2, h=96, w=96, device=torch.device("cpu")):
    """Dark lungs (0.2) beside a bright spine band (0.8), a few brighter bone pixels (0.9)."""
    img = torch.full((b, 1, h, w), 0.2, device=device)
    img[:, :, :, 40:56] = 0.8
    img[:, :, 0:8, 44:52] = 0.9
    return img


def imaging_kw(b, device, **over):
    """`composite_attenuation`'s keyword arguments: no scatter, no noise unless overridden."""
    kw = dict(water_equiv_mm=torch.full((b,), 60.0), psf_sigma_px=torch.full((b, 2), 0.5),
              scatter_fraction=torch.zeros(b), scatter_sigma_px=torch.full((b, 2), 10.0),
              noise_sigma=torch.zeros(b), noise_seed=torch.arange(b, dtype=torch.int64))
    kw.update(over)
    return {k: v.to(device) for k, v in kw.items()}
