"""A checkpoint is data: it loads without unpickling code, older ones included."""

import pytest
import torch

from trainer.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from trainer.config import TrainConfig
from trainer.errors import CheckpointError
from trainer.models import build_model


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def _save(tmp_path, **extra) -> dict:
    model = build_model("resnet18", 2)
    save_checkpoint(tmp_path / "c.pt", model=model, optimizer=None, scheduler=None, epoch=0, step=1,
                    cfg=TrainConfig(data="d", out=str(tmp_path)), classes=["none", "coin"], metrics={},
                    best_metric=None)
    state = torch.load(tmp_path / "c.pt", weights_only=False)
    state.update(extra)
    return state


def test_saved_checkpoint_holds_plain_values_only(tmp_path):
    state = _save(tmp_path)
    assert type(state["versions"]["torch"]) is str
    assert load_checkpoint(tmp_path / "c.pt")["classes"] == ["none", "coin"]


def test_a_checkpoint_holding_code_is_refused(tmp_path, capsys):
    torch.save(_save(tmp_path, metrics={"x": _Payload()}), tmp_path / "bad.pt")
    # Ray's tqdm_ray swaps builtins.print for its own safe_print once imported: a run that
    # imported Ray first pickles that one instead (refused all the same).
    refused = (r"bad.pt: .*refused to unpickle code.*"
               r"Unsupported global: GLOBAL (print|ray\.experimental\.tqdm_ray\.safe_print)")
    with pytest.raises(CheckpointError, match=refused):
        load_checkpoint(tmp_path / "bad.pt")
    assert "unpickled code ran" not in capsys.readouterr().out


def test_older_checkpoints_with_a_torch_version_object_still_load(tmp_path):
    state = _save(tmp_path, versions={"torch": torch.__version__})
    torch.save(state, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded["versions"]["torch"] == str(torch.__version__)
    before = torch.random.get_rng_state()
    model = model_from_checkpoint(loaded)
    assert torch.equal(torch.random.get_rng_state(), before)  # its init draws stay off the global RNG
    assert torch.equal(model.state_dict()["fc.weight"], state["model"]["fc.weight"])
