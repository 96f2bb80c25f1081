"""torchvision detectors over a ResNet-FPN backbone, 1-channel input, no downloaded weights.

Models (`--model` for `--task detect`): `{fasterrcnn,retinanet,fcos}_resnet{18,34,50}`. Weights
come from scratch or from our own checkpoints (`load_matching`: a `radiopaque train`
classifier's ResNet becomes the backbone body; a detector checkpoint loads whole).

Small objects. At a 512 px build a chest film is ~0.84 mm per pixel: coins and batteries
are 12-36 px, bullets and shrapnel 3-20 px, a pin or needle 1-2 px wide and 20-60 px long.
The torchvision defaults (anchors 32-512 px from stride 4, Faster R-CNN; P3-P7, RetinaNet and
FCOS) would leave everything under ~24 px unmatched. So every model here uses the FPN levels
P2-P6 (strides 4, 8, 16, 32, 64: layers 1-4 of the ResNet plus max-pool) with anchors of 8, 16,
32, 64 and 128 px (RetinaNet: two scales per level, x1 and x1.5), aspect ratios 1:4 to 4:1 for
pins, needles and blades (FCOS is anchor-free; its per-level sizes are the same). Images are not
resized by the model (the loader sizes them; `--crop` keeps full resolution), BatchNorm is
trainable (FrozenBatchNorm only suits pretrained backbones) and low-score detections are kept
(score >= 0.01, up to 100 per image) so the FROC curve reaches 8 false positives per image.
Faster R-CNN keeps 500 proposals per image in training (300 at inference) and samples 128 of
them for the box head (torchvision: 2000 / 1000 and 512): a film holds 1-3 objects, and the
box head's fully connected layers on 512 regions per image were most of a CPU step.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from .names import DETECT_MODELS, backbone_of

log = logging.getLogger(__name__)

ANCHOR_SIZES = (8, 16, 32, 64, 128)  # px, one per FPN level P2-P6
ASPECT_RATIOS = (0.25, 0.5, 1.0, 2.0, 4.0)  # height / width
IMAGE_MEAN, IMAGE_STD = 0.5, 0.25  # of [0, 1] radiographs
SCORE_THRESH, DETECTIONS_PER_IMAGE = 0.01, 100


def build_detector(name: str, num_fg: int) -> nn.Module:
    """A randomly initialised detector for lists of (1, H, W) float images in [0, 1]; `num_fg`
    object classes (labels 1..num_fg, 0 = background)."""
    if name not in DETECT_MODELS:
        raise ValueError(f"detector must be one of {', '.join(DETECT_MODELS)}, got {name!r}")
    from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.models.detection.retinanet import RetinaNetHead
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    head = name.split("_", 1)[0]
    backbone = resnet_fpn_backbone(backbone_name=backbone_of(name), weights=None, norm_layer=nn.BatchNorm2d,
                                   trainable_layers=5, returned_layers=[1, 2, 3, 4])
    stem = backbone.body.conv1
    backbone.body.conv1 = nn.Conv2d(1, stem.out_channels, stem.kernel_size, stem.stride, stem.padding, bias=False)
    common = dict(min_size=64, max_size=4096, image_mean=[IMAGE_MEAN], image_std=[IMAGE_STD])
    num_classes = num_fg + 1
    if head == "fasterrcnn":
        anchors = AnchorGenerator(tuple((s,) for s in ANCHOR_SIZES), (ASPECT_RATIOS,) * len(ANCHOR_SIZES))
        model = FasterRCNN(backbone, num_classes, rpn_anchor_generator=anchors, box_score_thresh=SCORE_THRESH,
                           box_detections_per_img=DETECTIONS_PER_IMAGE, rpn_pre_nms_top_n_train=1000,
                           rpn_post_nms_top_n_train=500, rpn_pre_nms_top_n_test=1000, rpn_post_nms_top_n_test=300,
                           box_batch_size_per_image=128, **common)
    elif head == "retinanet":
        anchors = AnchorGenerator(tuple((s, int(s * 1.5)) for s in ANCHOR_SIZES), (ASPECT_RATIOS,) * len(ANCHOR_SIZES))
        model = RetinaNet(backbone, num_classes, anchor_generator=anchors,
                          head=RetinaNetHead(backbone.out_channels, anchors.num_anchors_per_location()[0], num_classes),
                          score_thresh=SCORE_THRESH, detections_per_img=DETECTIONS_PER_IMAGE, **common)
    else:
        anchors = AnchorGenerator(tuple((s,) for s in ANCHOR_SIZES), ((1.0,),) * len(ANCHOR_SIZES))
        model = FCOS(backbone, num_classes, anchor_generator=anchors, score_thresh=SCORE_THRESH,
                     detections_per_img=DETECTIONS_PER_IMAGE, **common)
    transform: GeneralizedRCNNTransform = model.transform
    transform.resize = lambda image, target=None: (image, target)  # no resizing inside the model
    return model


def detector_targets(boxes: list[torch.Tensor], labels: list[torch.Tensor], device) -> list[dict]:
    """torchvision targets: per image {"boxes": (N, 4) float32 xyxy, "labels": (N,) int64 1-based}."""
    return [{"boxes": b.to(device, torch.float32).reshape(-1, 4), "labels": lab.to(device, torch.int64) + 1}
            for b, lab in zip(boxes, labels)]


def detector_loss(model: nn.Module, images: torch.Tensor, boxes, labels) -> torch.Tensor:
    """Sum of the detector's losses on images (B, 1, H, W) with their boxes and 0-based labels."""
    losses = model(list(images), detector_targets(boxes, labels, images.device))
    return sum(losses.values())


