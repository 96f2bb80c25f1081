"""Smoke test of `radiopaque bench`: each suite's smallest configuration runs, and its JSON
holds ours, the baseline and their ratio as positive numbers beside the environment record.
No timing is asserted (figures depend on the machine and its load)."""

from __future__ import annotations

import json

import pytest

from benchmarks.cli import cmd_bench
from benchmarks.common import environment

SUITES = ("generate", "decode", "train", "kernels")


class _Args:
    def __init__(self, suite: str, json_path: str):
        self.suite, self.quick, self.json, self.device = suite, True, json_path, "cpu"


@pytest.fixture(autouse=True)
def _tiny(monkeypatch):
    """Run every suite in its smoke-test size (a few images, one repeat)."""
    import importlib

    for name in SUITES:
        module = importlib.import_module(f"benchmarks.suite_{name}")
        original = module.run
        monkeypatch.setattr(module, "run", lambda *, quick, device, _f=original: _f(quick=quick, device=device,
                                                                                      tiny=True))


@pytest.mark.parametrize("suite", SUITES)
def test_suite_json_has_ours_baseline_ratio(suite, tmp_path, capsys):
    out = tmp_path / f"{suite}.json"
    assert cmd_bench(_Args(suite, str(out))) == 0
    data = json.loads(out.read_text())
    assert data["suite"] == suite
    assert data["ours"] and set(data["ours"]) == set(data["baseline"]) == set(data["ratio"])
    for name in data["ours"]:
        assert data["ours"][name]["images_per_s"] > 0
        assert data["baseline"][name]["images_per_s"] > 0
        assert data["ratio"][name] > 0
    env = data["environment"]
    assert env["machine"]["cpu_count"] >= 1 and len(env["machine"]["load_average_1_5_15"]) == 3
    assert "torch" in env["versions"] and "git_commit" in env
    printed = capsys.readouterr().out
    assert "| ratio |" in printed and "baseline" in printed
    if suite == "generate":
        (physical,) = [v for k, v in data["ours"].items() if k.startswith("ours physical")]
        assert physical["cost_vs_legacy"] > 0
        assert any(n.startswith("target: physical costs <= 2.0x legacy") for n in data["notes"])
    if suite == "train":
        epoch = data["epoch_178k_images"]
        assert epoch["prototype_reported_s"] == 38 * 3600 + 27 * 60
        assert epoch["baseline_measured_s"] > 0


def test_environment_records_gpu_or_none():
    env = environment()
    assert env["gpu"] is None or env["gpu"]["name"]

