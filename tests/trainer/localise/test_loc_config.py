"""--task detect|segment: the model set per task, --crop and the options a localiser refuses."""

import pytest

from generator.errors import ConfigError
from trainer.config import TrainConfig


def _cfg(**kw):
    args = dict(data="d", out="o", task="detect", model="fasterrcnn_resnet18")
    args.update(kw)
    return TrainConfig(**args)


def test_localising_configs_validate():
    _cfg().validate()
    _cfg(model="retinanet_resnet34", crop=128, image_size=512).validate()
    _cfg(task="segment", model="unet_resnet18", image_size=256, crop=96).validate()
    _cfg(task="segment", model="unet_resnet18", image_size=256, crop=96, hard_negatives=0.5).validate()


@pytest.mark.parametrize("kw, option, allowed", [
    (dict(model="resnet18"), "--model", "fasterrcnn_resnet18"),
    (dict(task="segment", model="fasterrcnn_resnet18"), "--model", "unet_resnet18"),
    (dict(task="multiclass", model="unet_resnet18"), "--model", "resnet18"),
    (dict(task="boxes"), "--task", "detect"),
    (dict(crop=100, image_size=512), "--crop", "multiple of 32"),
    (dict(crop=640, image_size=512), "--crop", "32..--image-size (512)"),
    (dict(task="multiclass", model="resnet18", crop=64), "--crop", "detect, segment only"),
    (dict(task="segment", model="unet_resnet18", image_size=100), "--image-size", "multiple of 32"),
    (dict(mixup=0.2), "--mixup", "0"),
    (dict(hard_negatives=0.5), "--hard-negatives", "0 without --crop"),
    (dict(hard_negatives=1.5, crop=128, image_size=512), "--hard-negatives", "a share 0..1"),
    (dict(object_crops=-0.1, crop=128, image_size=512), "--object-crops", "a share 0..1"),
    (dict(balance="weights"), "--balance", "none"),
    (dict(decoder="dali"), "--decoder", "auto, cpu"),
])
def test_bad_options_name_the_option_and_the_allowed_set(kw, option, allowed):
    with pytest.raises(ConfigError) as info:
        _cfg(**kw).validate()
    text = str(info.value)
    assert option in text and allowed in text


def test_the_cli_takes_crop_and_lists_the_models(capsys):
    from radiopaque.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--crop" in out and "fasterrcnn_resnet18" in out and "unet_resnet50" in out