@torch.no_grad()
def detect(model: nn.Module, images: torch.Tensor) -> list[dict]:
    """Detections on images (B, 1, H, W): per image boxes (N, 4) float32 xyxy in input pixels,
    scores (N,) float32, labels (N,) int64 0-based (fg index), on the CPU, by descending score."""
    model.eval()
    out = []
    for det in model(list(images)):
        order = torch.argsort(det["scores"], descending=True)
        out.append({"boxes": det["boxes"][order].float().cpu(), "scores": det["scores"][order].float().cpu(),
                    "labels": det["labels"][order].cpu() - 1})
    return out


def load_matching(model: nn.Module, checkpoint: dict, *, body_prefix: str, backbone: str) -> str:
    """`--init` for a localiser: load a checkpoint's weights where names and shapes match.

    `backbone`: the model's ResNet ("resnet18"); the checkpoint's must be the same.
    A classifier checkpoint (task multiclass/multilabel) of the same ResNet: its weights, head
    ("fc.") dropped, go under `body_prefix` ("backbone.body." for detectors, "encoder." for
    the U-Net); every backbone weight must be found. A localiser checkpoint of the same model
    loads whole; tensors whose shape differs (class heads when the classes differ) stay fresh.
    Returns a one-line description. Raises ValueError when the architectures do not fit."""
    cfg = checkpoint["config"]
    state = checkpoint["model"]
    own = model.state_dict()
    if backbone_of(str(cfg.get("model"))) != backbone:
        raise ValueError(f"--init checkpoint is a {cfg.get('model')}, which does not fit a {backbone} backbone")
    if cfg.get("task", "multiclass") in ("multiclass", "multilabel"):
        ours = body_prefix
        state = {body_prefix + k: v for k, v in state.items() if not k.startswith("fc.")}
    else:
        ours = ""
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing_body = [k for k in own if k.startswith(body_prefix) and k not in matched]
    if not matched or (ours and missing_body):
        raise ValueError(f"--init checkpoint ({cfg.get('model')}, task {cfg.get('task', 'multiclass')}) does not "
                         f"fit this model: {len(missing_body)} backbone weights missing, e.g. {missing_body[:3]}")
    model.load_state_dict(matched, strict=False)
    fresh = len(own) - len(matched)
    return f"{len(matched)} tensors loaded, {fresh} left as initialised"
