import torch

from trainer.augment import AugmentConfig, build_augment, mixup


def test_shape_range_and_no_flip_by_default():
    torch.manual_seed(0)
    aug = build_augment()
    x = torch.rand(4, 1, 32, 32)
    y = aug(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    names = [type(m).__name__ for m in aug.modules()]
    assert "RandomHorizontalFlip" not in names and "RandomVerticalFlip" not in names
    assert "RandomHorizontalFlip" in [type(m).__name__ for m in build_augment(AugmentConfig(hflip=True)).modules()]


def test_augmentation_replays_from_seed_and_changes_images():
    x = torch.rand(4, 1, 32, 32)
    torch.manual_seed(3)
    a = build_augment(AugmentConfig(p=1.0))(x)
    torch.manual_seed(3)
    b = build_augment(AugmentConfig(p=1.0))(x)
    assert torch.equal(a, b)
    assert not torch.allclose(a, x)


def test_mixup_is_a_convex_combination():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
    mixed, t_b, lam = mixup(x, torch.tensor([0, 1]), 0.4, g)
    assert 0 <= lam <= 1
    expected = lam * x + (1 - lam) * x[torch.tensor([0, 1]) if t_b.tolist() == [0, 1] else torch.tensor([1, 0])]
    assert torch.allclose(mixed, expected)
