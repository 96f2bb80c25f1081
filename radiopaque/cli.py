"""The `radiopaque` console command: one parser, each package registers its subcommands.

generate, preview, verify, realism, export (`generator.cli`); train, evaluate, experiment
(`trainer.cli`); bench (`benchmarks.cli`). This is the only module that imports all three,
so `generator` never imports `trainer` or `benchmarks`. Errors a user can act on end in one
line on stderr, never a traceback: a bad option exits 2, bad input or output trouble 1.
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
from generator.output.manifest import ManifestError
from generator.output.storage import StoreError
from generator.run.executor import ShardFailed
from trainer.cli import add_evaluate_parser, add_experiment_parser, add_train_parser
from trainer.labelled.errors import LabelError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="radiopaque", description=__doc__.split("\n\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (add_generate_parser, add_preview_parser, add_verify_parser, add_realism_parser, add_export_parser,
                add_train_parser, add_evaluate_parser, add_experiment_parser, add_bench_parser):
        add(sub)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"radiopaque {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (StoreError, ShardFailed, ManifestError, LabelError) as exc:
        # Output trouble (unwritable, out of space), a build that cannot be read, or a shard
        # that kept failing: one clear line; completed shards stay listed for a resume.
        # LabelError: a labelled file (COCO, object-CXR, YOLO) that cannot be used.
        print(f"radiopaque {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
