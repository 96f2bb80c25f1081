"""Training curves: TensorBoard event files and metrics.csv beside the checkpoints."""

import csv

import pytest
import torch

from trainer.config import TrainConfig
from trainer.curves import CSV_NAME, csv_text, data_wait_share
from trainer.train import run


def test_data_wait_share_and_csv_columns():
    assert data_wait_share(1.0, 3.0) == 0.25 and data_wait_share(0.0, 0.0) == 0.0
    text = csv_text([{"epoch": 0, "step": 3, "train_loss": 1.5, "val_auroc_any": None},
                     {"epoch": 1, "step": 6, "train_loss": 1.25, "val_auroc_any": 0.75}])
    rows = list(csv.DictReader(text.splitlines()))
    assert rows[0]["epoch"] == "0" and rows[0]["val_auroc_any"] == "" and rows[1]["val_auroc_any"] == "0.75"
    assert text.splitlines()[0].startswith("epoch,step,train_loss,lr,")


def _scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_run_writes_tensorboard_events_and_metrics_csv(fake_build, tmp_path):
    root, _ = fake_build  # 30 samples
    torch.set_num_threads(2)
    out = tmp_path / "run"
    cfg = TrainConfig(data=str(root), out=str(out), device="cpu", image_size=32, epochs=2, batch_size=8,
                      val_fraction=0.3, split_seed=1, loader_workers=0, progress=False, augment=False)
    result = run(cfg)
    steps = [h["step"] for h in result.history]
    scalars = _scalars(out)
    assert [s for s, _ in scalars["train/loss"]] == list(range(1, steps[-1] + 1))  # every optimiser step
    assert [s for s, _ in scalars["epoch/train_loss"]] == steps
    assert [v for _, v in scalars["epoch/train_loss"]] == pytest.approx([h["train_loss"] for h in result.history])
    assert [v for _, v in scalars["epoch/images_per_s"]] == pytest.approx([h["images_per_s"] for h in result.history])
    assert all(0.0 <= v <= 1.0 for _, v in scalars["epoch/data_wait_share"])
    lrs = [v for _, v in scalars["train/lr"]]
    assert max(lrs) <= cfg.lr * 1.0001 and lrs[0] < max(lrs)  # the one-cycle warm-up
    name = next(k for k in result.history[0] if k.startswith("val_") and k != "val_accuracy")
    assert [v for _, v in scalars[f"val/{name[4:]}"]] == pytest.approx([h[name] for h in result.history])
    rows = list(csv.DictReader((out / CSV_NAME).read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [0, 1] and [int(r["step"]) for r in rows] == steps
    assert float(rows[1]["train_loss"]) == pytest.approx(result.history[1]["train_loss"])
    assert float(rows[1]["lr"]) == pytest.approx(lrs[-1]) and rows[0][name] != ""
    assert (out / "last.pt").exists() and list(out.glob("events.out.tfevents.*"))
