"""--crop: windows holding an object are oversampled, the others drawn around bright structures
outside every object with --hard-negatives, draws come from the generator given, and a crop's
boxes are clipped and filtered."""

import numpy as np
import torch
from _loc_builds import LOC_CLASSES, write_loc_build

from trainer.localise.crops import bright_spots, choose_crop, crop_boxes, crop_sample
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


def _film_with_letter_and_coin():
    image = torch.full((1, 256, 256), 0.4)
    image[0, 40:52, 200:203] = 0.95  # a burnt-in letter stroke, far from every object
    image[0, 180:184, 30:34] = 0.7  # a fainter stud
    image[0, 100:110, 100:110] = 0.9  # the coin (object 1)
    inst = torch.zeros(256, 256, dtype=torch.uint8)
    inst[100:110, 100:110] = 1
    return image, inst


def test_bright_spots_find_structures_outside_objects_strongest_first():
    image, inst = _film_with_letter_and_coin()
    spots = bright_spots(image, inst)
    assert spots.dtype == np.int64 and spots.shape[1] == 2

    def on_letter(s):
        return 40 <= s[0] < 52 and 200 <= s[1] < 203

    def on_stud(s):
        return 180 <= s[0] < 184 and 30 <= s[1] < 34

    assert on_letter(spots[0]) and sum(map(on_stud, spots)) == 1  # the letter (contrast ~0.5) first
    assert all(on_letter(s) or on_stud(s) for s in spots) and len(spots) <= 3  # a 12 px stroke: its two ends
    assert len(bright_spots(torch.full((1, 64, 64), 0.4), torch.zeros(64, 64, dtype=torch.uint8))) == 0


def test_hard_negative_crops_are_drawn_around_bright_spots():
    image, inst = _film_with_letter_and_coin()
    item = {"image": image, "inst": inst, "boxes": torch.tensor([[100.0, 100, 110, 110]]),
            "labels": torch.tensor([0])}
    letter = (46, 201)

    def rate(hard_p):
        rng = np.random.default_rng(3)
        crops = [crop_sample(item, 64, rng, 0.0, hard_p) for _ in range(400)]
        return float(np.mean([(c["image"] > 0.9).any().item() and not c["inst"].any().item() for c in crops]))

    assert rate(0.0) < 0.15  # uniform 64 px windows of a 256 px film rarely hold the letter
    assert rate(1.0) >= 0.45  # one of the two spots, the letter half the time
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    boxes = item["boxes"].numpy()
    spots = np.array([letter])
    assert [choose_crop(256, 256, 64, boxes, rng_a, 0.7) for _ in range(50)] == \
        [choose_crop(256, 256, 64, boxes, rng_b, 0.7, spots, 0.0) for _ in range(50)]  # hard_p 0: the old draws


def test_object_crops_sets_the_share_of_windows_around_an_object(tmp_path):
    from trainer.config import TrainConfig
    from trainer.localise.task import LocTask

    build = write_loc_build(tmp_path / "b", [12], size=128)

    def held(object_crops):
        cfg = TrainConfig(data=str(build), out=str(tmp_path / "o"), task="segment", model="unet_resnet18",
                          image_size=128, crop=32, object_crops=object_crops).validate()
        data = LocTask(cfg, LOC_CLASSES).open_data(str(build), classes=LOC_CLASSES, subset="all", train=True,
                                                   cfg_seed=0, image_size=128, batch_size=1, loader_workers=0)
        with_objects = [x for epoch in range(8) for x in _epoch(data.dataset, epoch) if x["had_objects"]]
        return np.mean([len(x["boxes"]) > 0 for x in with_objects])

    assert held(1.0) == 1.0  # every window of a film with an object holds one
    assert held(0.0) < 0.5  # uniform windows of a 128 px film rarely do


def _epoch(stream, epoch):
    stream.set_epoch(epoch)
    return [{"boxes": x["boxes"], "had_objects": bool(len(x["inst_classes"]))} for x in stream]
