"""generator.names (what the CLI lists without importing torch) agrees with the code it names."""

import pytest

from generator import names
from generator.bodies import distractors
from generator.render import encode, randomise
from generator.render.styles import NONE_CLASS, STYLES
from generator.run import worker


def test_names_match_the_styles_and_encoders():
    assert names.STYLE_NAMES == tuple(sorted(STYLES))
    assert names.DEFAULT_STYLE in STYLES
    assert {name: s.cpu_batch_size for name, s in STYLES.items()} == names.CPU_BATCH_SIZES
    assert all(s.classes[0] == NONE_CLASS == names.NONE_CLASS for s in STYLES.values())
    assert encode.IMAGE_FORMATS == names.IMAGE_FORMATS
    assert worker.CUDA_BATCH_SIZE == names.CUDA_BATCH_SIZE
    assert distractors.MODES == names.DISTRACTOR_MODES and distractors.DEVICE_CLASS == names.DEVICE_CLASS
    assert randomise.LEVELS == names.RANDOMISE_LEVELS


def test_generate_help_states_the_batch_sizes_the_worker_uses(capsys):
    from radiopaque import cli

    with pytest.raises(SystemExit):
        cli.main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (f"(default: {worker.CUDA_BATCH_SIZE} on CUDA; on CPU "
            + ", ".join(f"{s.cpu_batch_size} {name}" for name, s in STYLES.items()) + ")") in text
