import argparse

import pytest

from generator.errors import ConfigError
from trainer.cli import add_evaluate_parser, add_experiment_parser, add_train_parser
from trainer.config import EvalConfig, TrainConfig


def _parser():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_train_parser(sub)
    add_evaluate_parser(sub)
    add_experiment_parser(sub)
    return parser, sub


@pytest.mark.parametrize("change, option, allowed", [
    ({"model": "vgg"}, "--model", "resnet18"),
    ({"task": "regression"}, "--task", "multilabel, detect, segment"),
    ({"balance": "oversample"}, "--balance", "sampler"),
    ({"executor": "slurm"}, "--executor", "ray"),
    ({"device": "tpu"}, "--device", "cuda"),
    ({"decoder": "nvjpeg"}, "--decoder", "auto, cpu, gpu, dali"),
    ({"epochs": 0}, "--epochs", ">= 1"),
    ({"image_size": 8}, "--image-size", "32..4096"),
    ({"val_fraction": 1.0}, "--val-fraction", "0 <= f < 1"),
    ({"workers": 2}, "--workers", "--executor ray"),
])
def test_invalid_values_name_the_option_and_allowed_set(change, option, allowed):
    with pytest.raises(ConfigError) as err:
        TrainConfig(data="d", out="o", **change).validate()
    assert option in str(err.value) and allowed in str(err.value)


def test_configs_are_frozen_and_eval_validates():
    cfg = TrainConfig(data="d", out="o").validate()
    with pytest.raises(AttributeError):
        cfg.epochs = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="--top-losses"):
        EvalConfig(checkpoint="c", data="d", out="o", top_losses=-1).validate()
    with pytest.raises(ConfigError, match=r"--min-box-px.*0\.\.64 model pixels"):
        EvalConfig(checkpoint="c", data="d", out="o", min_box_px=-2).validate()


def test_every_flag_states_its_default_and_is_kebab_case():
    parser, sub = _parser()
    for name, p in sub.choices.items():
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert "default" in action.help or "required" in action.help, (name, action.dest)
            for opt in action.option_strings:
                assert "_" not in opt, opt


def test_parsed_flags_map_onto_train_config():
    parser, _ = _parser()
    args = parser.parse_args(["train", "--data", "b", "--out", "r", "--model", "resnet34", "--max-steps", "5",
                              "--hflip", "--no-augment", "--val-fraction", "0.2"])
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__})
    assert (cfg.model, cfg.max_steps, cfg.hflip, cfg.augment, cfg.val_fraction) == ("resnet34", 5, True, False, 0.2)
    assert cfg.validate() is cfg
