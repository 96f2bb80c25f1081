"""`radiopaque bench SUITE [--quick] [--json PATH] [--device ...]`."""

from __future__ import annotations

import importlib

from generator.errors import ConfigError

SUITES = ("generate", "decode", "train", "kernels")
DEVICES = ("auto", "cpu", "cuda")
TASKS = ("classify", "detect")


def add_bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="throughput benchmarks, each beside the prototype's baseline")
    p.add_argument("suite", help=f"{', '.join(SUITES)}")
    p.add_argument("--quick", action="store_true", help="small configuration, under 5 minutes on 2 CPU cores "
                                                        "(default: off, the full run)")
    p.add_argument("--json", default=None, help="write figures, baseline, ratios and environment here (default: none)")
    p.add_argument("--device", default="auto", help=f"{', '.join(DEVICES)} (default: auto = GPU rows when CUDA "
                                                    "is present; CPU rows always run)")
    p.add_argument("--task", default="classify", help="train only: classify (resnet18) or detect (Faster R-CNN) "
                                                      "(default: classify)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from benchmarks.common import environment, markdown, write_json

    if args.suite not in SUITES:
        raise ConfigError("bench SUITE", args.suite, ", ".join(SUITES))
    if args.device not in DEVICES:
        raise ConfigError("--device", args.device, ", ".join(DEVICES))
    task = getattr(args, "task", "classify")
    if task not in TASKS or (task != "classify" and args.suite != "train"):
        raise ConfigError("--task", task, ", ".join(TASKS) + " (detect with bench train only)")
    suite = importlib.import_module(f"benchmarks.suite_{args.suite}" + ("_detect" if task == "detect" else ""))
    env_before = environment()
    result = suite.run(quick=args.quick, device=args.device)
    env = environment()
    env["machine"]["load_average_before"] = env_before["machine"]["load_average_1_5_15"]
    gpu = env["gpu"]["name"] if env["gpu"] else "no GPU"
    print(f"## bench {args.suite}{' --quick' if args.quick else ''}: {env['machine']['cpu']} "
          f"({env['machine']['cpu_count']} CPUs), {gpu}, load {env['machine']['load_average_1_5_15']}, "
          f"commit {(env['git_commit'] or 'unknown')[:10]}{' (dirty)' if env['git_dirty'] else ''}\n")
    print(markdown(result))
    if args.json:
        write_json(args.json, result.to_dict(env))
        print(f"\nJSON -> {args.json}")
    return 0
