"""The YOLO reader: boxes and polygons, classes.txt or data.yaml, one-line errors."""

import numpy as np
import pytest
from PIL import Image

from trainer.labelled.errors import LabelError
from trainer.labelled.read import read_labelled
from trainer.labelled.yolo import label_path

H, W = 40, 80


def _dataset(tmp_path, labels: dict[str, str], names_file="classes.txt"):
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    for name, text in labels.items():
        Image.fromarray(np.zeros((H, W), dtype=np.uint8)).save(tmp_path / "images" / "train" / f"{name}.png")
        if text is not None:
            (tmp_path / "labels" / "train" / f"{name}.txt").write_text(text)
    if names_file == "classes.txt":
        (tmp_path / "classes.txt").write_text("coin\nbullet\n")
    else:
        (tmp_path / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\n"
                                            "names:\n  0: coin\n  1: bullet\n")
    return str(tmp_path)


@pytest.mark.parametrize("names_file", ["classes.txt", "data.yaml"])
def test_boxes_polygons_and_images_without_labels(tmp_path, names_file):
    root = _dataset(tmp_path, {"a": "1 0.5 0.5 0.25 0.5\n0 0.125 0.25 0.25 0.5\n", "b": None,
                               "c": "0 0.25 0.25 0.5 0.25 0.5 0.75 0.25 0.75\n"}, names_file)
    got = read_labelled(root)
    assert got.format == "yolo" and got.class_names == ("coin", "bullet")
    a, b, c = got.images
    assert a.labels.tolist() == [2, 1] and a.boxes.tolist() == [[30, 10, 50, 30], [0, 0, 20, 20]]
    assert a.masks is None and b.boxes.shape == (0, 4)
    assert c.boxes.tolist() == [[20, 10, 40, 30]] and int(c.masks.sum()) == 20 * 20


def test_label_path_follows_ultralytics():
    assert label_path("/d/images/train/x.y.png") == "/d/labels/train/x.y.txt"


@pytest.mark.parametrize("line, message", [
    ("0 0.9 0.5 0.4 0.2", "line 1: box [0.7, 0.4, 1.1, 0.6] lies outside the image"),
    ("0 0.1 0.1 0.2 0.2 0.3", "line 1: polygon has an odd number of coordinates (5)"),
    ("2 0.5 0.5 0.1 0.1", "line 1: class '2' is not an index 0..1 of the classes"),
    ("0 0.5 half 0.1 0.1", "line 1: non-numeric field"),
])
def test_bad_lines_give_one_line_errors(tmp_path, line, message):
    root = _dataset(tmp_path, {"a": line + "\n"})
    with pytest.raises(LabelError) as info:
        read_labelled(root)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(tmp_path / "labels" / "train" / "a.txt")) and message in text


def test_split_folders_listed_in_data_yaml(tmp_path):
    for split in ("train", "valid"):
        (tmp_path / split / "images").mkdir(parents=True)
        (tmp_path / split / "labels").mkdir(parents=True)
        Image.fromarray(np.zeros((H, W), dtype=np.uint8)).save(tmp_path / split / "images" / f"{split}.png")
        (tmp_path / split / "labels" / f"{split}.txt").write_text("1 0.5 0.5 0.5 0.5\n")
    (tmp_path / "data.yaml").write_text("train: train/images\nval: valid/images\nnames: [coin, bullet]\n")
    got = read_labelled(str(tmp_path / "data.yaml"))
    assert [im.name for im in got.images] == ["train/images/train.png", "valid/images/valid.png"]
    assert all(im.labels.tolist() == [2] for im in got.images)
    from trainer.labelled.yolo import read_yolo

    assert [im.name for im in read_yolo(str(tmp_path), split="val").images] == ["valid/images/valid.png"]
