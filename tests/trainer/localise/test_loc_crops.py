"""--crop: windows holding an object are oversampled, draws come from the generator given,
and a crop's boxes are clipped and filtered."""

import numpy as np
import torch
from _loc_builds import LOC_CLASSES, write_loc_build

from trainer.localise.crops import choose_crop, crop_boxes
from trainer.localise.samples import LocStream


def _holds(y0, x0, crop, box):
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return x0 <= cx < x0 + crop and y0 <= cy < y0 + crop


def test_object_crops_are_oversampled():
    box = np.array([[400.0, 100.0, 410.0, 110.0]])
    rates = {}
    for p in (0.0, 0.7):
        rng = np.random.default_rng(0)
        hits = [_holds(*choose_crop(512, 512, 128, box, rng, p), 128, box[0]) for _ in range(2000)]
        rates[p] = float(np.mean(hits))
    # uniform windows hold this centre ~ (128/512)^2-ish of the time; oversampling >= 70 %
    assert rates[0.0] < 0.15
    assert rates[0.7] >= 0.7


def test_crop_draws_are_explicit():
    box = np.array([[10.0, 10.0, 20.0, 20.0]])
    a = [choose_crop(300, 200, 64, box, np.random.default_rng(5), 0.5) for _ in range(3)]
    b = [choose_crop(300, 200, 64, box, np.random.default_rng(5), 0.5) for _ in range(3)]
    assert a == b
    for y0, x0 in a:
        assert 0 <= y0 <= 300 - 64 and 0 <= x0 <= 200 - 64


def test_crop_boxes_clip_and_filter():
    boxes = torch.tensor([[10.0, 10.0, 20.0, 20.0], [60.0, 60.0, 70.0, 70.0], [28.0, 0.0, 40.0, 10.0]])
    kept, labels = crop_boxes(boxes, torch.tensor([0, 1, 2]), 0, 0, 32)
    # box 1 is outside; box 2 keeps 4 of its 12 px width (33 % < 40 %): dropped
    assert labels.tolist() == [0]
    assert kept.tolist() == [[10.0, 10.0, 20.0, 20.0]]
    kept, labels = crop_boxes(boxes, torch.tensor([0, 1, 2]), 5, 26, 32)
    assert labels.tolist() == [2] and kept.tolist() == [[2.0, 0.0, 14.0, 5.0]]


def test_stream_crops_change_with_the_epoch_and_repeat_with_the_seed(tmp_path):
    build = write_loc_build(tmp_path / "b", [6])
    def windows(epoch, seed=0):
        s = LocStream(str(build), classes=LOC_CLASSES, shuffle=False, image_size=64, crop=32, seed=seed)
        s.set_epoch(epoch)
        return [x["image"] for x in s]
    a, b, c = windows(0), windows(0), windows(1)
    assert all(x.shape == (1, 32, 32) for x in a)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
