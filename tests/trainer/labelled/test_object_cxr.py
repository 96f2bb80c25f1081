"""The object-CXR CSV reader: shapes, round trip through the writer, one-line errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.labelled.errors import LabelError
from trainer.labelled.object_cxr import format_rectangles, read_object_cxr, write_object_cxr
from trainer.labelled.read import read_labelled


def _image(path, width=40, height=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((height, width), dtype=np.uint8)).save(path)


def _csv(tmp_path, body: str):
    _image(tmp_path / "a.png")
    _image(tmp_path / "sub" / "b.png")
    path = tmp_path / "labels.csv"
    path.write_text("image_path,annotation\n" + body)
    return str(path)


def test_rectangle_ellipse_polygon_and_an_empty_row(tmp_path):
    path = _csv(tmp_path, "a.png,0 2 3 10 8;1 20 10 30 20;2 5 20 15 20 15 28 5 28\nsub/b.png,\n")
    out = read_labelled(path)
    assert out.format == "object-cxr" and out.class_names == ("foreign_object",)
    a, b = out.images
    assert (a.height, a.width) == (30, 40) and a.path == str(tmp_path / "a.png")
    assert a.boxes.tolist() == [[2, 3, 10, 8], [20, 10, 30, 20], [5, 20, 15, 28]]
    assert a.labels.tolist() == [1, 1, 1]
    masks = a.masks
    assert masks.shape == (3, 30, 40) and masks.dtype == torch.uint8
    assert int(masks[0].sum()) == 8 * 5  # pixel centres 2.5..9.5 by 3.5..7.5
    assert int(masks[2].sum()) == 10 * 8
    # the ellipse holds its centre but not its box's corners
    assert masks[1, 15, 25] == 1 and masks[1, 10, 20] == 0 and masks[1, 19, 29] == 0
    assert 0.7 < int(masks[1].sum()) / 100 < 0.85  # pi / 4 of its box
    assert b.boxes.shape == (0, 4) and b.masks.shape == (0, 30, 40)


def test_round_trip_through_the_writer(tmp_path):
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png")
    boxes = {"a.png": torch.tensor([[1.5, 2.0, 10.25, 12.0], [0, 0, 40, 30]]), "b.png": torch.zeros(0, 4)}
    write_object_cxr(str(tmp_path / "gt.csv"), [(k, format_rectangles(v)) for k, v in boxes.items()])
    out = read_object_cxr(str(tmp_path / "gt.csv"))
    assert [im.path for im in out.images] == [str(tmp_path / k) for k in boxes]
    for im, want in zip(out.images, boxes.values()):
        assert torch.equal(im.boxes, want.float())


@pytest.mark.parametrize("annotation, message", [
    ("3 1 1 5 5", "line 2: unknown annotation type '3'; allowed: 0 (rectangle), 1 (ellipse), 2 (polygon)"),
    ("0 1 1 50 5", "line 2: rectangle [1, 1, 50, 5] lies outside the 40x30 image"),
    ("2 1 1 5 5 9", "line 2: polygon has an odd number of coordinates (5)"),
    ("0 1 x 5 5", "line 2: non-numeric coordinate"),
    ("1 5 5 1 9", "line 2: ellipse needs x1 < x2 and y1 < y2"),
])
def test_bad_annotations_give_one_line_errors(tmp_path, annotation, message):
    path = _csv(tmp_path, f"a.png,{annotation}\n")
    with pytest.raises(LabelError) as info:
        read_object_cxr(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(path) and message in text


def test_missing_image_names_it(tmp_path):
    path = _csv(tmp_path, "gone.png,0 1 1 2 2\n")
    with pytest.raises(LabelError, match=r"line 2: image not found: .*gone\.png"):
        read_object_cxr(path)


def test_a_csv_of_another_shape_is_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("path,label\na.png,coin\n")
    with pytest.raises(LabelError, match="image_path,annotation"):
        read_labelled(str(path))
