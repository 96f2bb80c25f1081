"""Can a small CNN tell real metal from synthetic metal? (`radiopaque realism`'s AUROC.)

Input: crops of real metal (label 0) and of synthetic metal (label 1), each with a group id
(the NIH patient number; parsed in memory, never written out). The crops are scored by
patient-grouped k-fold: every crop is scored by a model trained on the other folds, whose
patients it never shares; the AUROC is computed on the pooled out-of-fold scores (0.5 =
indistinguishable, 1 = every synthetic crop scored above every real one, below 0.5 = worse
than chance). Repeated for several seeds (fold assignment and training both follow the
seed); the report gives the mean, the per-seed values and a patient-bootstrap 95 % interval
of the seed-averaged scores.

Per-crop normalisation (`normalise_crops`): each crop minus the median of its own background
ring, divided by the ring's robust spread (1.4826 MAD, at least one 8-bit grey level), then
asinh (monotone, keeps the order of contrasts while taming saturated metal). That removes
the film's brightness, window and local noise amplitude. Training augments with the eight
flips and quarter turns, so orientation is no cue. What the CNN may still use: contrast
relative to the background's variation, edge sharpness and profile, the object's size and
shape within the crop, its internal texture and the background's texture (both sides went
through the same imaging pipeline once, so noise and quantisation match). Shape differs by
construction (synthetic foreign bodies are not ECG leads), so an AUROC near 1 may be shape
alone; the report adds a shape-matched variant restricted to wire-like classes.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generator.inputs.groups import group_key
from generator.tools.realism_config import DiscriminatorConfig as DiscriminatorConfig  # re-exported

RING_FRACTION = (0.375, 0.5)  # background ring of a crop: this fraction of its side from the centre
MIN_SPREAD = 1.0 / 255.0  # one 8-bit grey level: noise-free synthetic backgrounds have none


def patient_id(file_name: str) -> str:
    """The NIH patient number of `PPPPPPPP_FFF.png`; any other name is its own group (a
    film whose patient is unknown is kept apart from every other film)."""
    rule, key = group_key(file_name)
    return key.partition(":")[2] if rule == "nih" else key


def crop(px: np.ndarray, row: float, col: float, spacing_mm: tuple[float, float], crop_mm: float,
         crop_px: int) -> np.ndarray:
    """A square of crop_mm x crop_mm centred on (row, col), resampled (bilinear, edge pixels
    repeated beyond the image) to (crop_px, crop_px) float32; px: (H, W) float32."""
    h, w = px.shape
    offsets_mm = (torch.arange(crop_px, dtype=torch.float64) - (crop_px - 1) / 2) * (crop_mm / crop_px)
    ys = (row + offsets_mm / spacing_mm[0]) / (h - 1) * 2 - 1
    xs = (col + offsets_mm / spacing_mm[1]) / (w - 1) * 2 - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).float()[None]  # (1, P, P, 2) x, y
    x = torch.from_numpy(np.ascontiguousarray(px, dtype=np.float32))[None, None]
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)[0, 0].numpy()


def radius_map(p: int) -> np.ndarray:
    """(P, P) distance of each pixel centre from a P x P crop's centre, as a fraction of P."""
    yy, xx = np.mgrid[:p, :p] - (p - 1) / 2
    return np.hypot(yy, xx) / p


def background(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each crop's background ring (RING_FRACTION): its median (N,) and robust spread (N,),
    1.4826 MAD, at least MIN_SPREAD. crops: (N, P, P)."""
    d = radius_map(crops.shape[1])
    ring = crops[:, (d >= RING_FRACTION[0]) & (d <= RING_FRACTION[1])]  # (N, R)
    med = np.median(ring, axis=1)
    return med, np.maximum(1.4826 * np.median(np.abs(ring - med[:, None]), axis=1), MIN_SPREAD)


def normalise_crops(crops: np.ndarray) -> np.ndarray:
    """(N, P, P) float32 intensities -> (N, P, P) float32, each standardised by its own
    background ring (see the module docstring)."""
    med, spread = background(crops)
    return np.arcsinh((crops - med[:, None, None]) / spread[:, None, None]).astype(np.float32)


def make_model(width: int) -> nn.Module:
    """A small CNN: (B, 1, P, P) -> (B,) logits (P divisible by 4)."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, w, P/2, P/2)
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 2w, P/4, P/4)
        nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 1), nn.Flatten(0),
    )


