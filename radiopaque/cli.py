"""The `radiopaque` console command: one parser, each package registers its subcommands.

generate, preview, verify, realism, export (`generator.cli`); train, evaluate, experiment
(`trainer.cli`); bench (`benchmarks.cli`). This is the only module that imports all three,
so `generator` never imports `trainer` or `benchmarks`. Errors a user can act on end in one
line on stderr, never a traceback: a bad option exits 2 (argparse's own errors too), bad
input or output trouble 1.

Each subcommand is an `add_*_parser(sub)` that builds its parser without importing anything
heavy (torch, numpy, PIL, pyarrow, Ray, Kornia, DALI...) and sets `func`, which imports what
the command needs when it runs: `radiopaque --help` and option errors answer at once
(`tests/test_cli_startup.py` checks that torch stays out). A new subcommand adds its
`add_*_parser` to `SUBCOMMANDS` below.
"""

from __future__ import annotations

import argparse
import logging
import sys

from benchmarks.cli import add_bench_parser
from generator.cli import (
    add_export_parser,
    add_generate_parser,
    add_preview_parser,
    add_realism_parser,
    add_verify_parser,
)
from generator.errors import ConfigError
from trainer.cli import add_evaluate_parser, add_experiment_parser, add_train_parser

SUBCOMMANDS = (add_generate_parser, add_preview_parser, add_verify_parser, add_realism_parser, add_export_parser,
               add_train_parser, add_evaluate_parser, add_experiment_parser, add_bench_parser)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="radiopaque", description=__doc__.split("\n\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return p


def _runtime_errors() -> tuple[type[Exception], ...]:
    """Output trouble (unwritable, out of space), a build that cannot be read, or a shard that
    kept failing; a checkpoint that is not data, a malformed shard, a labelled file (COCO,
    object-CXR, YOLO) that cannot be used. Imported when a command has failed, not before it
    runs: the modules that define them pull in fsspec and the executor's imports."""
    from generator.errors import ShardError
    from generator.output.manifest import ManifestError
    from generator.output.storage import StoreError
    from generator.run.executor import ShardFailed
    from trainer.errors import CheckpointError
    from trainer.labelled.errors import LabelError

    return StoreError, ShardFailed, ManifestError, CheckpointError, ShardError, LabelError


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"radiopaque {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not isinstance(exc, _runtime_errors()):
            raise
        # One clear line; completed shards stay listed for a resume.
        print(f"radiopaque {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
