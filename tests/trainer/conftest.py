"""Fixtures for trainer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from _builds import write_fake_build


@pytest.fixture
def fake_build(tmp_path) -> tuple[Path, list[str]]:
    """A 30-sample build of five uneven shards (7, 5, 6, 9, 3), tar and Parquet; 12 patients."""
    root = tmp_path / "build"
    return root, write_fake_build(root, [7, 5, 6, 9, 3])
