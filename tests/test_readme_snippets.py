"""The README's "Reading a build with other libraries" blocks, run as they are against a fresh
build with the real libraries (webdataset, pyarrow, Ray Data, Hugging Face datasets,
pycocotools), each in its own interpreter; the checks below each block's run assert row
counts, class names and a decoded mask against the instance map. A block that changes in the
README changes here; one that stops working fails here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from radiopaque import cli

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Reading a build with other libraries"
COUNT, SHARD = 12, 5  # three shards (5, 5, 2): readers must take every file of a folder
CLASSES = ["none", "coin", "shrapnel", "magnets"]


def snippets() -> dict[str, str]:
    """Name (the first comment's words before ":") -> code of each python block of the section."""
    text = README.read_text()
    body = text[text.index(SECTION) + len(SECTION):]
    body = body[: body.index("\n## ")]
    blocks = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    return {block.splitlines()[0].lstrip("# ").split(":")[0]: block for block in blocks}


# Run after each block, in its namespace: what the block must have produced.
CHECKS = {
    "webdataset": f"""
assert len(samples) == {COUNT} and classes == {CLASSES!r}
assert all(im.mode == "L" and ids.mode == "L" and im.size == (a["width"], a["height"]) for im, a, ids in samples)
assert all(a["label_name"] == classes[a["label"]] for _, a, _ in samples)
""",
    "pyarrow.dataset": f"""
assert table.num_rows == dataset.count_rows() == {COUNT} and same_rows and classes == {CLASSES!r}
assert table.column("label_name").to_pylist() == [classes[i] for i in table.column("label").to_pylist()]
assert len(dataset.files) == 3
""",
    "Ray Data": f"""
assert counts == ({COUNT}, {COUNT})
assert "label_name" in rows.schema().names
first = tars.take(1)[0]
assert first["json"]["label_name"] == {CLASSES!r}[first["json"]["label"]] and first["jpg"].ndim == 2
""",
    "Hugging Face datasets": f"""
assert ds.num_rows == {COUNT} and ds.features["label"].names == {CLASSES!r}
assert first["image"].mode == "L" and first["image"].size == (first["width"], first["height"])
names = ds.select_columns(["label", "label_name"])
assert all(ds.features["label"].int2str(x["label"]) == x["label_name"] for x in names)
""",
    "pycocotools": """
assert objects and len(masks) == len(objects)
assert all(int(m.sum()) == o["area_px"] for m, o in zip(masks, objects))
one = [json.loads(r["objects"]) for r in pq.read_table(BUILD / "parquet").to_pylist()]
assert sum(len(o) == 1 for o in one) >= 1  # the test build has single-object films: their mask IS the map
""",
}


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("readme") / "build"
    assert cli.main(["generate", "--out", str(out), "--count", str(COUNT), "--shard-size", str(SHARD), "--size", "96",
                     "--format", "both", "--seed", "3", "--classes", ",".join(CLASSES), "--device", "cpu",
                     "--no-progress"]) == 0
    assert json.loads((out / "dataset.json").read_text())["classes"] == CLASSES
    return out


def test_the_section_has_one_block_per_library():
    assert sorted(snippets()) == sorted(CHECKS)


def _run(name: str, build: Path, tmp_path: Path) -> None:
    code = f"from pathlib import Path\nBUILD = Path({str(build)!r})\n" + snippets()[name] + CHECKS[name]
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "RAY_DEDUP_LOGS": "0",
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, f"README block {name!r} failed:\n{proc.stderr[-4000:]}"


@pytest.mark.parametrize("name", ["webdataset", "pyarrow.dataset", "Hugging Face datasets", "pycocotools"])
def test_readme_block_runs(name, build, tmp_path):
    _run(name, build, tmp_path)


@pytest.mark.slow
def test_readme_ray_data_block_runs(build, tmp_path):
    _run("Ray Data", build, tmp_path)
