import pytest
import torch

from trainer.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from trainer.config import TrainConfig
from trainer.models import build_model, head_prefix, load_init


@pytest.mark.parametrize("name", ["resnet18", "densenet121", "efficientnet_b0"])
def test_one_channel_input_and_head(name):
    model = build_model(name, 3).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 64, 64)).shape == (2, 3)


def test_unknown_model_names_allowed_set():
    with pytest.raises(ValueError, match="resnet18, resnet34"):
        build_model("vgg16", 2)


def _ckpt(tmp_path, classes):
    torch.manual_seed(0)
    model = build_model("resnet18", len(classes))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(2, 1, 32, 32)).sum().backward()
    opt.step()
    cfg = TrainConfig(data="d", out=str(tmp_path))
    path = tmp_path / "c.pt"
    save_checkpoint(path, model=model, optimizer=opt, scheduler=None, epoch=3, step=42, cfg=cfg, classes=classes,
                    metrics={"history": []}, best_metric=0.9)
    return model, opt, path


def test_checkpoint_round_trip(tmp_path):
    model, opt, path = _ckpt(tmp_path, ["none", "coin"])
    state = load_checkpoint(path)
    assert (state["epoch"], state["step"], state["classes"], state["best_metric"]) == (3, 42, ["none", "coin"], 0.9)
    assert TrainConfig.from_dict(state["config"]) == TrainConfig(data="d", out=str(tmp_path))
    restored = model_from_checkpoint(state)
    for (k, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert torch.equal(a, b), k
    opt2 = torch.optim.AdamW(restored.parameters(), lr=1e-3)
    opt2.load_state_dict(state["optimizer"])
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), restored.eval()(x))


def test_init_replaces_head_only_when_classes_differ(tmp_path):
    model, _, path = _ckpt(tmp_path, ["none", "coin", "bullet"])
    state = load_checkpoint(path)
    same = build_model("resnet18", 3)
    assert load_init(same, "resnet18", state, ["none", "coin", "bullet"]) is False
    assert torch.equal(same.fc.weight, model.fc.weight)

    torch.manual_seed(1)
    other = build_model("resnet18", 2)
    fresh_head = other.fc.weight.clone()
    assert load_init(other, "resnet18", state, ["none", "foreign_body"]) is True
    assert torch.equal(other.conv1.weight, model.conv1.weight)  # backbone loaded
    assert torch.equal(other.layer4[1].bn2.running_mean, model.layer4[1].bn2.running_mean)
    assert torch.equal(other.fc.weight, fresh_head)  # head kept fresh, new shape
    assert other.fc.weight.shape == (2, 512) and head_prefix("resnet18") == "fc."

    with pytest.raises(ValueError, match="resnet18"):
        load_init(build_model("resnet34", 3), "resnet34", state, ["none", "coin", "bullet"])
