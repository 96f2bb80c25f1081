"""Which samples are held out for validation: whole groups (patients), never single films of one.

THE SPLIT RULE (point 1 of the rank rule in `trainer.stream`). Every sample of a build carries
`meta["group_id"]`, 16 hex characters: a pseudonymous hash of its patient, or of its file when
the patient is unknown; the manifest's `ShardPart.groups` counts each shard's samples per group.
With `--val-fraction F` and `--split-seed S`, a group is held out iff `unit(S, group_id) < F`,
`unit` a pure hash into [0, 1) (the first 8 bytes of sha256(f"{S}\\x00{group_id}"), big-endian,
over 2**64). It never changes with the epoch, the seed or the number of ranks, and a group is
wholly on one side. How many samples of the subset each shard holds comes from the manifest
alone, before anything is read (DDP needs equal steps per rank); which of a shard's samples
they are is found while reading it, from each sample's group.

Fallbacks, each logged as a warning:
- a build whose manifest records no groups (made before them): the old per-sample draw, sample
  `i` of shard `k` held out when `default_rng([S, k]).random(count)[i] < F`; its held-out samples
  may share films (and patients) with training;
- a sample whose meta has no group_id: its `source_id` (one film) is its group, so that split is
  by film, not by patient.

Folders and CSVs (`plain_groups`): the generator's grouping rules where they apply to a path
(`group_key`: NIH names PPPPPPPP_FFF.png by patient number, CheXpert `patientNNNNN` folders),
else the file. `in_split` keeps the films whose group falls in one split of a `generate --split`
partition (`generator.inputs.splits.split_of`), so real films of the test patients stay untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from generator.inputs.groups import group_key as generator_group_key
from generator.inputs.splits import split_of, unit  # the generator's rules, so both sides agree
from generator.output.manifest import MANIFEST

log = logging.getLogger(__name__)

SUBSETS = ("all", "train", "val")


def keeps(subset: str, group_id: str, val_fraction: float, split_seed: int) -> bool:
    """Whether `subset` ("all", "train" or "val") holds the samples of `group_id`."""
    if subset == "all":
        return True
    held_out = unit(split_seed, group_id) < val_fraction
    return held_out if subset == "val" else not held_out


def meta_group_id(meta) -> str | None:
    """A sample's group from its JSON meta; None when absent or not a non-empty string."""
    group = meta.get("group_id") if isinstance(meta, dict) else None
    return group if isinstance(group, str) and group else None


def part_groups(part) -> Mapping[str, int]:
    """A manifest part's samples per group ({} when it records none: an older build)."""
    return part.groups


def build_groups(manifest) -> dict[str, int]:
    """Samples per group over a whole build ({} when its manifest records no groups)."""
    total: dict[str, int] = {}
    for part in manifest.parts.values():
        for group, count in part_groups(part).items():
            total[group] = total.get(group, 0) + count
    return total


def shard_groups(manifest, shards: Sequence) -> list[Mapping[str, int] | None]:
    """Per shard (anything with `.path` and `.count`), its part's group histogram, or None when
    no part lists the file or its histogram does not add up to the shard's count."""
    by_path = {f.path: part for part in manifest.parts.values() for f in part.files}
    out: list[Mapping[str, int] | None] = []
    for shard in shards:
        part = by_path.get(shard.path)
        groups = part_groups(part) if part is not None else {}
        out.append(groups if groups and sum(groups.values()) == shard.count else None)
    return out


