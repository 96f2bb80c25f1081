"""evaluate for a localiser on labelled real-data formats: a COCO export of a build scores the
same objects as the build itself; an object-CXR CSV (one class the model lacks) is scored
class-agnostically."""

import json

import pytest
from _loc_builds import write_loc_build

from generator.tools.export import export_build
from trainer.config import EvalConfig, TrainConfig
from trainer.distributed import train
from trainer.evaluate import evaluate_checkpoint
from trainer.localise.task import BUILD_MIN_BOX_PX


@pytest.mark.slow
def test_detector_scores_coco_and_object_cxr(tmp_path):
    build = write_loc_build(tmp_path / "build", [6])
    ckpt = train(TrainConfig(data=str(build), out=str(tmp_path / "run"), task="detect", model="fasterrcnn_resnet18",
                             image_size=64, batch_size=3, max_steps=1, val_fraction=0.0, loader_workers=0,
                             progress=False)).checkpoint

    def evaluate(data, name, **kw):
        return evaluate_checkpoint(EvalConfig(checkpoint=ckpt, data=str(data), out=str(tmp_path / name),
                                              loader_workers=0, progress=False, top_losses=2, **kw))

    on_build = evaluate(build, "e-build")
    export_build(str(build), str(tmp_path / "coco"), fmt="coco", progress=False)
    # a build's small boxes are widened by default (froc's "Small objects"), a labelled set's only on request
    on_coco = evaluate(tmp_path / "coco" / "annotations.json", "e-coco", min_box_px=BUILD_MIN_BOX_PX)
    assert on_build["froc"]["min_box_px"] == on_coco["froc"]["min_box_px"] == BUILD_MIN_BOX_PX
    assert on_coco["class_agnostic"] is False
    assert on_coco["froc"]["objects"] == on_build["froc"]["objects"] == 6
    assert on_coco["froc"]["sensitivity"] == on_build["froc"]["sensitivity"]
    assert on_coco["image_level"]["auroc_any"] == on_build["image_level"]["auroc_any"]
    objects = (tmp_path / "e-build" / "objects.csv").read_text().splitlines()
    assert objects[0].startswith("image_path,class,x1,y1,x2,y2,best_score,found_at_90%") and len(objects) == 1 + 6

    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    rows = ["image_path,annotation"]
    for image in doc["images"]:
        boxes = [a["bbox"] for a in doc["annotations"] if a["image_id"] == image["id"]]
        rows.append(f"{image['file_name']}," + ";".join(f"0 {x} {y} {x + w} {y + h}" for x, y, w, h in boxes))
    (tmp_path / "coco" / "dev.csv").write_text("\n".join(rows) + "\n")
    on_csv = evaluate(tmp_path / "coco" / "dev.csv", "e-csv")
    assert on_csv["class_agnostic"] is True and on_csv["froc"]["min_box_px"] == 0  # the challenge's rule
    assert on_csv["froc"]["objects"] == 6 and set(on_csv["map"]["per_class"]) == {"object"}
    assert (tmp_path / "e-csv" / "localization.csv").read_text().startswith("image_path,prediction")


@pytest.mark.slow
def test_segmenter_fine_tunes_on_a_coco_file(tmp_path):
    build = write_loc_build(tmp_path / "build", [6])
    common = dict(task="segment", model="unet_resnet18", image_size=128, crop=64, batch_size=3, max_steps=1,
                  val_fraction=0.0, loader_workers=0, progress=False)
    synthetic = train(TrainConfig(data=str(build), out=str(tmp_path / "syn"), **common)).checkpoint
    export_build(str(build), str(tmp_path / "coco"), fmt="coco", progress=False)
    tuned = train(TrainConfig(data=str(tmp_path / "coco" / "annotations.json"), out=str(tmp_path / "ft"),
                              init=synthetic, **common))
    from trainer.checkpoint import load_checkpoint

    state = load_checkpoint(tuned.checkpoint)
    assert state["classes"] == ["none", "coin", "pin_needle"] and state["step"] == 1
    assert tuned.history[0]["images"] == 3
