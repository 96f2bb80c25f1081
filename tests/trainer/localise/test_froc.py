"""FROC by the object-CXR rule on small cases computed by hand."""

import math

import pytest
import torch

from trainer.localise.froc import froc, widen


def _pts(*rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 3)


def _boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def test_hand_computed_eight_images():
    # 8 images (one false positive = 0.125 per image); 3 objects on images 0 and 1, 2-7 empty.
    boxes = [_boxes([10, 10, 50, 30], [60, 60, 70, 70]), _boxes([0, 0, 20, 20])] + [_boxes()] * 6
    points = [
        # (12, 28) is inside A but 19.7 px from its centre (30, 20), beyond its half-height:
        # a hit by the inside-the-box rule. (30, 20) then lies in the already hit A: neither.
        _pts([0.95, 12, 28], [0.9, 30, 20], [0.5, 65, 65]),
        _pts([0.6, 10, 10]),
        _pts([0.8, 5, 5]), _pts([0.7, 5, 5]), _pts([0.4, 1, 1]), _pts([0.3, 1, 1]), _pts([0.2, 1, 1]),
        _pts([0.1, 1, 1]),
    ]
    out = froc(points, boxes)
    # by score: hit (1/3), neither, FP -> 0.125 at 1/3, FP -> 0.25 at 1/3, hit, hit (3/3), FP (0.375),
    # FP -> 0.5 at 1, FP, FP: 6 FP = 0.75 per image, so 1, 2, 4 and 8 take the last value, 1.
    want = {"0.125": 1 / 3, "0.25": 1 / 3, "0.5": 1.0, "1": 1.0, "2": 1.0, "4": 1.0, "8": 1.0}
    assert out["sensitivity"] == pytest.approx(want)
    assert out["mean"] == pytest.approx(17 / 21)
    assert out["objects"] == 3 and out["images"] == 8 and out["points"] == 10
    # the point inside an already hit box is no false positive: 6, not 7, in all
    assert out["curve"]["fps"][-1] == pytest.approx(6 / 8)
    assert out["curve"]["sensitivity"][:3] == pytest.approx([0, 1 / 3, 1 / 3])
    assert len(out["curve"]["fps"]) == 11  # one entry per point, after (0, 0)
    # the score of the point after which each operating point was recorded; padded ones None
    assert out["thresholds"] == pytest.approx({"0.125": 0.8, "0.25": 0.7, "0.5": 0.3, "1": None, "2": None,
                                               "4": None, "8": None})


def test_image_without_objects_gives_only_false_positives():
    boxes = [_boxes([0, 0, 10, 10]), _boxes()]
    # the empty image's point lies at (5, 5), inside image 0's box: still a false positive
    points = [_pts([0.5, 5, 5]), _pts([0.9, 5, 5])]
    out = froc(points, boxes, fps=(0.5, 1))
    # FP first: 0.5 per image reached at sensitivity 0; the hit comes next, then 1 is never reached
    assert out["sensitivity"] == {"0.5": 0.0, "1": 0.0}
    assert out["curve"]["sensitivity"] == [0.0, 0.0, 1.0]


def test_one_false_positive_passing_two_operating_points_records_the_second_after_the_next_point():
    # the official script checks one operating point per predicted point
    boxes = [_boxes([0, 0, 10, 10]), _boxes()]
    points = [_pts([0.8, 5, 5]), _pts([0.9, 50, 50])]
    out = froc(points, boxes, fps=(0.125, 0.25, 0.5, 1))
    assert out["sensitivity"] == {"0.125": 0.0, "0.25": 1.0, "0.5": 1.0, "1": 1.0}


def test_edges_are_inside_and_one_point_hits_overlapping_objects():
    boxes = [_boxes([0, 0, 10, 10], [10, 10, 20, 20])]
    out = froc([_pts([0.9, 10, 10])], boxes, fps=(1,))
    assert out["sensitivity"] == {"1": 1.0}  # no false positive: the value after every point


