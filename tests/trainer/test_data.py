"""Opening data: the fixed split of plain data, classes of builds and folders, and training
loaders over a folder that share an epoch across ranks without overlap."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer.data import data_classes, open_data, plain_split


def _folder(root: Path, counts: dict[str, int]) -> Path:
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((8, 8), 10 * i, dtype=np.uint8)).save(root / name / f"{i:03d}.png")
    return root


def test_plain_split_is_disjoint_complete_and_fixed():
    train, val = plain_split(50, 0.3, 2, "train"), plain_split(50, 0.3, 2, "val")
    assert sorted(train + val) == list(range(50)) and not set(train) & set(val)
    assert 0 < len(val) < 50 and train == sorted(train)
    assert plain_split(50, 0.3, 2, "val") == val and plain_split(50, 0.3, 3, "val") != val


def test_classes_of_a_build_and_of_a_folder(fake_build, tmp_path):
    root, _ = fake_build
    assert data_classes(str(root)) == ["none", "coin", "magnets"]  # manifest order
    assert data_classes(str(_folder(tmp_path / "f", {"none": 1, "coin": 1}))) == ["coin", "none"]  # sorted


@pytest.mark.parametrize("balance", ["none", "sampler"])
def test_folder_ranks_share_an_epoch_without_overlap(tmp_path, balance):
    folder = _folder(tmp_path / "f", {"coin": 9, "none": 12})  # 21 samples: 10 per rank, 1 left out
    seen = []
    for rank in range(2):
        data = open_data(str(folder), classes=["coin", "none"], subset="all", train=True, cfg_seed=4, image_size=32,
                         task="multiclass", batch_size=4, loader_workers=2, rank=rank, world_size=2, balance=balance)
        data.set_epoch(1)
        keys = [key for _, _, batch_keys in data.loader for key in batch_keys]
        assert len(keys) == 10 and data.num_batches == 3
        seen.append(keys)
    if balance == "none":
        assert not set(seen[0]) & set(seen[1]) and len(set(seen[0] + seen[1])) == 20
    assert data.class_counts.tolist() == [9, 12]
