"""Stage 3, render: rasterise the kinds, composite them into the film (blur, scatter, noise,
calibrated attenuation), annotate and encode. Pure tensor code, the same on CPU and GPU."""
