"""Hostile or careless trainer inputs (issue 15): every one is a one-line error naming the
option, what it got and what is allowed, raised before the run folder exists; a checkpoint
holding code is refused without running it."""

import os

import numpy as np
import pytest
import torch
from _builds import write_fake_build
from PIL import Image

from radiopaque.cli import main
from trainer.checkpoint import save_checkpoint
from trainer.config import TrainConfig
from trainer.models import build_model


class _Payload:
    """Unpickling this would create the folder `marker`: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _checkpoint(path, classes=("none", "coin", "magnets"), **extra):
    save_checkpoint(path, model=build_model("resnet18", len(classes)), optimizer=None, scheduler=None, epoch=0,
                    step=1, cfg=TrainConfig(data="d", out="o", image_size=32), classes=list(classes), metrics={},
                    best_metric=None)
    if extra:
        state = torch.load(path, weights_only=False)
        state.update(extra)
        torch.save(state, path)
    return path


def _run(capsys, *argv) -> tuple[int, str]:
    rc = main(list(argv))
    err = capsys.readouterr().err.strip()
    return rc, err


def _one_line(err: str) -> str:
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def hostile_ckpt(tmp_path):
    marker = tmp_path / "code-ran"
    return _checkpoint(tmp_path / "evil.pt", metrics={"x": _Payload(marker)}), marker


def test_evaluate_refuses_a_pickle_payload_naming_the_file(tmp_path, capsys, fake_build, hostile_ckpt):
    ckpt, marker = hostile_ckpt
    out = tmp_path / "eval"
    rc, err = _run(capsys, "evaluate", "--checkpoint", str(ckpt), "--data", str(fake_build[0]), "--out", str(out),
                   "--no-progress")
    assert rc == 2 and "--checkpoint" in _one_line(err) and str(ckpt) in err and "refused to unpickle code" in err
    assert not marker.exists() and not out.exists()


def test_train_init_and_resume_refuse_a_pickle_payload(tmp_path, capsys, fake_build, hostile_ckpt):
    ckpt, marker = hostile_ckpt
    run = tmp_path / "run"
    rc, err = _run(capsys, "train", "--data", str(fake_build[0]), "--out", str(run), "--init", str(ckpt),
                   "--no-progress", "--loader-workers", "0")
    assert rc == 2 and _one_line(err).startswith("radiopaque train: error: --init: got") and str(ckpt) in err
    assert not run.exists()
    run.mkdir()
    (run / "last.pt").write_bytes(ckpt.read_bytes())
    rc, err = _run(capsys, "train", "--data", str(fake_build[0]), "--out", str(run), "--resume", "--no-progress",
                   "--loader-workers", "0")
    assert rc == 2 and "--resume" in _one_line(err) and "last.pt" in err and "refused to unpickle code" in err
    assert not marker.exists() and sorted(os.listdir(run)) == ["last.pt"]


@pytest.mark.parametrize("content, why", [
    (None, "no such file"),
    (b"", "not a torch checkpoint"),
    (b"PK\x03\x04 not really a zip", "not a torch checkpoint"),
])
def test_missing_or_invalid_checkpoints_are_one_line_errors(tmp_path, capsys, fake_build, content, why):
    ckpt = tmp_path / "c.pt"
    if content is not None:
        ckpt.write_bytes(content)
    rc, err = _run(capsys, "evaluate", "--checkpoint", str(ckpt), "--data", str(fake_build[0]),
                   "--out", str(tmp_path / "e"), "--no-progress")
    assert rc == 2 and why in _one_line(err) and str(ckpt) in err and not (tmp_path / "e").exists()


def test_a_checkpoint_without_weights_or_classes_is_refused(tmp_path, capsys, fake_build):
    ckpt = tmp_path / "plain.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "config": {"model": "resnet18"}, "classes": "none"}, ckpt)
    rc, err = _run(capsys, "evaluate", "--checkpoint", str(ckpt), "--data", str(fake_build[0]),
                   "--out", str(tmp_path / "e"), "--no-progress")
    assert rc == 2 and "no list of class names" in _one_line(err)
    torch.save({"model": {"w": torch.zeros(1)}, "config": {"model": "resnet18"}, "classes": ["a", "b"]}, ckpt)
    rc, err = _run(capsys, "evaluate", "--checkpoint", str(ckpt), "--data", str(fake_build[0]),
                   "--out", str(tmp_path / "e"), "--no-progress")
    assert rc == 2 and "do not fit" in _one_line(err) and not (tmp_path / "e").exists()


def _pngs(folder, n):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((40, 40), i * 20, dtype=np.uint8)).save(folder / f"{i:08d}_000.png")
    return folder


def test_a_folder_without_class_subfolders_says_what_it_holds(tmp_path, capsys):
    films = _pngs(tmp_path / "films", 5)
    rc, err = _run(capsys, "train", "--data", str(films), "--out", str(tmp_path / "run"), "--no-progress")
    assert rc == 2 and "--data" in _one_line(err) and "holds 5 images but no class subfolders" in err
    assert not (tmp_path / "run").exists()


def test_a_csv_whose_rows_name_no_file_says_how_many_under_which_root(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("path,label\n" + "".join(f"x/{i}.png,coin\n" for i in range(4)))
    rc, err = _run(capsys, "train", "--data", str(tmp_path / "labels.csv"), "--out", str(tmp_path / "run"),
                   "--no-progress")
    assert rc == 2 and "4 of 4 rows not found under " + str(tmp_path) in _one_line(err)
    assert not (tmp_path / "run").exists()


def test_a_class_mismatch_is_an_option_error(tmp_path, capsys, fake_build):
    ckpt = _checkpoint(tmp_path / "two.pt", classes=("none", "coin"))
    rc, err = _run(capsys, "evaluate", "--checkpoint", str(ckpt), "--data", str(fake_build[0]),
                   "--out", str(tmp_path / "e"), "--no-progress")
    assert rc == 2 and _one_line(err).startswith("radiopaque evaluate: error: --data: got") and "magnets" in err
    folder = tmp_path / "real"
    _pngs(folder / "coin", 2), _pngs(folder / "pencil", 2)
    rc, err = _run(capsys, "evaluate", "--checkpoint", str(ckpt), "--data", str(folder),
                   "--out", str(tmp_path / "e"), "--no-progress")
    assert rc == 2 and "pencil" in _one_line(err) and not (tmp_path / "e").exists()


def test_a_one_sample_build_asks_for_a_validation_sample_before_the_run_folder(tmp_path, capsys):
    write_fake_build(tmp_path / "one", [1])
    rc, err = _run(capsys, "train", "--data", str(tmp_path / "one"), "--out", str(tmp_path / "run"),
                   "--no-progress", "--loader-workers", "0", "--val-fraction", "0")
    assert rc == 2 and "at least two training samples" in _one_line(err)
    rc, err = _run(capsys, "train", "--data", str(tmp_path / "one"), "--out", str(tmp_path / "run"),
                   "--no-progress", "--loader-workers", "0")
    assert rc == 2 and ("validation" in _one_line(err) or "training samples" in err)
    assert not (tmp_path / "run").exists()


def test_batch_size_one_is_refused_and_a_one_sample_batch_is_skipped(tmp_path, capsys, caplog):
    rc, err = _run(capsys, "train", "--data", "d", "--out", str(tmp_path / "run"), "--batch-size", "1")
    assert rc == 2 and "--batch-size: got 1; allowed: an integer >= 2" in _one_line(err)
    write_fake_build(tmp_path / "five", [5])  # batches of 4 + 1: the last one would break BatchNorm
    rc, err = _run(capsys, "train", "--data", str(tmp_path / "five"), "--out", str(tmp_path / "run"),
                   "--no-progress", "--loader-workers", "0", "--val-fraction", "0", "--batch-size", "4",
                   "--image-size", "32", "--no-augment")
    assert rc == 0, err
    assert "skipped a training batch of one sample" in caplog.text


def test_experiment_checks_its_inputs_before_its_folder(tmp_path, capsys, fake_build):
    films = _pngs(tmp_path / "films", 3)
    rc, err = _run(capsys, "experiment", "--synthetic", str(fake_build[0]), "--real", str(films),
                   "--out", str(tmp_path / "exp"), "--no-progress")
    assert rc == 2 and "--real" in _one_line(err) and "holds 3 images but no class subfolders" in err
    assert not (tmp_path / "exp").exists()
