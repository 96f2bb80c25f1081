"""Labelled films as localisation samples: scaled boxes, instance ids, mapped classes."""

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.labelled.loc_dataset import LabelledLocDataset
from trainer.labelled.read import read_labelled

CLASSES = ["none", "coin", "bullet"]


@pytest.fixture
def cxr(tmp_path):
    pixels = np.zeros((30, 40), dtype=np.uint8)
    pixels[:, 20:] = 255
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels).save(tmp_path / "b.png")
    (tmp_path / "gt.csv").write_text("image_path,annotation\na.png,0 0 0 20 10;1 20 10 40 30\nb.png,\n")
    return read_labelled(str(tmp_path / "gt.csv"))


def test_items_match_the_build_stream_shape(cxr):
    ds = LabelledLocDataset(cxr, classes=CLASSES, image_size=20, class_map={"foreign_object": "bullet"})
    assert len(ds) == 2 and ds.has_masks
    a = ds[0]
    assert a["image"].shape == (1, 20, 20) and a["image"][0, 0, 0] == 0 and a["image"][0, 0, 19] == 1
    assert torch.allclose(a["boxes"], torch.tensor([[0.0, 0, 10, 20 / 3], [10, 20 / 3, 20, 20]]))
    assert a["labels"].tolist() == [1, 1] and a["inst_classes"].tolist() == [1, 1]  # bullet: fg index 1
    assert a["inst"].dtype == torch.uint8 and a["inst"][1, 1] == 1 and a["inst"][13, 15] == 2
    assert a["inst"][19, 10] == 0  # the ellipse's box corner is outside the ellipse
    assert a["key"] == "a.png" and torch.allclose(a["scale"], torch.tensor([0.5, 20 / 30]))
    b = ds[1]
    assert b["boxes"].shape == (0, 4) and b["labels"].shape == (0,) and int(b["inst"].max()) == 0


def test_a_class_the_model_lacks_is_refused(cxr):
    with pytest.raises(ValueError, match="'foreign_object' .* not one of the model's classes"):
        LabelledLocDataset(cxr, classes=CLASSES, image_size=20)
