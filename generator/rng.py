"""Per-sample randomness: sample `i` of a build draws everything from `(seed, i)` alone.

That makes a sample reproducible from its index and makes the output independent of how
the build was split across workers, processes or machines.
"""

from bisect import bisect_right
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# Distinct streams for the same (seed, index): spec sampling and render-time noise must not
# share draws, so that adding a noise parameter never moves an object.
STREAM_SPEC = 0
STREAM_NOISE = 1
# Distractors and whole-film randomisation draw from their own streams (2 and 3 are the
# realism tool's), so switching them on or off moves no foreign body.
STREAM_DISTRACTORS = 4
STREAM_RANDOMISE = 5  # and 6: the laterality marker --randomise burns in
STREAM_MAGNIFICATION = 7  # the objects' depth in the patient: drawn apart, it moves no object


def sample_rng(seed: int, index: int, stream: int = STREAM_SPEC) -> np.random.Generator:
    """A numpy Generator for sample `index` of the build seeded `seed`."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index, stream])))


def cumulative(p: Sequence[float]) -> tuple[float, ...]:
    """The normalised cumulative distribution of weights p, for `pick` (computed as
    `Generator.choice` computes it)."""
    cdf = np.cumsum(np.asarray(p, dtype=np.float64))
    cdf /= cdf[-1]
    return tuple(float(c) for c in cdf)


def pick(rng: np.random.Generator, items: Sequence[T], cdf: Sequence[float] | None = None) -> T:
    """One of `items`, uniformly or with the distribution `cdf` (from `cumulative`).

    The same draws, and so the same item, as `rng.choice(items, p=p)`, without choice's
    per-call array checks (paid several times per sample).
    """
    if cdf is None:
        return items[int(rng.integers(0, len(items)))]
    return items[bisect_right(cdf, rng.random())]
