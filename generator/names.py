"""What the command line offers, in a module that imports nothing.

`radiopaque --help` and every option error must answer without importing torch, so the
names a parser lists and the defaults its help states live here; the modules that implement
them (`render.styles`, `render.encode`, `run.worker`) take them from here, and
`tests/generator/test_names.py` checks that the two sides agree.
"""

NONE_CLASS = "none"
"""The class of a sample without a foreign body; index 0 of every style's class list."""

STYLE_NAMES = ("legacy", "physical")
"""The styles of `render.styles.STYLES`, sorted."""

DEFAULT_STYLE = "physical"

IMAGE_FORMATS = ("jpg", "png", "png16")
"""`--image-format` values: 8-bit JPEG, 8-bit PNG, 16-bit PNG."""

CUDA_BATCH_SIZE = 64
"""Images per render batch on CUDA when --batch-size is not given."""

CPU_BATCH_SIZES = {"legacy": 16, "physical": 64}
"""Images per render batch on CPU per style (chosen by `radiopaque bench generate`): physical
runs a few hundred small operations per shape kind and batch, which wide batches amortise;
legacy's whole-image passes stay in cache at small batches."""

DISTRACTOR_MODES = ("none", "negative", "class")
"""`--distractors` values (`bodies.distractors`): none; support devices, implants and burnt-in
markers in every film, never labelled; the same with the devices labelled `DEVICE_CLASS`."""

DEVICE_CLASS = "medical_device"
"""The label class of support devices and implants with `--distractors class`."""


def label_classes_of(classes, distractors: str) -> tuple[str, ...]:
    """The classes of a build's `labels` and manifest: the drawn `classes`, plus `DEVICE_CLASS`
    last with `--distractors class` (a label of distractors, never drawn as a sample's class)."""
    return (*classes, DEVICE_CLASS) if distractors == "class" else tuple(classes)


RANDOMISE_LEVELS = ("none", "light", "strong")
"""`--randomise` values (`render.randomise`): whole-film domain randomisation strength."""
