"""The split by patient (trainer.split): held-out groups never train, every sample is on one side,
counts per rank are known before streaming, old builds fall back with a warning, --val builds
that share a patient are refused, folders and CSVs split by the generator's grouping rules."""

import logging
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _builds import group_id, sample_groups, write_fake_build
from PIL import Image
from torch.utils.data import DataLoader

from generator.errors import ConfigError
from trainer.config import TrainConfig
from trainer.data import check_val_disjoint, open_data, plain_split
from trainer.split import BuildSplit, group_key, plain_groups, unit
from trainer.stream import ShardStream
from trainer.train import run


def _stream_keys(ds, num_workers: int = 0) -> list[str]:
    loader = DataLoader(ds, batch_size=4, num_workers=num_workers)
    return [k.split(":")[1] for _, _, keys in loader for k in keys]


def test_unit_is_a_pure_hash_into_the_unit_interval():
    assert unit(3, "0123456789abcdef") == unit(3, "0123456789abcdef")
    assert unit(3, "0123456789abcdef") != unit(4, "0123456789abcdef")
    draws = [unit(0, group_id(p)) for p in range(2000)]
    assert 0.0 <= min(draws) and max(draws) < 1.0 and abs(np.mean(draws) - 0.5) < 0.03


@pytest.mark.parametrize("fmt", ["wds", "parquet"])
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_held_out_groups_never_train_and_every_sample_is_on_one_side(fake_build, fmt, world_size):
    root, keys = fake_build  # 30 samples of 12 patients spread over 5 shards
    groups = sample_groups(root)
    held_out = {g for g in groups.values() if unit(1, g) < 0.3}
    assert 0 < len(held_out) < 12
    train = []
    for rank in range(world_size):
        ds = ShardStream(str(root), subset="train", val_fraction=0.3, split_seed=1, rank=rank, world_size=world_size,
                         image_size=16, seed=5, shuffle_buffer=4, fmt=fmt)
        ds.set_epoch(2)
        got = _stream_keys(ds, num_workers=2)
        assert len(got) == len(ds) == sum(ds.split.counts) // world_size  # counted before streaming
        train += got
    val_ds = ShardStream(str(root), subset="val", val_fraction=0.3, split_seed=1, shuffle=False, drop_remainder=False,
                         image_size=16, fmt=fmt)
    val = _stream_keys(val_ds)
    assert len(val) == len(val_ds)
    assert {groups[k] for k in val} == held_out  # exactly the held-out patients' samples
    assert not {groups[k] for k in train} & held_out
    assert not [k for k, n in Counter(train + val).items() if n > 1]
    n_train = len(keys) - len(val)
    assert len(train) == n_train - n_train % world_size  # the remainder (< world_size) only is unseen
    every = ShardStream(str(root), subset="train", val_fraction=0.3, split_seed=1, shuffle=False,
                        drop_remainder=False, image_size=16, fmt=fmt)
    assert sorted(_stream_keys(every) + val) == keys  # all of them on one side or the other


def test_counts_per_shard_come_from_the_manifest_groups(fake_build):
    root, _ = fake_build
    groups = sample_groups(root)
    ds = ShardStream(str(root), subset="val", val_fraction=0.3, split_seed=1, image_size=16)
    assert ds.split.by_group
    per_shard = [sum(1 for k in range(start, start + n) if unit(1, groups[f"{k:08d}"]) < 0.3)
                 for start, n in zip(np.cumsum([0, 7, 5, 6, 9]), [7, 5, 6, 9, 3])]
    assert ds.split.counts == per_shard and len(ds) == sum(per_shard)


def test_old_build_keeps_the_per_sample_split_with_a_warning(tmp_path, caplog):
    root = tmp_path / "old"
    keys = write_fake_build(root, [7, 5, 6, 9, 3], patients=None)
    parts = {}
    with caplog.at_level(logging.WARNING, logger="trainer.split"):
        for subset in ("train", "val"):
            ds = ShardStream(str(root), subset=subset, val_fraction=0.3, split_seed=1, shuffle=False,
                             drop_remainder=False, image_size=16)
            assert not ds.split.by_group
            parts[subset] = _stream_keys(ds)
    assert "may share films and patients with training" in caplog.text
    assert sorted(parts["train"] + parts["val"]) == keys and not set(parts["train"]) & set(parts["val"])
    u = np.random.default_rng([1, 0]).random(7)  # shard 0's draw: today's per-sample rule
    assert [k for k in parts["val"] if int(k) < 7] == [f"{i:08d}" for i in np.flatnonzero(u < 0.3)]


