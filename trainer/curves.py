"""Training curves a user can open: TensorBoard event files and `metrics.csv`, beside the
checkpoints in the run folder (`tensorboard --logdir RUN`).

Written by rank 0 only. Per optimiser step: `train/loss` and `train/lr` (the rate that step
used), at the global step. Per epoch, at the epoch's last step: `epoch/train_loss` (mean over
the epoch), `epoch/images_per_s` (this rank's training throughput, loader waits included),
`epoch/data_wait_share` (data wait / (data wait + compute): near 1 means the GPU or CPU waits
for input) and every validation figure of the epoch (`val/auroc_any`, `val/accuracy`, ...).
`metrics.csv` holds one row per epoch of the same figures (the run's whole history, so a
resumed run rewrites it complete); `lr` is the rate of the epoch's last step.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path

CSV_NAME = "metrics.csv"
# Columns of metrics.csv before the validation figures (which depend on the task).
_COLUMNS = ("epoch", "step", "train_loss", "lr", "images", "train_seconds", "images_per_s", "data_s", "compute_s",
            "data_wait_share")


def data_wait_share(data_s: float, compute_s: float) -> float:
    """Share of a step's time spent waiting for the loader, in [0, 1] (0 when nothing was timed)."""
    total = data_s + compute_s
    return data_s / total if total > 0 else 0.0


def csv_text(rows: Iterable[dict]) -> str:
    """The metrics.csv of these epoch rows: the fixed columns, then every other key sorted;
    a figure an epoch lacks is an empty cell."""
    rows = list(rows)
    extra = sorted({k for row in rows for k in row} - set(_COLUMNS))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*_COLUMNS, *extra], restval="", extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


class Curves:
    """The curves of one run in `out`. `history`: the epoch entries of a resumed run, kept in
    metrics.csv. Call `step` after each optimiser step, `epoch` after each epoch, then `close`."""

    def __init__(self, out: Path, history: Iterable[dict] = ()):
        from torch.utils.tensorboard import SummaryWriter  # tensorboard: only when a run writes curves

        self.out = Path(out)
        self._writer = SummaryWriter(log_dir=str(self.out))
        self._rows = [self._row(entry, entry.get("lr")) for entry in history]
        self._lr: float | None = None

    @staticmethod
    def _row(entry: dict, lr: float | None) -> dict:
        share = data_wait_share(entry.get("data_s", 0.0), entry.get("compute_s", 0.0))
        return {**entry, "lr": lr, "data_wait_share": share}

    def step(self, step: int, loss: float, lr: float) -> None:
        """Global step `step` (1-based, after the update) had loss `loss` at rate `lr`."""
        self._lr = lr
        if math.isfinite(loss):
            self._writer.add_scalar("train/loss", loss, step)
        self._writer.add_scalar("train/lr", lr, step)

    def epoch(self, entry: dict) -> None:
        """One epoch's entry of the run's history (trainer.train.run): scalars and a CSV row."""
        row = self._row(entry, self._lr)
        step = int(entry["step"])
        for name in ("train_loss", "images_per_s", "data_wait_share"):
            self._writer.add_scalar(f"epoch/{name}", row[name], step)
        for name, value in entry.items():
            if name.startswith("val_") and isinstance(value, (int, float)) and not isinstance(value, bool):
                self._writer.add_scalar(f"val/{name[4:]}", value, step)
        self._writer.flush()
        self._rows.append(row)
        tmp = self.out / f".{CSV_NAME}.tmp"
        tmp.write_text(csv_text(self._rows))
        tmp.replace(self.out / CSV_NAME)  # a reader never sees half a file

    def close(self) -> None:
        self._writer.close()
