"""Physical plausibility of what a film's metadata claims, checked at the edge.

Pixel spacing sizes every inserted object (mm -> pixels), so a typo must not reach the
renderer: 1e-6 mm would make a coin a billion pixels wide, 1e6 mm a sub-pixel speck with an
empty mask. Radiographs in practice: full-size CR/DR films 0.1-0.2 mm, downscaled copies
(NIH 1024 px: about 0.4 mm; CheXpert-small 320 px: about 1.3 mm). Allowed: MIN_SPACING_MM to
MAX_SPACING_MM per axis, from a DICOM header, a CSV row or `--default-spacing-mm`. A value
outside is a reject of that file or row with the reason (an option: a ConfigError); zero,
negative, non-finite or non-numeric CSV values are row rejects too (a blank cell means
"not given"). DICOM zero or non-finite values keep counting as absent (RG1 says 0.000).

Aspect: an output image keeps at least MIN_OUTPUT_SIDE_PX on its short side (the trainer's
smallest input), so a 32 x 16384 strip is a reject, not a 1-pixel-high sample.
"""

from __future__ import annotations

import math

MIN_SPACING_MM, MAX_SPACING_MM = 0.02, 5.0
MIN_OUTPUT_SIDE_PX = 32
SPACING_RANGE = f"{MIN_SPACING_MM}-{MAX_SPACING_MM} mm"


def spacing_problem(spacing_mm: tuple[float, float], what: str) -> str | None:
    """None when both (row, col) values lie in the allowed range, else a one-line reason naming `what`."""
    bad = [v for v in spacing_mm if not (math.isfinite(v) and MIN_SPACING_MM <= v <= MAX_SPACING_MM)]
    if not bad:
        return None
    shown = "\\".join(f"{v:g}" for v in spacing_mm)
    return f"implausible {what} {shown} mm (allowed: {SPACING_RANGE} per axis)"


def parse_spacing_cell(text: str | None) -> float | None:
    """A CSV spacing cell as a number: None for a blank cell; raises ValueError for anything
    that is not a finite positive number (text, NaN, inf, 0, negative)."""
    if text is None or not text.strip():
        return None
    value = float(text)  # ValueError for text
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{text.strip()!r} is not a positive finite number")
    return value


def aspect_problem(height: int, width: int, long_side: int) -> str | None:
    """None when an (height, width) film resized to `long_side` keeps MIN_OUTPUT_SIDE_PX on its
    short side, else a one-line reason."""
    short = min(height, width) * long_side / max(height, width)
    if round(short) >= MIN_OUTPUT_SIDE_PX:
        return None
    return (f"aspect ratio {max(height, width) / min(height, width):.1f}:1 ({height}x{width} px) leaves "
            f"{round(short)} px on the short side at --size {long_side} (at least {MIN_OUTPUT_SIDE_PX})")
