"""Typed, frozen configuration of a build, validated once at the edge.

`BuildConfig` is the identity of a dataset: with the sources it determines every output
byte, and it is written into the manifest. `RunConfig` says how to execute a build
(executor, workers, device); it never changes the output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from generator.errors import ConfigError, check_out_folder
from generator.inputs.plausible import SPACING_RANGE, spacing_problem
from generator.inputs.splits import DEFAULT_FRACTIONS, check_fractions
from generator.names import (
    DEFAULT_STYLE,
    DISTRACTOR_MODES,
    IMAGE_FORMATS,
    NONE_CLASS,
    RANDOMISE_LEVELS,
    STYLE_NAMES,
    label_classes_of,
)

SHARD_FORMATS = ("wds", "parquet")
FORMAT_CHOICES = {"wds": ("wds",), "parquet": ("parquet",), "both": ("wds", "parquet")}
EXECUTORS = ("local", "ray")
DEVICES = ("auto", "cpu", "cuda")
# When neither the file nor the manifest gives a spacing, the image is assumed to span a
# 14 x 17 inch (356 x 432 mm) chest detector along its long side: right for full-size films
# and for downscaled copies alike (CheXpert-small, NIH PNGs), unlike a fixed pixel pitch.
ASSUMED_LONG_SIDE_MM = 432.0
MIN_SIZE_PX, MAX_SIZE_PX = 32, 8192


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """Where the input radiographs come from.

    input: a folder (recursive), a glob, a CSV manifest, or None for the built-in sample.
    """

    input: str | None = None
    path_column: str | None = None  # CSV column holding image paths (auto: Path, file, path)
    root: str | None = None  # CSV paths are relative to this (default: the CSV's folder)
    spacing_columns: tuple[str, str] | None = None  # CSV (row, col) spacing columns in mm
    default_spacing_mm: float | None = None  # None: the long side spans ASSUMED_LONG_SIDE_MM
    group_column: str | None = None  # CSV column naming each film's patient (see inputs/groups.py)
    # Rejects name inputs by source id (a hash of the relative path) unless this asks for the
    # path itself: NIH names (PPPPPPPP_FFF.png) and folder names carry patient numbers.
    reject_paths: bool = False

    def validate(self) -> SourceConfig:
        if self.default_spacing_mm is not None and spacing_problem((self.default_spacing_mm,) * 2, "spacing"):
            raise ConfigError("--default-spacing-mm", self.default_spacing_mm,
                              f"a pixel spacing of {SPACING_RANGE} (generator/inputs/plausible.py)")
        return self

    def assumed_spacing_mm(self, height: int, width: int) -> tuple[float, float]:
        """(row, col) spacing of an image whose file and manifest say nothing."""
        mm = self.default_spacing_mm or ASSUMED_LONG_SIDE_MM / max(height, width)
        return (mm, mm)


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    count: int
    seed: int
    size: int = 512  # long side of every output image in pixels, aspect kept
    style: str = DEFAULT_STYLE
    classes: tuple[str, ...] = ()  # empty: every class of the style
    class_weights: tuple[float, ...] = ()  # empty: equal
    formats: tuple[str, ...] = ("wds",)
    shard_size: int = 256
    image_format: str = "jpg"
    jpeg_quality: int = 95
    sources: SourceConfig = field(default_factory=SourceConfig)
    split: str | None = None  # draw only from the films of this split (by patient); None: every film
    split_fractions: tuple[tuple[str, float], ...] = DEFAULT_FRACTIONS
    split_seed: int = 0
    # Support devices and burnt-in markers drawn into every film (generator.bodies.distractors):
    # "none", "negative" (never labelled) or "class" (devices labelled `medical_device`).
    distractors: str = "none"
    # Whole-film domain randomisation (generator.render.randomise): "none", "light", "strong".
    randomise: str = "none"

    def validate(self) -> BuildConfig:
        """Check every field; return a copy with defaults resolved. Raises ConfigError."""
        if self.count < 1:
            raise ConfigError("--count", self.count, "an integer >= 1")
        if self.seed < 0:
            raise ConfigError("--seed", self.seed, "an integer >= 0")
        if not MIN_SIZE_PX <= self.size <= MAX_SIZE_PX:
            raise ConfigError("--size", self.size, f"{MIN_SIZE_PX}..{MAX_SIZE_PX} pixels")
        if self.style not in STYLE_NAMES:
            raise ConfigError("--style", self.style, ", ".join(STYLE_NAMES))
        if not self.formats or any(f not in SHARD_FORMATS for f in self.formats):
            raise ConfigError("--format", self.formats, "wds, parquet or both")
        if self.shard_size < 1:
            raise ConfigError("--shard-size", self.shard_size, "an integer >= 1")
        if self.image_format not in IMAGE_FORMATS:
            raise ConfigError("--image-format", self.image_format, ", ".join(IMAGE_FORMATS))
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError("--jpeg-quality", self.jpeg_quality, "1..100")
        fractions = check_fractions(self.split_fractions)
        names = [name for name, _ in fractions]
        if self.split is not None and self.split not in names:
            raise ConfigError("--split", self.split, f"one of the --split-fractions names: {', '.join(names)}")
        if self.split_seed < 0:
            raise ConfigError("--split-seed", self.split_seed, "an integer >= 0")
        if self.distractors not in DISTRACTOR_MODES:
            raise ConfigError("--distractors", self.distractors, ", ".join(DISTRACTOR_MODES))
        if self.distractors != "none" and self.style == "legacy":
            # legacy paints flat white shapes; devices are attenuating solids
            raise ConfigError("--distractors", self.distractors, "none with --style legacy (physical only)")
        if self.randomise not in RANDOMISE_LEVELS:
            raise ConfigError("--randomise", self.randomise, ", ".join(RANDOMISE_LEVELS))
        # Last: the class list is the style's, and importing the style imports torch; every other
        # option error has been answered at once.
        from generator.render.styles import get_style  # torch: after the options are parsed

        style = get_style(self.style)
        allowed = style.classes
        classes = self.classes or allowed
        unknown = [c for c in classes if c not in allowed]
        if unknown:
            raise ConfigError("--classes", ",".join(unknown), f"{', '.join(allowed)} (style {self.style})")
        if len(set(classes)) != len(classes):
            raise ConfigError("--classes", ",".join(classes), "each class at most once")
        weights = self.class_weights or tuple(style.default_weights.get(c, 1.0) for c in classes)
        if len(weights) != len(classes):
            raise ConfigError("--class-weights", weights, f"{len(classes)} numbers, one per class {classes}")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError("--class-weights", weights, "non-negative numbers with a positive sum")
        total = float(sum(weights))
        return BuildConfig(
            **{
                **self.__dict__,
                "classes": tuple(classes),
                "class_weights": tuple(float(w) / total for w in weights),
                "sources": self.sources.validate(),
                "split_fractions": fractions,
            }
        )

    @property
    def num_shards(self) -> int:
        return -(-self.count // self.shard_size)

    def shard_range(self, shard: int) -> range:
        """Global sample indices in shard `shard`."""
        return range(shard * self.shard_size, min((shard + 1) * self.shard_size, self.count))

    @property
    def label_classes(self) -> tuple[str, ...]:
        """The classes of `labels` (and of the manifest): the drawn classes, plus
        `medical_device` with `--distractors class` (a label of distractors, never drawn as
        a sample's class)."""
        return label_classes_of(self.classes, self.distractors)

    @property
    def positive_classes(self) -> tuple[str, ...]:
        return tuple(c for c in self.classes if c != NONE_CLASS)

    def to_dict(self) -> dict:
        """The config as written into dataset.json. Options left unset that did not exist
        before patient splits (or before distractors and randomisation) are left out, so
        such a build keeps the config (and the resume identity) it always had."""
        out = asdict(self)
        if self.split is None:
            for name in ("split", "split_fractions", "split_seed"):
                del out[name]
        if self.sources.group_column is None:
            del out["sources"]["group_column"]
        if not self.sources.reject_paths:
            del out["sources"]["reject_paths"]
        for name in ("distractors", "randomise"):
            if out[name] == "none":
                del out[name]
        return out


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """How a build is executed. Never changes the output bytes."""

    out: str
    executor: str = "local"
    workers: int = 1
    ray_address: str | None = None
    device: str = "auto"
    batch_size: int | None = None  # images per render batch; None: 64 on CUDA, the style's `cpu_batch_size` on CPU
    retries: int = 2
    progress: bool = True

    def validate(self) -> RunConfig:
        check_out_folder(self.out)
        if self.executor not in EXECUTORS:
            raise ConfigError("--executor", self.executor, ", ".join(EXECUTORS))
        if self.workers < 1:
            raise ConfigError("--workers", self.workers, "an integer >= 1")
        if self.device not in DEVICES:
            raise ConfigError("--device", self.device, ", ".join(DEVICES))
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError("--batch-size", self.batch_size, "an integer >= 1")
        if self.retries < 0:
            raise ConfigError("--retries", self.retries, "an integer >= 0")
        return self
