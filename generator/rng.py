"""Per-sample randomness: sample `i` of a build draws everything from `(seed, i)` alone.

That makes a sample reproducible from its index and makes the output independent of how
the build was split across workers, processes or machines.
"""

import numpy as np

# Distinct streams for the same (seed, index): spec sampling and render-time noise must not
# share draws, so that adding a noise parameter never moves an object.
STREAM_SPEC = 0
STREAM_NOISE = 1


def sample_rng(seed: int, index: int, stream: int = STREAM_SPEC) -> np.random.Generator:
    """A numpy Generator for sample `index` of the build seeded `seed`."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index, stream])))
