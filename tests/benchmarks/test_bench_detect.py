"""Smoke test of `radiopaque bench train --task detect` in its tiny configuration: ours and the
baseline both train a step, and the JSON holds both and their ratio. No timing is asserted."""

from __future__ import annotations

import json

import pytest

from benchmarks import suite_train_detect
from benchmarks.cli import cmd_bench
from generator.errors import ConfigError


class _Args:
    def __init__(self, json_path: str, task: str = "detect", suite: str = "train"):
        self.suite, self.quick, self.json, self.device, self.task = suite, True, json_path, "cpu", task


@pytest.mark.slow
def test_detect_bench_json(tmp_path, monkeypatch):
    original = suite_train_detect.run
    monkeypatch.setattr(suite_train_detect, "run", lambda *, quick, device: original(quick=quick, device=device,
                                                                                      tiny=True))
    out = tmp_path / "detect.json"
    assert cmd_bench(_Args(str(out))) == 0
    data = json.loads(out.read_text())
    (name,) = data["ours"]
    assert name.startswith("ours detect") and data["ours"][name]["images_per_s"] > 0
    assert data["baseline"][name]["images_per_s"] > 0 and data["ratio"][name] > 0


def test_task_detect_is_for_bench_train_only(tmp_path):
    with pytest.raises(ConfigError, match="--task"):
        cmd_bench(_Args(str(tmp_path / "x.json"), suite="decode"))
    with pytest.raises(ConfigError, match="--task"):
        cmd_bench(_Args(str(tmp_path / "x.json"), task="segment"))