def subset_offsets(shards: Sequence, subset: str, val_fraction: float, split_seed: int) -> list[np.ndarray]:
    """The per-sample draw of builds without groups: per shard (`.index`, `.count`), the sorted
    offsets of `subset`."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    out = []
    for shard in shards:
        offsets = np.arange(shard.count)
        if subset != "all":
            u = np.random.default_rng([split_seed, shard.index]).random(shard.count)
            offsets = offsets[(u < val_fraction) if subset == "val" else (u >= val_fraction)]
        out.append(offsets)
    return out


class BuildSplit:
    """`subset` of a build's `shards` (ShardRefs, sorted by path) under the split rule.

    `counts[s]`: samples of the subset in shard s, from the manifest. `by_group`: whether they
    are found by group (`offsets` then needs the shard's sample groups) rather than by the
    per-sample draw of builds without groups, or all of them (`subset="all"`).
    """

    def __init__(self, shards: Sequence, manifest, *, subset: str, val_fraction: float, split_seed: int,
                 where: str):
        if subset not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
        self.subset, self.val_fraction, self.split_seed, self.where = subset, val_fraction, split_seed, where
        self._paths = [s.path for s in shards]
        histograms = shard_groups(manifest, shards)
        self.by_group = subset != "all" and all(h is not None for h in histograms)
        self._keeps: dict[str, bool] = {}
        self._warned_film = False
        if self.by_group:
            self._offsets: list[np.ndarray | None] = [None] * len(shards)
            self.counts = [sum(n for g, n in h.items() if self.keeps(g)) for h in histograms]
            return
        if subset == "val":  # once per run: the held-out side is the one whose figures mislead
            log.warning("%s: %s records no patient groups (an older build): --val-fraction holds out single "
                        "samples, which may share films and patients with training", where, MANIFEST)
        self._offsets = list(subset_offsets(shards, subset, val_fraction, split_seed))
        self.counts = [len(o) for o in self._offsets]

    def keeps(self, group_id: str) -> bool:
        if group_id not in self._keeps:
            self._keeps[group_id] = keeps(self.subset, group_id, self.val_fraction, self.split_seed)
        return self._keeps[group_id]

    def known_offsets(self, s: int) -> np.ndarray | None:
        """Shard s's subset offsets when they are known without reading it, else None."""
        return self._offsets[s]

    def offsets(self, s: int, groups: Sequence[str | None] = (), films: Sequence[str] = (),
                missing: int = 0) -> np.ndarray:
        """Sorted offsets in shard s of the subset's samples. By group, `groups` and `films` are
        each sample's meta group_id (None when absent) and source_id, in shard order, of the
        shard's readable samples; `missing` samples were unreadable (skipped by the reader), so
        up to that many fewer than the manifest's count are accepted."""
        known = self._offsets[s]
        if known is not None:
            return known
        if any(g is None for g in groups) and not self._warned_film:
            self._warned_film = True
            log.warning("%s/%s: samples without a group_id in their meta are split by film (source_id), "
                        "not by patient", self.where, self._paths[s])
        offsets = np.flatnonzero([self.keeps(g if g is not None else f) for g, f in zip(groups, films)])
        if not self.counts[s] - missing <= len(offsets) <= self.counts[s]:
            raise ValueError(f"{self.where}/{self._paths[s]}: {len(offsets)} samples of the {self.subset} subset "
                             f"by their group_id, {MANIFEST}'s groups say {self.counts[s]}")
        return offsets


def shared_group_count(train_manifest, val_manifest) -> int | None:
    """Groups (patients) the two builds share, or None when either records no groups."""
    train, val = build_groups(train_manifest), build_groups(val_manifest)
    if not train or not val:
        return None
    return len(train.keys() & val.keys())


# ------------------------------------------------------------------------ folders, CSVs, films


def group_key(rel: str) -> tuple[str, str]:
    """(rule, raw key) of a film from its path relative to the data's root, by the generator's
    grouping rules, e.g. ("nih", "nih:00000013")."""
    return generator_group_key(rel)


def plain_groups(names: Sequence[str]) -> list[str]:
    """The group key of each film, by its path relative to the data's root."""
    return [group_key(name)[1] for name in names]


def in_split(names: Sequence[str], split: str, fractions: Sequence[tuple[str, float]], split_seed: int) -> list[bool]:
    """Per film (path relative to its root), whether its group falls in `split` of the
    `generate --split` partition given by `fractions` and `split_seed`."""
    fractions = tuple((str(name), float(f)) for name, f in fractions)
    return [split_of(key, fractions, split_seed) == split for key in plain_groups(names)]
