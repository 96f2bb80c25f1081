"""One Kornia transform for image, instance mask and boxes: they stay in agreement."""

import torch

from trainer.localise.joint_augment import JointAugment, JointAugmentConfig
from trainer.rng import forked_rng


def _scene(b=6, size=96):
    inst = torch.zeros(b, size, size, dtype=torch.uint8)
    boxes, labels = [], []
    g = torch.Generator().manual_seed(0)
    for i in range(b):
        rows = []
        for k in range(1 + i % 3):
            w, h = (int(v) for v in torch.randint(4, 20, (2,), generator=g))
            x0, y0 = (int(v) for v in torch.randint(10, size - 30, (2,), generator=g))
            inst[i, y0:y0 + h, x0:x0 + w] = k + 1
            rows.append([x0, y0, x0 + w, y0 + h])
        boxes.append(torch.tensor(rows, dtype=torch.float32))
        labels.append(torch.arange(len(rows)))
    image = (inst > 0).float()[:, None] * 0.8 + 0.1
    return image, inst, boxes, labels


def test_boxes_stay_within_a_pixel_of_the_mask_box():
    image, inst, boxes, labels = _scene()
    aug = JointAugment(JointAugmentConfig(hflip=True, vflip=True, p=1.0))
    checked = 0
    for seed in range(4):
        with forked_rng(seed, torch.device("cpu")):
            out, mask, new_boxes, new_labels = aug(image, inst, boxes, labels)
        assert out.shape == image.shape and mask.shape == inst.shape and mask.dtype == torch.uint8
        for i in range(len(boxes)):
            for box, lab in zip(new_boxes[i], new_labels[i]):
                ys, xs = torch.nonzero(mask[i] == lab + 1, as_tuple=True)
                if len(xs) == 0:
                    continue
                mask_box = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
                assert (box - mask_box).abs().max() <= 1.0, (box, mask_box)
                checked += 1
    assert checked > 20


def test_the_transform_moves_things():
    image, inst, boxes, labels = _scene()
    with forked_rng(1, torch.device("cpu")):
        _, mask, new_boxes, _ = JointAugment(JointAugmentConfig(p=1.0))(image, inst, boxes, labels)
    assert not torch.equal(mask, inst)
    assert any(len(a) != len(b) or not torch.allclose(a, b) for a, b in zip(new_boxes, boxes))


def test_a_box_pushed_out_of_the_image_is_dropped():
    image = torch.zeros(1, 1, 32, 32)
    inst = torch.zeros(1, 32, 32, dtype=torch.uint8)
    aug = JointAugment(JointAugmentConfig(p=0.0))  # identity geometry: the box stays, clipped
    _, _, boxes, labels = aug(image, inst, [torch.tensor([[-20.0, 5.0, 2.0, 10.0], [4.0, 4.0, 8.0, 8.0]])],
                              [torch.tensor([0, 1])])
    assert labels[0].tolist() == [1] and boxes[0].tolist() == [[4.0, 4.0, 8.0, 8.0]]
