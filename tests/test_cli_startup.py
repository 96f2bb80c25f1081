"""`radiopaque --help` and option errors answer at once: building the parsers imports nothing
heavy, the commands import what they need when they run (radiopaque/cli.py). Checked by what
ends up in sys.modules, not by a timing that a loaded machine would make flaky."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "numpy", "PIL", "pyarrow", "ray", "kornia", "webdataset", "nvidia.dali", "pydicom", "fsspec")
COMMANDS = ("generate", "preview", "verify", "realism", "train", "evaluate", "experiment", "bench")

_PROBE = """
import sys
from radiopaque import cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("EXIT", code, "HEAVY", ",".join(heavy) or "-", file=sys.stderr)
"""


def _run(*argv: str) -> tuple[int, list[str], str]:
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *argv], capture_output=True, text=True,
                          timeout=120)
    last = proc.stderr.strip().splitlines()[-1].split()
    assert last[0] == "EXIT", proc.stderr
    code = 0 if last[1] == "None" else int(last[1])
    return code, [] if last[3] == "-" else last[3].split(","), proc.stdout + proc.stderr


@pytest.mark.parametrize("argv", [("--help",), *((c, "--help") for c in COMMANDS)], ids=lambda a: " ".join(a))
def test_help_imports_nothing_heavy(argv):
    code, heavy, out = _run(*argv)
    assert code == 0 and heavy == [], out
    assert "usage: radiopaque" in out


@pytest.mark.parametrize("argv", [
    ("--no-such-option",),
    ("generate", "--out", "x", "--count", "many"),
    ("generate",),  # --out missing
    ("generate", "--out", "x", "--image-format", "bmp"),
    ("generate", "--out", "x", "--executor", "slurm"),
    ("generate", "--out", "x", "--style", "cartoon"),
    ("generate", "--out", "x", "--jpeg-quality", "101"),
    ("train", "--data", "d", "--out", "o", "--epochs", "1.5"),
    ("train", "--data", "d", "--out", "o", "--model", "vgg11"),
    ("evaluate", "--checkpoint", "c", "--data", "d", "--out", "o", "--batch-size", "0"),
    ("experiment", "--synthetic", "s", "--real", "r", "--out", "o", "--steps", "1"),
    ("evaluate", "--checkpoint", "c"),
    ("bench", "generate", "--bogus"),
    ("bench", "nope"),
    ("bench", "generate", "--device", "tpu"),
    ("frobnicate",),
], ids=lambda a: " ".join(a))
def test_option_errors_exit_2_and_import_nothing_heavy(argv):
    code, heavy, out = _run(*argv)
    assert code == 2 and heavy == [], out
    assert "error:" in out and "Traceback" not in out


@pytest.mark.parametrize("command", [("generate", "--count", "2"), ("train", "--data", "d"),
                                     ("evaluate", "--checkpoint", "c", "--data", "d"),
                                     ("experiment", "--synthetic", "s", "--real", "r")], ids=lambda a: a[0])
def test_out_pointing_at_a_file_is_a_usage_error(tmp_path, command):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    code, _, out = _run(*command, "--out", str(afile))
    assert code == 2, out
    assert "--out: got" in out and "not a file" in out and "Traceback" not in out
    assert afile.read_text() == "not a folder"