def test_masks_score_inside_the_shape_not_its_box():
    mask = torch.zeros(1, 20, 20, dtype=torch.bool)
    mask[0, 8:12, 8:12] = True
    boxes = [_boxes([0, 0, 20, 20])]
    points = [_pts([0.9, 1, 1], [0.8, 9.5, 10.2])]
    by_box = froc(points, boxes, fps=(1,))
    by_mask = froc(points, boxes, fps=(1,), masks_per_image=[mask])
    assert by_box["curve"]["fps"][-1] == 0 and by_box["curve"]["sensitivity"][1] == 1.0
    assert by_mask["curve"]["fps"] == [0.0, 1.0, 1.0]  # (1, 1) is off the mask: a false positive
    assert by_mask["sensitivity"] == {"1": 0.0}


def test_no_points_and_no_objects():
    out = froc([_pts(), _pts()], [_boxes([0, 0, 4, 4]), _boxes()])
    assert out["mean"] == 0.0 and set(out["sensitivity"].values()) == {0.0}
    assert math.isnan(froc([_pts([0.5, 1, 1])], [_boxes()])["mean"])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(K, 3\)"):
        froc([torch.zeros(2, 2)], [_boxes()])
    with pytest.raises(ValueError, match="points for 1 images, boxes for 2"):
        froc([_pts()], [_boxes(), _boxes()])


def test_points_from_boxes_are_centres():
    from trainer.localise.froc import points_from_boxes

    out = points_from_boxes(torch.tensor([[0.0, 0, 10, 20]]), torch.tensor([0.7]))
    assert out.tolist() == [[pytest.approx(0.7), 5.0, 10.0]]


def test_an_object_cxr_submission_scored_inside_the_ellipse(tmp_path):
    import numpy as np
    from PIL import Image

    from trainer.labelled.read import read_labelled
    from trainer.localise.froc import froc_of_labelled
    from trainer.localise.report import read_localisation_csv, write_localisation_csv

    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((40, 40), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "gt.csv").write_text("image_path,annotation\na.png,1 0 0 40 40\nb.png,\n")
    # (2, 2) lies in the ellipse's box but outside the ellipse; (20, 20) is its centre
    write_localisation_csv(tmp_path / "pred.csv", ["a.png"], [_pts([0.9, 2, 2], [0.8, 20, 20])])
    gt = read_labelled(str(tmp_path / "gt.csv"))
    points = read_localisation_csv(tmp_path / "pred.csv")
    by_shape = froc_of_labelled(points, gt.images, fps=(0.5,))
    by_box = froc_of_labelled(points, gt.images, fps=(0.5,), inside_shapes=False)
    assert by_shape["sensitivity"] == {"0.5": 0.0} and by_shape["curve"]["fps"] == [0.0, 0.5, 0.5]
    assert by_box["sensitivity"] == {"0.5": 1.0} and by_box["curve"]["fps"][-1] == 0.0
    with pytest.raises(ValueError, match="not in the labelled set"):
        froc_of_labelled({"c.png": _pts()}, gt.images)


def test_small_boxes_are_widened_to_min_side_about_their_centre():
    pellet, coin = [10, 10, 12, 12], [30, 30, 50, 50]  # a 2 px pellet, a 20 px coin
    beside = _pts([0.9, 14.5, 11], [0.8, 40, 40])  # 3.5 px from the pellet's centre; inside the coin
    far = _pts([0.9, 17, 11], [0.8, 52, 40])  # 6 px from the pellet; 2 px right of the coin
    strict = froc([beside], [_boxes(pellet, coin)], fps=(1,))
    assert strict["curve"]["sensitivity"] == [0.0, 0.0, 0.5] and strict["curve"]["fps"][-1] == 1.0
    assert strict["min_side"] == 0.0
    widened = froc([beside], [_boxes(pellet, coin)], fps=(1,), min_side=9)
    assert widened["curve"]["sensitivity"] == [0.0, 0.5, 1.0] and widened["curve"]["fps"][-1] == 0.0
    missed = froc([far], [_boxes(pellet, coin)], fps=(1,), min_side=9)
    assert missed["curve"]["sensitivity"][-1] == 0.0 and missed["curve"]["fps"][-1] == 2.0  # big boxes unchanged
    assert widen(_boxes(pellet, coin).double(), 9).tolist() == [[6.5, 6.5, 15.5, 15.5], [30, 30, 50, 50]]
    with pytest.raises(ValueError, match="min_side must be >= 0"):
        froc([beside], [_boxes(pellet)], min_side=-1)
