"""Assigning patient groups to splits (train / val / test), so builds never share a patient.

`split_of(key, fractions, seed)` is a pure function of the raw group key, the fractions and
the split seed: a film lands in the same split whatever the build's seed, count or input
order, and every film of a patient lands with it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence

from generator.errors import ConfigError
from generator.inputs.groups import rule_of

Fractions = tuple[tuple[str, float], ...]

DEFAULT_FRACTIONS: Fractions = (("train", 0.8), ("val", 0.1), ("test", 0.1))
_NAME = re.compile(r"[a-z_][a-z0-9_]*", re.ASCII)
_SUM_TOLERANCE = 1e-6
_FORM = "NAME=FRACTION,... (e.g. train=0.8,val=0.1,test=0.1)"


def format_fractions(fractions: Fractions) -> str:
    return ",".join(f"{name}={fraction:g}" for name, fraction in fractions)


def parse_fractions(text: str) -> Fractions:
    """"train=0.8,val=0.1,test=0.1" -> (("train", 0.8), ("val", 0.1), ("test", 0.1)).

    Raises ConfigError("--split-fractions", ...) naming what is allowed."""
    pairs = []
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            fraction = float(value)
        except ValueError:
            fraction = None
        if not sep or fraction is None:
            raise ConfigError("--split-fractions", text, _FORM)
        pairs.append((name.strip(), fraction))
    return check_fractions(tuple(pairs), text)


def check_fractions(fractions: Sequence[tuple[str, float]], got: object = None) -> Fractions:
    """`fractions` as a tuple of (name, float), or ConfigError: names must be unique
    lower-case identifiers, fractions > 0 summing to 1 (within 1e-6)."""
    got = fractions if got is None else got
    names = [name for name, _ in fractions]
    bad = [n for n in names if not (isinstance(n, str) and _NAME.fullmatch(n))]
    if not fractions or bad:
        raise ConfigError("--split-fractions", got, f"{_FORM}; names are lower-case identifiers (got {bad})")
    if len(set(names)) != len(names):
        raise ConfigError("--split-fractions", got, f"{_FORM}; each name once")
    try:
        values = [float(f) for _, f in fractions]
    except (TypeError, ValueError):
        values = [math.nan]
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ConfigError("--split-fractions", got, f"{_FORM}; fractions > 0")
    if abs(sum(values) - 1.0) > _SUM_TOLERANCE:
        raise ConfigError("--split-fractions", got, f"{_FORM}; fractions summing to 1 (these sum to {sum(values):g})")
    return tuple(zip(names, values))


def unit(seed: int, key: str) -> float:
    """A key's draw in [0, 1): the first 8 bytes of sha256(f"{seed}\\x00{key}") read as a
    big-endian integer / 2**64. A pure function of its arguments; the generator's patient
    split and the trainer's held-out groups both draw from it."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(key: str, fractions: Fractions, seed: int) -> str:
    """The split of group `key`: the first split whose cumulative fraction exceeds
    `unit(seed, key)` (the last split takes the rest, whatever rounding left)."""
    u = unit(seed, key)
    cumulative = 0.0
    for name, fraction in fractions[:-1]:
        cumulative += fraction
        if u < cumulative:
            return name
    return fractions[-1][0]


def split_summary(name: str, fractions: Fractions, seed: int, input_groups: Sequence[str],
                  split_groups: Sequence[str]) -> dict:
    """dataset.json's "split": counts only, never a key. `input_groups` holds the group key
    of every listed source, `split_groups` that of every source in split `name`."""
    return {
        "name": name,
        "fractions": dict(fractions),
        "seed": seed,
        "rules": dict(sorted(Counter(rule_of(k) for k in input_groups).items())),
        "sources": len(split_groups),
        "groups": len(set(split_groups)),
        "input_sources": len(input_groups),
        "input_groups": len(set(input_groups)),
    }
