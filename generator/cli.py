"""The generator's subcommands of `radiopaque` (registered by `radiopaque.cli`): generate,
preview, verify and realism. Each `add_*_parser(sub)` adds one; its `cmd_*` runs it."""

from __future__ import annotations

import argparse

from generator.config import (
    ASSUMED_LONG_SIDE_MM,
    DEVICES,
    EXECUTORS,
    FORMAT_CHOICES,
    BuildConfig,
    RunConfig,
    SourceConfig,
)
from generator.errors import ConfigError
from generator.inputs.splits import DEFAULT_FRACTIONS, format_fractions, parse_fractions
from generator.names import CPU_BATCH_SIZES, CUDA_BATCH_SIZE, DEFAULT_STYLE, IMAGE_FORMATS, STYLE_NAMES

# Building these parsers imports nothing heavy (no torch, numpy, PIL, pyarrow, Ray): `radiopaque
# --help` and option errors answer at once. A command's modules are imported inside its cmd_*.


def _csv_list(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in _csv_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def add_generate_parser(sub) -> None:
    p = sub.add_parser("generate", help="build a sharded dataset of radiographs with synthetic foreign bodies")
    p.add_argument("--out", required=True, help="output folder or fsspec URL (s3://, gs://, memory://)")
    p.add_argument("--input", default=None,
                   help="folder (recursive), glob, CSV manifest or image file "
                        "(default: the built-in RG1 chest CR sample)")
    p.add_argument("--path-column", default=None, help="CSV column with image paths (default: Path, file, path...)")
    p.add_argument("--root", default=None, help="folder the CSV's paths are relative to (default: the CSV's folder)")
    p.add_argument("--spacing-columns", type=_csv_list, default=None,
                   help="CSV columns 'ROW,COL' with pixel spacing in mm "
                        "(default: SpacingY_mm,SpacingX_mm when present)")
    p.add_argument("--default-spacing-mm", type=float, default=None,
                   help="pixel spacing when neither file nor CSV gives one (default: the image's long side "
                        f"spans a {ASSUMED_LONG_SIDE_MM:.0f} mm chest detector)")
    p.add_argument("--group-column", default=None,
                   help="CSV column naming each film's patient, whose films --split keeps together "
                        "(default: the DICOM PatientID, an NIH PPPPPPPP_FFF.png name or a CheXpert "
                        "patientNNNNN folder, else each file alone)")
    p.add_argument("--rejects-with-paths", dest="reject_paths", action="store_true",
                   help="name rejected inputs in rejects.jsonl and dataset.json by their relative path, which may "
                        "carry patient numbers (default: by source id, a hash of that path)")
    p.add_argument("--split", default=None,
                   help="draw only from the films of this split, assigned by patient: one of the "
                        "--split-fractions names (default: none, every film)")
    p.add_argument("--split-fractions", default=format_fractions(DEFAULT_FRACTIONS),
                   help="NAME=FRACTION,... of the patient split, fractions summing to 1 "
                        f"(default: {format_fractions(DEFAULT_FRACTIONS)})")
    p.add_argument("--split-seed", type=int, default=0,
                   help="seed of the patient split, apart from --seed: keep it to keep the splits (default: 0)")
    p.add_argument("--count", type=int, default=512, help="number of samples (default: 512)")
    p.add_argument("--seed", type=int, default=0, help="build seed; sample i uses (seed, i) alone (default: 0)")
    p.add_argument("--size", type=int, default=512, help="long side of output images in pixels (default: 512)")
    p.add_argument("--style", default=DEFAULT_STYLE, help=f"{', '.join(STYLE_NAMES)} (default: {DEFAULT_STYLE})")
    p.add_argument("--classes", type=_csv_list, default=(),
                   help="comma-separated class mix (default: all of the style)")
    p.add_argument("--class-weights", type=_float_list, default=(),
                   help="one weight per class (default: the style's mix; physical: clothing and jewellery heaviest, "
                        "see generator/render/styles.py; legacy: equal)")
    # Choices spelled out here, checked by BuildConfig.validate: the parser imports nothing heavy.
    p.add_argument("--distractors", default="none",
                   help="none, negative (ECG leads, lines, sternal wires, clips, burnt-in markers and text drawn into "
                        "every film, never labelled) or class (the devices labelled medical_device) (default: none)")
    p.add_argument("--randomise", default="none",
                   help="whole-film domain randomisation of positives and negatives: none, light or strong (LUT/gamma, "
                        "window, enhancement, blur, noise, resolution, JPEG quality, collimation, markers; "
                        "default: none)")
    p.add_argument("--format", default="wds", help=f"{', '.join(FORMAT_CHOICES)} (default: wds)")
    p.add_argument("--shard-size", type=int, default=256, help="samples per shard (default: 256)")
    p.add_argument("--image-format", default="jpg", help=f"{', '.join(IMAGE_FORMATS)} (default: jpg, quality 95)")
    p.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality (default: 95)")
    p.add_argument("--executor", default="local", help=f"{', '.join(EXECUTORS)} (default: local)")
    p.add_argument("--workers", type=int, default=1, help="worker processes / Ray actors (default: 1)")
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default: start a local one)")
    p.add_argument("--device", default="auto", help=f"{', '.join(DEVICES)} (default: auto = cuda if present)")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"images rendered per batch (default: {CUDA_BATCH_SIZE} on CUDA; on CPU "
                        + ", ".join(f"{n} {style}" for style, n in CPU_BATCH_SIZES.items()) + ")")
    p.add_argument("--retries", type=int, default=2, help="retries of a failing shard (default: 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_generate)


def configs_from_args(args) -> tuple[BuildConfig, RunConfig]:
    if args.format not in FORMAT_CHOICES:
        raise ConfigError("--format", args.format, ", ".join(FORMAT_CHOICES))
    if args.spacing_columns is not None and len(args.spacing_columns) != 2:
        raise ConfigError("--spacing-columns", ",".join(args.spacing_columns), "two column names ROW,COL")
    if args.split is None:  # a split option without --split would be silently ignored
        if args.split_fractions != format_fractions(DEFAULT_FRACTIONS):
            raise ConfigError("--split-fractions", args.split_fractions, "used only with --split NAME")
        if args.split_seed != 0:
            raise ConfigError("--split-seed", args.split_seed, "used only with --split NAME")
    sources = SourceConfig(input=args.input, path_column=args.path_column, root=args.root,
                           spacing_columns=args.spacing_columns, default_spacing_mm=args.default_spacing_mm,
                           group_column=args.group_column, reject_paths=args.reject_paths)
    config = BuildConfig(count=args.count, seed=args.seed, size=args.size, style=args.style, classes=args.classes,
                         class_weights=args.class_weights, formats=FORMAT_CHOICES[args.format],
                         shard_size=args.shard_size, image_format=args.image_format,
                         jpeg_quality=args.jpeg_quality, sources=sources, split=args.split,
                         split_fractions=parse_fractions(args.split_fractions), split_seed=args.split_seed,
                         distractors=args.distractors, randomise=args.randomise)
    run = RunConfig(out=args.out, executor=args.executor, workers=args.workers, ray_address=args.ray_address,
                    device=args.device, batch_size=args.batch_size, retries=args.retries,
                    progress=not args.no_progress)
    run = run.validate()  # before the build config, whose class check imports torch
    return config.validate(), run


def cmd_generate(args) -> int:
    config, run = configs_from_args(args)  # option errors first: build imports torch
    from generator.run.build import build

    report = build(config, run)
    rejects = len(report.manifest.all_rejects())
    if rejects:
        print(f"{rejects} input(s) rejected: see {run.out.rstrip('/')}/rejects.jsonl")
    print(report.line())
    return 0 if report.manifest.totals.complete else 1


def add_preview_parser(sub) -> None:
    p = sub.add_parser("preview", help="contact sheet of a build with boxes and labels")
    p.add_argument("build", help="a build folder (with dataset.json)")
    p.add_argument("--n", type=int, default=16, help="number of samples (default: 16)")
    p.add_argument("--out", default=None, help="PNG to write (default: BUILD/preview.png)")
    p.add_argument("--per-class", action="store_true", help="one row per class instead of the first n samples")
    p.add_argument("--tile", type=int, default=256, help="tile size in pixels (default: 256)")
    p.add_argument("--no-boxes", dest="boxes", action="store_false",
                   help="draw no boxes, to look at small objects unmarked (default: boxes drawn)")
    p.add_argument("--crops", action="store_true",
                   help="tiles are crops at the build's own resolution around each sample's object, magnified by "
                        "--zoom with no smoothing, so structure is visible (default: whole images)")
    p.add_argument("--zoom", type=int, default=2, help="whole-pixel magnification of --crops (default: 2)")
    p.add_argument("--compare-legacy", action="store_true",
                   help="instead of reading BUILD, render the same sources and seeds with legacy and physical "
                        "side by side; BUILD is then the --input (folder, glob, CSV or image)")
    p.add_argument("--seed", type=int, default=0, help="seed for --compare-legacy (default: 0)")
    p.add_argument("--size", type=int, default=512, help="long side for --compare-legacy (default: 512)")
    p.set_defaults(func=cmd_preview)


def cmd_preview(args) -> int:
    from generator.tools.preview import write_preview

    if args.compare_legacy:
        from generator.tools.preview import write_comparison

        out = args.out or "compare.png"
        config = BuildConfig(count=args.n, seed=args.seed, size=args.size, sources=SourceConfig(input=args.build))
        n = write_comparison(config, out, n=args.n, tile_px=args.tile)
        print(f"legacy vs physical for {n} samples -> {out}")
        return 0
    out = args.out or f"{args.build.rstrip('/')}/preview.png"
    if args.zoom < 1:
        raise ConfigError("--zoom", args.zoom, "an integer >= 1")
    n = write_preview(args.build, out, n=args.n, per_class=args.per_class, tile_px=args.tile, boxes=args.boxes,
                      crops=args.crops, zoom=args.zoom)
    print(f"preview of {n} samples -> {out}")
    return 0


def add_realism_parser(sub) -> None:
    from generator.tools.realism_config import CROP_MM, DiscriminatorConfig

    d = DiscriminatorConfig()
    p = sub.add_parser("realism", help="real vs synthetic metal on cxr-nih: contrast, edge width and a "
                                       "discriminator's AUROC")
    p.add_argument("--data", default="../shared/data/cxr-nih",
                   help="folder of real chest PNGs with manifest_chexpert_style.csv (default: ../shared/data/cxr-nih)")
    p.add_argument("--n-images", type=int, default=60, help="films to use, in name order (default: 60)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the synthetic objects, the folds and the discriminator's training (default: 0)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"discriminator epochs per fold (default: {d.epochs})")
    p.add_argument("--folds", type=int, default=d.folds, help=f"patient-grouped folds (default: {d.folds})")
    p.add_argument("--repeats", type=int, default=d.repeats,
                   help=f"seeds seed, seed + 1, ... for the AUROC's spread (default: {d.repeats})")
    p.add_argument("--crop-mm", type=float, default=CROP_MM, help=f"side of every crop in mm (default: {CROP_MM:g})")
    p.add_argument("--json", default=None, help="also write the report as JSON to this file (default: none)")
    p.add_argument("--sheet", default=None, help="also draw the crops the discriminator compares (real metal, then "
                                                 "synthetic) into this PNG (default: none)")
    p.set_defaults(func=cmd_realism)


def cmd_realism(args) -> int:
    import json
    from pathlib import Path

    from generator.tools.realism import format_report, realism_report
    from generator.tools.realism_config import DiscriminatorConfig, RealismConfig

    folder = Path(args.data)
    if not folder.is_dir():
        raise ConfigError("--data", args.data, "an existing folder of chest PNGs")
    for option, value, least in (("--n-images", args.n_images, 1), ("--seed", args.seed, 0),
                                 ("--epochs", args.epochs, 1), ("--folds", args.folds, 2),
                                 ("--repeats", args.repeats, 1)):
        if value < least:
            raise ConfigError(option, value, f"an integer >= {least}")
    if not args.crop_mm > 0:
        raise ConfigError("--crop-mm", args.crop_mm, "a length in mm > 0")
    out = Path(args.json) if args.json else None
    if out is not None and not out.parent.exists():
        out.parent.mkdir(parents=True)
    if args.sheet and Path(args.sheet).suffix.lower() != ".png":
        raise ConfigError("--sheet", args.sheet, "a .png file name")
    config = RealismConfig(data=args.data, n_images=args.n_images, seed=args.seed, crop_mm=args.crop_mm,
                           discriminator=DiscriminatorConfig(epochs=args.epochs, folds=args.folds,
                                                             repeats=args.repeats))
    result = realism_report(config, sheet=args.sheet)
    print(format_report(result))
    if args.sheet:
        print(f"wrote {args.sheet}")
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
    return 0


def add_verify_parser(sub) -> None:
    p = sub.add_parser("verify", help="check every shard of a build against the sha256 in its manifest")
    p.add_argument("build", help="a build folder or URL")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args) -> int:
    from generator.output.verify import verify_build

    problems, checked = verify_build(args.build)
    for line in problems:
        print(line)
    print(f"{checked} shard file(s) checked, {len(problems)} problem(s)")
    return 1 if problems else 0


def add_export_parser(sub) -> None:
    p = sub.add_parser("export", help="write a build as COCO JSON or YOLO txt, for other detectors")
    p.add_argument("build", help="a build folder or URL (with dataset.json)")
    p.add_argument("out", help="a new or empty folder or fsspec URL to write")
    p.add_argument("--format", required=True, help="coco (annotations.json with RLE masks) or yolo (labels/*.txt)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from generator.tools.export import export_build

    report = export_build(args.build, args.out, fmt=args.format, progress=not args.no_progress)
    left = f", {report.skipped_objects} without a pixel left out" if report.skipped_objects else ""
    print(f"exported {report.images} images, {report.objects} objects{left} as {args.format} -> {report.out}")
    return 0
