"""Attenuation-domain compositing of foreign bodies into radiographs (pure tensor functions).

A foreign body's optical depth tau = mu * t is mapped into the displayed image through the
film's own calibration (generator.render.calibrate: p = a + k A, gain k and soft ceiling
per image), after detector blur and scatter (generator.render.optical_depth).

Pipeline (the same for positives and negatives; a negative's optical depth is zero):
  1. detector blur: Gaussian PSF (sigma in mm, converted with the image's spacing) on the
     object's deficit only; the radiograph already carries its own detector blur.
  2. scatter: D_det = PSF * ((1 - s) D + s G_wide * D) (G_wide: sigma in mm, at 1/4
     resolution), then tau_eff = -log(1 - D_det).
  3. p_new = p + H (1 - exp(-k tau_eff / H)), H = ceiling - p (soft ceiling, slope k at 0).
  3b. optional vendor-style processing of that increase: unsharp-mask / multi-scale
     enhancement with its undershoot, capped at H (generator.render.processing).
  4. quantum noise N(0, noise_sigma^2), a pure function of (noise_seed, pixel), identical on
     CPU and CUDA and independent of batch composition (generator.render.noise).
Steps 1-2 form an `OpticalDepth` (whole images) or a `WindowedOpticalDepth` (one box per
image); `attenuate` (steps 3-4) adds tau_eff where it is and the noise everywhere.
`composite_attenuation` is the same pipeline on a dense (B, 1, H, W) optical-depth map.
All images are (B, 1, H, W) float32, bone bright, values in [0, 1].
"""

from __future__ import annotations

import torch

from generator.render.blur import psf_taps
from generator.render.calibrate import attenuation_gain, display_levels
from generator.render.noise import add_noise
from generator.render.optical_depth import OpticalDepth, WindowedOpticalDepth, psf_windows
from generator.render.processing import enhance


def attenuate(images: torch.Tensor, optical_depth: OpticalDepth | WindowedOpticalDepth, *,
              levels: tuple[torch.Tensor, torch.Tensor, torch.Tensor], water_equiv_mm: torch.Tensor,
              noise_sigma: torch.Tensor, noise_seed: torch.Tensor,
              processing: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Steps 3-4: the (already spread) optical depth into the image, then noise, written into
    `images` (a batch the caller owns: a fresh image-size buffer costs more than the noise).

    images: (B, 1, H, W) float32; levels: `display_levels(images)`; water_equiv_mm,
    noise_sigma: (B,) float32; noise_seed: (B,) int64; processing: None, or (sigma_px
    (B, S, 2), gain (B, S)) from `processing.processing_of`, which passes each increase
    through `processing.enhance` (step 3b). The optical depth is added where its
    `regions()` say (whole images, or one box per image).
    Returns `images`, now in [0, 1].
    """
    dark, bright, ceiling = levels  # the ceiling is the peak: never below `bright`, a quantile
    k = attenuation_gain(dark, bright, water_equiv_mm).view(-1, 1, 1, 1)
    ceiling = ceiling.view(-1, 1, 1, 1)
    # Step 3 reads the film without noise: form every increase before the noise goes in.
    lost = [(i, rows, cols, _lost_headroom(images[i, :, rows, cols], tau, k[i], ceiling[i],
                                           None if processing is None else (processing[0][i], processing[1][i])))
            for i, rows, cols, tau in optical_depth.regions()]
    add_noise(images, noise_sigma, noise_seed, out=images)
    for i, rows, cols, minus_increase in lost:
        images[i, :, rows, cols] -= minus_increase
    return images.clamp_(0.0, 1.0)


def _lost_headroom(p: torch.Tensor, tau: torch.Tensor, k: torch.Tensor, ceiling: torch.Tensor,
                   processing: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Minus step 3's increase, H expm1(-k tau / H) with H = ceiling - p: exactly 0 where tau
    is 0. Written over `tau` (a region's own tensor): five passes where a fresh tensor for
    each step took eight. With processing (sigma_px, gain: one image's (S, 2), (S,), or a
    batch's), minus the enhanced increase, capped at the headroom (step 3b)."""
    headroom = (ceiling - p).clamp_min_(0.0)
    minus = tau.mul_(-k).div_(headroom.clamp_min(1e-6)).expm1_().mul_(headroom)
    if processing is None:
        return minus
    sigma_px, gain = processing
    y = minus.neg_()
    batched = y.ndim == 4
    e = enhance(y if batched else y[None], sigma_px if batched else sigma_px[None], gain if batched else gain[None])
    e = torch.minimum(e if batched else e[0], headroom)
    return e.neg_()


def composite_attenuation(
    images: torch.Tensor,
    optical_depth: torch.Tensor,
    *,
    water_equiv_mm: torch.Tensor,
    psf_sigma_px: torch.Tensor,
    scatter_fraction: torch.Tensor,
    scatter_sigma_px: torch.Tensor,
    noise_sigma: torch.Tensor,
    noise_seed: torch.Tensor,
) -> torch.Tensor:
    """Composite a dense optical-depth map into radiographs; see the module docstring.

    images, optical_depth: (B, 1, H, W) float32; water_equiv_mm, scatter_fraction,
    noise_sigma: (B,) float32; psf_sigma_px, scatter_sigma_px: (B, 2) row, col pixels;
    noise_seed: (B,) int64. Returns (B, 1, H, W) float32 in [0, 1].
    """
    if images.ndim != 4 or images.shape[1] != 1 or optical_depth.shape != images.shape:
        raise ValueError(f"expected images and optical_depth (B, 1, H, W), got {tuple(images.shape)} "
                         f"and {tuple(optical_depth.shape)}")
    h, w = images.shape[-2:]
    sharp, r = psf_windows(optical_depth, psf_taps(psf_sigma_px))  # the whole map as one window per image
    depth = OpticalDepth(sharp[..., r : r + h, r : r + w], scatter_fraction, scatter_sigma_px)
    return attenuate(images.clone(), depth, levels=display_levels(images), water_equiv_mm=water_equiv_mm,
                     noise_sigma=noise_sigma, noise_seed=noise_seed)