def grouped_folds(groups: list[str], folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold (0..folds-1) of each item: the sorted distinct groups in a random order dealt
    round-robin, so a group lies in exactly one fold. Returns (N,) int64."""
    distinct = sorted(set(groups))
    order = rng.permutation(len(distinct))
    fold_of = {distinct[g]: rank % folds for rank, g in enumerate(order)}
    return np.array([fold_of[g] for g in groups], dtype=np.int64)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUROC (ties count half): P(score of a 1 > score of a 0); nan without
    both labels."""
    labels = np.asarray(labels).astype(bool)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = np.asarray(scores)[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)  # average 1-based ranks of ties
    return float((ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


_DIHEDRAL = [(k, f) for k in range(4) for f in (False, True)]


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each crop of (B, 1, P, P) by one of the eight flips and quarter turns."""
    which = torch.randint(0, len(_DIHEDRAL), (x.shape[0],), generator=gen)
    out = torch.empty_like(x)
    for i, (k, flip) in enumerate(_DIHEDRAL):
        sel = which == i
        if sel.any():
            y = torch.rot90(x[sel], k, (2, 3))
            out[sel] = torch.flip(y, (3,)) if flip else y
    return out


def train_one(x: torch.Tensor, y: torch.Tensor, config: DiscriminatorConfig, seed: int) -> nn.Module:
    """Fit a fresh model on (N, 1, P, P) crops with labels (N,) float32 {0, 1}; classes are
    weighted by their counts. All randomness follows `seed`."""
    with torch.random.fork_rng(devices=[]):  # nn init draws from the global RNG only
        torch.manual_seed(seed)
        model = make_model(config.width)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    n_pos = float(y.sum())
    pos_weight = torch.tensor((len(y) - n_pos) / max(n_pos, 1.0))
    model.train()
    for _ in range(config.epochs):
        perm = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), config.batch_size):
            idx = perm[start:start + config.batch_size]
            loss = F.binary_cross_entropy_with_logits(model(_augment(x[idx], gen)), y[idx], pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def _oof_scores(x: torch.Tensor, y: torch.Tensor, fold: np.ndarray, config: DiscriminatorConfig,
                seed: int) -> np.ndarray:
    scores = np.full(len(y), np.nan)
    for f in range(config.folds):
        test = fold == f
        if not test.any() or test.all():
            continue
        train = torch.from_numpy(~test)
        model = train_one(x[train], y[train], config, seed * 1000 + f)
        with torch.no_grad():
            scores[test] = torch.sigmoid(model(x[torch.from_numpy(test)])).double().numpy()
    return scores


def discriminate(real: np.ndarray, real_groups: list[str], synthetic: np.ndarray, synthetic_groups: list[str],
                 config: DiscriminatorConfig, seed: int) -> dict:
    """AUROC of real (N0, P, P) vs synthetic (N1, P, P) intensity crops, patient-grouped
    k-fold, repeated for `config.repeats` seeds from `seed`. Returns plain data (counts and
    figures only, no group ids)."""
    groups = list(real_groups) + list(synthetic_groups)
    if real.shape[1:] != synthetic.shape[1:] or len(real) != len(real_groups) or len(synthetic) != len(
            synthetic_groups):
        raise ValueError(f"expected crops (N, P, P) with one group each, got {real.shape} / {len(real_groups)}"
                         f" and {synthetic.shape} / {len(synthetic_groups)}")
    out = {"crops": {"real": int(len(real)), "synthetic": int(len(synthetic))},
           "patients": {"real": len(set(real_groups)), "synthetic": len(set(synthetic_groups)),
                        "total": len(set(groups))},
           "split": f"patient-grouped {config.folds}-fold; AUROC on the pooled out-of-fold scores",
           "seeds": [seed + r for r in range(config.repeats)], **asdict(config)}
    if len(set(groups)) < config.folds or len(real) < 2 or len(synthetic) < 2:
        return {**out, "auc": None, "auc_per_seed": [], "auc_spread": None, "auc_ci95": None,
                "note": "too few crops or patients for the discriminator"}
    x = torch.from_numpy(normalise_crops(np.concatenate([real, synthetic]).astype(np.float32)))[:, None]
    y = torch.cat([torch.zeros(len(real)), torch.ones(len(synthetic))])
    labels = y.numpy().astype(bool)
    per_seed, all_scores, train_patients, test_patients = [], [], [], []
    for s in out["seeds"]:
        fold = grouped_folds(groups, config.folds, np.random.default_rng(s))
        scores = _oof_scores(x, y, fold, config, s)
        per_seed.append(auroc(labels, scores))
        all_scores.append(scores)
        for f in range(config.folds):
            test_patients.append(len({g for g, k in zip(groups, fold) if k == f}))
            train_patients.append(len({g for g, k in zip(groups, fold) if k != f}))
    mean_scores = np.mean(all_scores, axis=0)
    out.update(auc=float(np.mean(per_seed)), auc_per_seed=[round(a, 4) for a in per_seed],
               auc_spread={"min": float(min(per_seed)), "max": float(max(per_seed)), "std": float(np.std(per_seed))},
               auc_ci95=_bootstrap_ci(labels, mean_scores, groups, config.bootstrap, np.random.default_rng(seed)),
               test_patients_per_fold={"min": min(test_patients), "max": max(test_patients)},
               train_patients_per_fold={"min": min(train_patients), "max": max(train_patients)})
    return out


def _bootstrap_ci(labels: np.ndarray, scores: np.ndarray, groups: list[str], n: int,
                  rng: np.random.Generator) -> list[float] | None:
    """2.5 and 97.5 percentiles of the AUROC over patients resampled with replacement."""
    distinct = sorted(set(groups))
    members = {g: [] for g in distinct}
    for i, g in enumerate(groups):
        members[g].append(i)
    index = [np.array(members[g]) for g in distinct]
    aucs = []
    for _ in range(n):
        pick = np.concatenate([index[g] for g in rng.integers(0, len(distinct), len(distinct))])
        a = auroc(labels[pick], scores[pick])
        if not math.isnan(a):
            aucs.append(a)
    if not aucs:
        return None
    return [float(np.quantile(aucs, 0.025)), float(np.quantile(aucs, 0.975))]
