"""Fixtures for trainer tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from _builds import groups_standin, write_fake_build

from generator.output import manifest as manifest_module


@pytest.fixture(autouse=True)
def manifest_groups(monkeypatch):
    """Until the generator's ShardPart has `groups` (issue 13), parse them with the stand-in."""
    if "groups" not in {f.name for f in dataclasses.fields(manifest_module.ShardPart)}:
        monkeypatch.setattr(manifest_module, "parse_manifest", groups_standin(manifest_module.parse_manifest))


@pytest.fixture
def fake_build(tmp_path) -> tuple[Path, list[str]]:
    """A 30-sample build of five uneven shards (7, 5, 6, 9, 3), tar and Parquet; 12 patients."""
    root = tmp_path / "build"
    return root, write_fake_build(root, [7, 5, 6, 9, 3])
