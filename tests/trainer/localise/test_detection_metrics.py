"""COCO mAP through torchmetrics on a case computed by hand."""

import pytest
import torch

from trainer.localise.detection_metrics import detection_map

NAMES = ["coin", "bullet", "blade"]


def _case():
    targets = [
        {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]]), "labels": torch.tensor([1, 2])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},  # an image without objects
    ]
    preds = [
        # coin exact (IoU 1); bullet covers half its box (IoU 200/400 = 0.5: a match at 0.5 only)
        {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 30]]), "scores": torch.tensor([0.9, 0.8]),
         "labels": torch.tensor([1, 2])},
        # a coin on the empty image, scored above the true coin
        {"boxes": torch.tensor([[50.0, 50, 60, 60]]), "scores": torch.tensor([0.95]), "labels": torch.tensor([1])},
    ]
    return preds, targets


@pytest.mark.parametrize("backend", ["faster_coco_eval", "pycocotools"])
def test_hand_computed_map(backend):
    preds, targets = _case()
    out = detection_map(preds, targets, NAMES, backend=backend)
    # coin: FP (0.95) then TP (0.9): precision 1/2 at recall 1, interpolated 0.5 everywhere, every IoU
    assert out["per_class"]["coin"] == pytest.approx({"ap": 0.5, "ap_50": 0.5})
    # bullet: a TP at IoU 0.5 only: AP 1 at 0.5, 0 at 0.55 ... 0.95 -> mean over 10 thresholds 0.1
    assert out["per_class"]["bullet"] == pytest.approx({"ap": 0.1, "ap_50": 1.0})
    assert out["per_class"]["blade"] == {"ap": None, "ap_50": None}  # no ground truth, no prediction
    assert out["map_50"] == pytest.approx(0.75)
    assert out["map"] == pytest.approx(0.3)


def test_segm_scores_masks():
    mask = torch.zeros(1, 16, 16, dtype=torch.bool)
    mask[0, 2:6, 2:6] = True
    half = mask.clone()
    half[0, 4:6] = False  # 8 of 16 pixels: IoU 0.5
    target = [{"boxes": torch.tensor([[2.0, 2, 6, 6]]), "labels": torch.tensor([1]), "masks": mask}]
    pred = [{"boxes": torch.tensor([[2.0, 2, 6, 6]]), "scores": torch.tensor([0.9]), "labels": torch.tensor([1]),
             "masks": half}]
    out = detection_map(pred, target, ["coin"], iou_type="segm")
    assert out["map_50"] == pytest.approx(1.0) and out["map"] == pytest.approx(0.1)


def test_zero_label_is_refused():
    preds, targets = _case()
    targets[0]["labels"] = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="1-based"):
        detection_map(preds, targets, NAMES)


def test_per_class_ap50_equals_cocoeval_restricted_to_the_class():
    import contextlib
    import io

    import numpy as np
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    g = torch.Generator().manual_seed(1)
    preds, targets, images, anns, dets = [], [], [], [], []
    for i in range(6):
        xy = torch.rand(3, 2, generator=g) * 80
        boxes = torch.cat([xy, xy + 8 + torch.rand(3, 2, generator=g) * 12], 1)
        labels = torch.randint(1, 4, (3,), generator=g)
        guess = (boxes + (torch.rand(3, 4, generator=g) - 0.5) * 6).clamp(min=0)
        guess[:, 2:] = torch.maximum(guess[:, 2:], guess[:, :2] + 1)
        scores = torch.rand(3, generator=g)
        targets.append({"boxes": boxes, "labels": labels})
        preds.append({"boxes": guess, "scores": scores, "labels": labels.roll(i % 2)})
        images.append({"id": i + 1, "height": 128, "width": 128})
        for b, lab in zip(boxes.tolist(), labels.tolist()):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": lab, "iscrowd": 0,
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1])})
        for b, s, lab in zip(guess.tolist(), scores.tolist(), labels.roll(i % 2).tolist()):
            dets.append({"image_id": i + 1, "category_id": lab, "score": s, "bbox": [b[0], b[1], b[2] - b[0],
                                                                                       b[3] - b[1]]})
    out = detection_map(preds, targets, NAMES)
    seen = []
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": k, "name": n} for k, n in
                                                                            enumerate(NAMES, start=1)]}
        gt.createIndex()
        dt = gt.loadRes(dets)
        for k, name in enumerate(NAMES, start=1):
            e = COCOeval(gt, dt, "bbox")
            e.params.catIds, e.params.iouThrs = [k], np.array([0.5])
            e.evaluate()
            e.accumulate()
            e.summarize()
            assert out["per_class"][name]["ap_50"] == pytest.approx(e.stats[0], abs=1e-6)
            seen.append(e.stats[0])
    assert any(0.05 < v < 0.95 for v in seen)  # a case where the ranking matters
