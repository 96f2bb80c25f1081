"""Localisation targets read from a build: boxes, labels, instance maps, per-class masks."""

import numpy as np
import torch
from _loc_builds import LOC_CLASSES, loc_sample, write_loc_build

from trainer.localise.samples import LocStream
from trainer.localise.targets import class_masks, collate_loc, foreground, object_boxes, object_classes, pad_boxes


def _stream(build, **kw):
    args = dict(classes=LOC_CLASSES, shuffle=False, image_size=64, drop_remainder=False)
    args.update(kw)
    return LocStream(str(build), **args)


def test_stream_yields_the_sample_objects(tmp_path):
    build = write_loc_build(tmp_path / "b", [4, 5], formats=("wds", "parquet"))
    for fmt in ("wds", "parquet"):
        items = list(_stream(build, fmt=fmt))
        assert len(items) == 9
        by_key = {x["key"].rsplit(":", 1)[1]: x for x in items}
        for i in range(9):
            sample, item = loc_sample(i), by_key[f"{i:08d}"]
            want = torch.tensor([o["bbox_xyxy"] for o in sample.objects], dtype=torch.float32).reshape(-1, 4)
            assert torch.equal(item["boxes"], want)
            labels = [foreground(LOC_CLASSES).index(o["class"]) for o in sample.objects]
            assert item["labels"].tolist() == labels == item["inst_classes"].tolist()
            # the instance map's box of object k is the object's box
            for k, box in enumerate(want.tolist()):
                ys, xs = torch.nonzero(item["inst"] == k + 1, as_tuple=True)
                assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == box
            assert item["image"].shape == (1, 64, 64)


def test_boxes_rescale_with_the_input_size(tmp_path):
    build = write_loc_build(tmp_path / "b", [3])
    item = list(_stream(build, image_size=32))[1]  # sample 1 has an object
    box = torch.tensor(loc_sample(1).objects[0]["bbox_xyxy"], dtype=torch.float32)
    assert torch.allclose(item["boxes"][0], box / 2)
    assert torch.equal(item["scale"], torch.tensor([0.5, 0.5]))
    assert item["inst"].shape == (32, 32)


def test_class_masks_from_instance_ids():
    inst = torch.zeros(2, 4, 4, dtype=torch.uint8)
    inst[0, 0, 0] = 1
    inst[0, 1, 1] = 2
    inst[1, 3, 3] = 1
    masks = class_masks(inst, [torch.tensor([1, 0]), torch.tensor([1])], 2)
    assert masks.shape == (2, 2, 4, 4)
    assert masks[0, 1, 0, 0] == 1 and masks[0, 0, 1, 1] == 1 and masks[1, 1, 3, 3] == 1
    assert masks.sum() == 3


def test_unknown_object_class_is_named():
    try:
        object_classes([{"class": "bottle_cap"}], ["coin"], "shard:key")
    except ValueError as exc:
        assert "bottle_cap" in str(exc) and "shard:key" in str(exc)
    else:
        raise AssertionError("no error")


def test_helpers():
    boxes = object_boxes([{"bbox_xyxy": [1, 2, 3, 4]}, {"bbox_xyxy": None}], 2.0, 0.5)
    assert boxes.tolist() == [[2, 1, 6, 2], [0, 0, 0, 0]]
    padded, valid = pad_boxes([torch.ones(2, 4), torch.zeros(0, 4)])
    assert padded.shape == (2, 2, 4) and valid.tolist() == [[True, True], [False, False]]
    batch = collate_loc([{"image": torch.zeros(1, 8, 8), "inst": torch.zeros(8, 8, dtype=torch.uint8),
                          "scale": torch.ones(2), "boxes": torch.zeros(0, 4), "labels": torch.zeros(0),
                          "inst_classes": torch.zeros(0, dtype=torch.int64), "key": "k"}] * 3)
    assert batch["image"].shape == (3, 1, 8, 8) and batch["key"] == ["k"] * 3
    assert np.array_equal(batch["scale"].numpy(), np.ones((3, 2)))
