"""The COCO reader: boxes, polygon / uncompressed / compressed RLE masks, crowd, one-line errors."""

import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from trainer.labelled.errors import LabelError
from trainer.labelled.read import read_labelled

H, W = 20, 30


def _mask():
    m = np.zeros((H, W), dtype=np.uint8)
    m[4:9, 10:16] = 1
    return m


def _doc(**changes):
    m = _mask()
    flat = m.flatten(order="F")  # column-major runs, starting with zeros
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flat, [0])))).tolist()
    counts = np.diff([0] + edges + [H * W]).tolist()
    compressed = mask_utils.encode(np.asfortranarray(m))
    doc = {
        "images": [{"id": 7, "file_name": "a.png", "height": H, "width": W},
                   {"id": 9, "file_name": "b.png"}],  # no size: read from the header
        "categories": [{"id": 5, "name": "bullet"}, {"id": 2, "name": "coin"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 2, "bbox": [10, 4, 6, 5],
             "segmentation": [[10, 4, 16, 4, 16, 9, 10, 9]]},
            {"id": 2, "image_id": 7, "category_id": 5, "bbox": [10, 4, 6, 5],
             "segmentation": {"size": [H, W], "counts": counts}},
            {"id": 3, "image_id": 7, "category_id": 5, "bbox": [10, 4, 6, 5],
             "segmentation": {"size": [H, W], "counts": compressed["counts"].decode()}},
            {"id": 4, "image_id": 9, "category_id": 2, "bbox": [0, 0, 30, 20], "iscrowd": 1},
            {"id": 5, "image_id": 9, "category_id": 2, "bbox": [1.5, 2.5, 3, 4]},
        ],
    }
    doc.update(changes)
    return doc


def _write(tmp_path, doc):
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((H, W), dtype=np.uint8)).save(tmp_path / name)
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_masks_of_every_encoding_decode_to_the_same_pixels(tmp_path):
    got = read_labelled(_write(tmp_path, _doc()))
    assert got.format == "coco" and got.class_names == ("coin", "bullet")  # sorted by category id
    a, b = got.images
    assert a.labels.tolist() == [1, 2, 2] and a.boxes.tolist() == [[10, 4, 16, 9]] * 3
    masks = a.masks.numpy()
    assert np.array_equal(masks[1], _mask()) and np.array_equal(masks[2], _mask())
    # pycocotools rasterises the polygon [10, 16] x [4, 9] to exactly that block of pixels
    assert np.array_equal(masks[0], _mask())
    # the crowd region is left out; a box-only annotation leaves the image without masks
    assert (b.height, b.width) == (H, W) and b.boxes.tolist() == [[1.5, 2.5, 4.5, 6.5]] and b.masks is None


@pytest.mark.parametrize("change, message", [
    (lambda d: d["annotations"][0].update(bbox=[25, 4, 6, 5]),
     "annotations[0] (id 1): box [25, 4, 31, 9] lies outside"),
    (lambda d: d["annotations"][0].update(segmentation=[[10, 4, 16, 4, 16]]), "odd number of coordinates (5)"),
    (lambda d: d["annotations"][0].update(category_id=3), "category_id 3 is not in 'categories'"),
    (lambda d: d["annotations"][0].update(bbox=[10, "x", 6, 5]), "bbox value must be a finite number"),
    (lambda d: d["annotations"][1]["segmentation"].update(counts=[1, 2]), "uncompressed RLE counts"),
    (lambda d: d["images"][0].update(file_name="gone.png"), "images[0]: image not found"),
])
def test_bad_annotations_give_one_line_errors(tmp_path, change, message):
    doc = _doc()
    change(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(LabelError) as info:
        read_labelled(path)
    assert "\n" not in str(info.value) and message in str(info.value)


def test_not_coco_at_all(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[1, 2]")
    with pytest.raises(LabelError, match="needs lists 'images', 'annotations' and 'categories'"):
        read_labelled(str(path))