def test_samples_without_group_id_are_split_by_film_with_a_warning(caplog):
    films = ["film-a", "film-b", "film-a", "film-c"]
    part = SimpleNamespace(files=(SimpleNamespace(path="s0.tar"),), groups=dict(Counter(films)))  # by film
    manifest = SimpleNamespace(parts={0: part})
    shard = SimpleNamespace(path="s0.tar", count=4, index=0)
    split = BuildSplit([shard], manifest, subset="val", val_fraction=0.5, split_seed=2, where="b")
    with caplog.at_level(logging.WARNING, logger="trainer.split"):
        offsets = split.offsets(0, [None] * 4, films)
    assert "split by film (source_id), not by patient" in caplog.text
    assert offsets.tolist() == [i for i, f in enumerate(films) if unit(2, f) < 0.5]
    with pytest.raises(ValueError, match="groups say"):
        split.offsets(0, ["x"] * 4, films)  # a shard whose samples disagree with the manifest


def test_val_build_sharing_patients_is_refused_and_a_disjoint_one_accepted(fake_build, tmp_path, caplog):
    root, _ = fake_build  # patients 0..11
    overlapping = tmp_path / "overlap"
    write_fake_build(overlapping, [4, 4], patients=5, first_patient=9)  # patients 9..13: 3 shared
    with pytest.raises(ConfigError) as err:
        check_val_disjoint(str(root), str(overlapping))
    assert "--val" in str(err.value) and "(3 groups shared)" in str(err.value)
    assert "a build with no patient of the training build" in str(err.value)
    disjoint = tmp_path / "disjoint"
    write_fake_build(disjoint, [4, 4], patients=5, first_patient=12)
    check_val_disjoint(str(root), str(disjoint))
    with pytest.raises(ConfigError, match="3 groups shared"):  # train refuses before any work
        run(TrainConfig(data=str(root), val=str(overlapping), out=str(tmp_path / "run"), progress=False,
                        device="cpu"))
    old = tmp_path / "old"
    write_fake_build(old, [4], patients=None)
    with caplog.at_level(logging.WARNING, logger="trainer.data"):
        check_val_disjoint(str(root), str(old))
    assert "not checked for patients shared" in caplog.text


def test_group_key_follows_the_generator_path_rules():
    assert group_key("00000013_005.png") == ("nih", "nih:00000013")
    assert group_key("coin/00000013_000.png")[1] == group_key("00000013_005.png")[1]
    assert group_key("00000014_000.png")[1] != group_key("00000013_000.png")[1]
    a = group_key("train/patient00042/study1/view1_frontal.jpg")
    assert a[0] == "chexpert" and a[1] == group_key("train/patient00042/study2/view1_frontal.jpg")[1]
    assert a[1] != group_key("train/patient00043/study1/view1_frontal.jpg")[1]
    assert group_key("some/film.png")[0] == "file"
    assert group_key("some/film.png")[1] != group_key("some/other.png")[1]


def _nih_folder(root: Path) -> Path:
    """Class folders of NIH-named films: patients 1..8, three films each, across both classes."""
    for patient in range(1, 9):
        for follow_up in range(3):
            folder = root / ("coin" if (patient + follow_up) % 2 else "none")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8), 10 * patient, dtype=np.uint8)).save(
                folder / f"{patient:08d}_{follow_up:03d}.png")
    return root


def test_plain_data_splits_by_patient(tmp_path):
    folder = _nih_folder(tmp_path / "f")
    keys = {}
    for subset in ("train", "val"):
        data = open_data(str(folder), classes=["coin", "none"], subset=subset, train=False, cfg_seed=0, image_size=8,
                         task="multiclass", batch_size=4, loader_workers=0, val_fraction=0.4, split_seed=3)
        keys[subset] = [Path(k).name for _, _, batch in data.loader for k in batch]
    patients = {s: {k[:8] for k in keys[s]} for s in keys}
    assert patients["train"] and patients["val"] and not patients["train"] & patients["val"]
    assert sorted(keys["train"] + keys["val"]) == sorted(p.name for p in folder.rglob("*.png"))
    assert all(len([k for k in keys["val"] if k[:8] == p]) == 3 for p in patients["val"])  # whole patients
    names = [f"{p:08d}_{f:03d}.png" for p in range(1, 9) for f in range(3)]
    assert plain_split(plain_groups(names), 0.4, 3, "val") == [i for i, n in enumerate(names) if n[:8] in
                                                                 patients["val"]]
