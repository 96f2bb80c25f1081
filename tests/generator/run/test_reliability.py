"""Reliability and privacy guarantees of a build (DESIGN.md, error rule).

Bad input: the generated corpus of `tests/generator/corpus.py` (no patient data) builds to
completion with exactly one line per bad file in rejects.jsonl and the right reason, and the
colour conversions counted. Crashes: `python -m radiopaque.cli generate` is killed with
SIGKILL at fixed and at seeded random points (see `_HOOK`), then the same command is rerun;
the result must equal an uninterrupted build byte for byte. Privacy: a DICOM whose every
identifying element holds a marker string is built, and no marker may appear in any output
byte or in anything the run printed.

DICOM output: the generator offers none (shards hold PNG/JPEG images, JSON and Parquet), so
the rules for DICOM output (new UIDs, ImageType DERIVED, a synthetic-content note) have
nothing to apply to; `test_phi_never_reaches_any_output_or_log` pins that no output is DICOM.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from generator.config import BuildConfig, RunConfig, SourceConfig
from generator.inputs import raster as decode
from generator.inputs import read as images
from generator.inputs.sources import source_id
from generator.output import storage
from generator.run import shard as shard_render
from generator.run.build import build
from generator.run.shard import ShardRenderer
from radiopaque import cli
from tests.generator import corpus as cp
from tests.generator.dicom_fixtures import cr_dataset

REPO = Path(__file__).resolve().parents[3]
KEYS = [f"{i:08d}" for i in range(24)]
# 4 shards of 6 samples, tar and Parquet: small enough for 2 shared CPU cores.
GENERATE = ["generate", "--count", "24", "--shard-size", "6", "--size", "64", "--format", "both",
            "--style", "legacy", "--seed", "11", "--device", "cpu", "--no-progress"]


# -- helpers ----------------------------------------------------------------------------------


def _lines(path: Path) -> list[dict]:
    text = path.read_bytes().decode("utf-8")  # strict: rejects.jsonl must be valid UTF-8
    return [json.loads(line) for line in text.splitlines()]


def _assert_strict_utf8_json(path: Path) -> dict:
    value = json.loads(path.read_bytes().decode("utf-8"))
    # Lone surrogates (undecodable file names) would survive json.dumps as \udcXX escapes,
    # which strict JSON readers refuse: encoding every string strictly catches them.
    json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


def _shard_hashes(out: Path) -> dict[str, str]:
    manifest = json.loads((out / "dataset.json").read_text())
    return {s["path"]: s["sha256"] for s in manifest["shards"]}


def _file_hashes(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): storage.sha256_bytes(p.read_bytes()) for p in sorted(out.glob("*/shard-*"))}


def _keys_per_format(out: Path) -> dict[str, list[str]]:
    tar_keys, parquet_keys = [], []
    for path in sorted(out.glob("wds/shard-*.tar")):
        with tarfile.open(path) as tar:
            tar_keys += sorted({m.name.split(".", 1)[0] for m in tar.getmembers()})
    for path in sorted(out.glob("parquet/shard-*.parquet")):
        parquet_keys += pq.read_table(path, columns=["key"]).column("key").to_pylist()
    return {"wds": tar_keys, "parquet": parquet_keys}


def _temporaries(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if ".tmp-" in p.name]


def _assert_same_as_reference(out: Path, reference: Path) -> None:
    assert _shard_hashes(out) == _shard_hashes(reference)
    assert _file_hashes(out) == _file_hashes(reference)  # the bytes on disk, not only the manifest
    for fmt, keys in _keys_per_format(out).items():
        assert keys == KEYS, fmt  # every key once, in order: no duplicate, none missing
    assert json.loads((out / "dataset.json").read_text())["totals"]["complete"]
    assert not _temporaries(out)


def _ramps(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True)
    for k in range(n):
        (folder / f"ramp{k}.png").write_bytes(cp.png_bytes(cp.ramp(96, 80, phase=50 * k)))
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return _ramps(tmp_path_factory.mktemp("kill") / "in")


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory) -> Path:
    """The uninterrupted build every crash test must reproduce (same command, in process)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    assert cli.main([*GENERATE, "--input", str(inputs), "--out", str(out)]) == 0
    return out


# -- bad input ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_build(tmp_path_factory):
    corpus = cp.write_corpus(tmp_path_factory.mktemp("corpus") / "in")
    out = tmp_path_factory.mktemp("corpus-out") / "out"
    # 11 of 19 sources are bad: 48 samples make ~110 draws, enough (for this seed) that every
    # file is drawn at least once, so every bad file is met and reported.
    cfg = BuildConfig(count=48, seed=3, size=64, shard_size=24, formats=("wds",), style="legacy",
                      sources=SourceConfig(input=str(corpus.root), reject_paths=True))
    report = build(cfg, RunConfig(out=str(out), device="cpu", progress=False))
    return corpus, out, report


def test_corpus_build_completes_with_one_reject_line_per_bad_file(corpus_build):
    corpus, out, report = corpus_build
    assert report.manifest.totals.complete and report.samples == 48
    rejects = _lines(out / "rejects.jsonl")
    assert sorted(r["source"] for r in rejects) == sorted(corpus.bad)  # one line each, nothing else
    for r in rejects:
        assert r["stage"] == "decode"
        assert "\n" not in r["reason"] and re.search(corpus.bad[r["source"]], r["reason"]), r
    assert report.manifest.to_dict()["rejects"] == {"count": len(corpus.bad), "file": "rejects.jsonl",
                                          "by_stage": {"decode": len(corpus.bad)}}
    assert not _temporaries(out)


def test_corpus_good_files_are_used_and_conversions_counted(corpus_build):
    corpus, out, report = corpus_build
    manifest = _assert_strict_utf8_json(out / "dataset.json")
    assert manifest["conversions"] == {"palette": 1, "rgb": 2}  # palette.png; rgb.png, rgb.jpg
    used = {json.loads(m)["source_id"] for m in _tar_members(out, ".json")}
    # Source ids hash the name as the OS gives it (undecodable bytes as surrogates).
    ids = {cp.display(name): source_id(os.fsdecode(name)) for name in os.listdir(os.fsencode(corpus.root))}
    assert used == {ids[name] for name in [*corpus.good, *corpus.converted]}
    assert ids[cp.display(cp.NON_UTF8_GOOD)] in used and ids["multiframe.dcm"] in used


def _tar_members(out: Path, suffix: str) -> list[bytes]:
    found = []
    for path in sorted(out.glob("wds/shard-*.tar")):
        with tarfile.open(path) as tar:
            found += [tar.extractfile(m).read() for m in tar.getmembers() if m.name.endswith(suffix)]
    return found


def test_size_limits_refuse_before_decoding(tmp_path, monkeypatch):
    corpus = cp.write_corpus(tmp_path / "in")
    seen = []
    real = decode.decode_batch
    monkeypatch.setattr(decode, "decode_batch", lambda items, **kw: seen.extend(items) or real(items, **kw))
    names = ["tiny-1px.png", "huge-20000px.png", "huge-20000px.jpg"]
    results = images.read_images([corpus.root / n for n in names])
    assert seen == []  # the decoder never saw them: refused from the header
    for name, result in zip(names, results):
        assert isinstance(result, images.RejectedInput)
        assert re.search(corpus.bad[name], result.reason)


def test_multiframe_dicom_contributes_its_first_frame(tmp_path):
    """Documented in generator/inputs/dicom.py: multi-frame files contribute frame 0 only."""
    corpus = cp.write_corpus(tmp_path / "in")
    first_only = tmp_path / "first.dcm"
    cp._save(cr_dataset(cp.multiframe_frames()[0]), first_only)
    mirrored = tmp_path / "second.dcm"
    cp._save(cr_dataset(cp.multiframe_frames()[1]), mirrored)
    pixels = images.read_image(corpus.root / "multiframe.dcm").pixels
    np.testing.assert_array_equal(pixels, images.read_image(first_only).pixels)
    assert not np.array_equal(pixels, images.read_image(mirrored).pixels)


def test_csv_manifest_bad_rows_are_list_rejects(tmp_path):
    csv_path, bad, accepted = cp.write_csv_manifest(tmp_path)
    out = tmp_path / "out"
    cfg = BuildConfig(count=6, seed=1, size=64, shard_size=6, formats=("wds",), style="legacy",
                      sources=SourceConfig(input=str(csv_path), reject_paths=True))
    report = build(cfg, RunConfig(out=str(out), device="cpu", progress=False))
    assert report.manifest.totals.complete
    rejects = _lines(out / "rejects.jsonl")
    assert sorted(r["source"] for r in rejects) == sorted(bad)
    for r in rejects:
        assert r["stage"] == "list" and re.search(bad[r["source"]], r["reason"]), r
    manifest = _assert_strict_utf8_json(out / "dataset.json")
    assert manifest["sources"]["count"] == len(accepted)


# -- corruption, out of space, unwritable output ---------------------------------------------------


def test_altered_shard_is_named_by_verify_and_rebuilt_by_resume(reference, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    shard = out / "wds" / "shard-000001.tar"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size: only the hash can tell
    shard.write_bytes(bytes(data))
    capsys.readouterr()
    assert cli.main(["verify", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "altered: wds/shard-000001.tar" in printed
    assert printed.count("altered") == 1 and "missing" not in printed
    assert cli.main([*GENERATE, "--input", str(inputs), "--out", str(out)]) == 0
    assert "(6 new)" in capsys.readouterr().out  # only that shard was rendered again
    _assert_same_as_reference(out, reference)
    assert cli.main(["verify", str(out)]) == 0


def test_out_of_space_fails_clearly_and_keeps_finished_shards(reference, inputs, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    real = storage._write_local

    def full_disk(tmp: str, final: str, data: bytes) -> None:
        if os.path.basename(final).startswith("shard-000001"):  # the 2nd shard's first file
            with open(tmp, "wb") as fh:
                fh.write(data[: len(data) // 3])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(tmp, final, data)

    monkeypatch.setattr(storage, "_write_local", full_disk)
    capsys.readouterr()
    assert cli.main([*GENERATE, "--input", str(inputs), "--out", str(out), "--retries", "1"]) == 1
    err = capsys.readouterr().err
    assert re.search(r"error: shard 1 failed after 2 attempts: no space left on device writing "
                     r"\S*wds/shard-000001\.tar", err), err
    assert "Traceback" not in err
    manifest = json.loads((out / "dataset.json").read_text())
    assert sorted(manifest["parts"]) == ["0"] and not manifest["totals"]["complete"]
    for entry in manifest["shards"]:
        assert storage.sha256_bytes((out / entry["path"]).read_bytes()) == entry["sha256"]
    assert {p.relative_to(out).as_posix() for p in out.rglob("shard-*")} == {"wds/shard-000000.tar",
                                                                             "parquet/shard-000000.parquet"}
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "parquet", "rejects.jsonl", "wds"]
    assert _shard_hashes(out).items() <= _shard_hashes(reference).items()
    assert not _temporaries(out)

    monkeypatch.setattr(storage, "_write_local", real)  # space freed: the same command resumes
    assert cli.main([*GENERATE, "--input", str(inputs), "--out", str(out)]) == 0
    _assert_same_as_reference(out, reference)


def test_unwritable_out_fails_before_any_work(inputs, tmp_path, monkeypatch, capsys):
    def no_work(*args, **kwargs):
        raise AssertionError("work started although --out is unwritable")

    monkeypatch.setattr(ShardRenderer, "render_shard", no_work)
    monkeypatch.setattr(shard_render, "read_images", no_work)
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # works for root too, unlike a read-only directory
    capsys.readouterr()
    assert cli.main([*GENERATE, "--input", str(inputs), "--out", str(blocker / "out")]) == 1
    err = capsys.readouterr().err
    assert f"error: --out: cannot write to '{blocker}/out' (not a directory); allowed: " in err
    assert "Traceback" not in err


# -- kill -9 and resume ------------------------------------------------------------------------------

# Runs `radiopaque generate` exactly as `python -m radiopaque.cli` does, with probes at every
# point where a kill matters: the middle of each file write (a partial temporary on disk),
# after its fsync, after its rename (before the manifest records it), at each shard start and
# after each render batch. The store's own write code runs unchanged (only `open` and `os` as
# it sees them are wrapped), so a write that is not atomic would be caught. At the chosen
# probe the process writes the probe's name to a marker file and parks; the test then kills
# it with SIGKILL. With --executor ray, a Ray worker setup hook parks the first actor to write
# a shard file instead, half of its temporary on disk, and the test kills that actor's process.
_HOOK = r"""
import json, os, sys, time
import generator.output.storage as storage
from generator.run.shard import ShardRenderer

KILL = json.loads(os.environ["RADIOPAQUE_TEST_KILL"])
events = 0


def park(marker, text):
    with open(marker + ".part", "w") as fh:
        fh.write(text)
    os.replace(marker + ".part", marker)
    time.sleep(600)


def point(name):
    global events
    events += 1
    if name == KILL.get("at") or events == KILL.get("after_events"):
        park(KILL["marker"], name)


class ProbedFile:  # a file the store writes: half, probe, then the rest

    def __init__(self, fh, name):
        self.fh, self.name = fh, name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.fh.__exit__(*exc)

    def __getattr__(self, attr):
        return getattr(self.fh, attr)

    def write(self, data):
        half = len(data) // 2
        self.fh.write(data[:half])
        self.fh.flush()
        point(self.name + ":partial")
        return half + self.fh.write(data[half:])


class ProbedOs:  # the store's `os`: probes after each fsync and each rename into place

    def __getattr__(self, attr):
        return getattr(os, attr)

    def fsync(self, fd):
        os.fsync(fd)
        point(opened[fd] + ":written")

    def replace(self, src, dst):
        os.replace(src, dst)
        point(os.path.basename(dst) + ":renamed")


opened = {}  # fd -> final file name


def probed_open(path, mode="r", *args, **kwargs):
    fh = open(path, mode, *args, **kwargs)
    if "w" not in mode:
        return fh
    name = os.path.basename(path).split(".tmp-")[0]
    opened[fh.fileno()] = name
    return ProbedFile(fh, name)


# The real storage code runs; only the names it looks up are wrapped.
storage.open, storage.os = probed_open, ProbedOs()
render_shard, render_batch = ShardRenderer.render_shard, ShardRenderer._render_batch


def hooked_render_shard(self, shard, on_batch=None):
    point(f"render-{shard}:start")
    return render_shard(self, shard, on_batch)


def hooked_render_batch(self, specs):
    out = render_batch(self, specs)
    point(f"render-{specs[0].index}:batch")
    return out


ShardRenderer.render_shard, ShardRenderer._render_batch = hooked_render_shard, hooked_render_batch

if KILL.get("ray_actor"):
    import ray

    def park_first_actor():
        import generator.output.storage as worker_storage

        real = worker_storage._write_local

        def parked(tmp, final, data):
            try:  # only the first actor to get here parks; the retry on a new actor goes on
                os.close(os.open(KILL["marker"] + ".claimed", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return real(tmp, final, data)
            with open(tmp, "wb") as fh:  # mid-write: half a temporary on disk
                fh.write(data[: len(data) // 2])
            park(KILL["marker"], str(os.getpid()))

        worker_storage._write_local = parked

    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"worker_process_setup_hook": park_first_actor})

from radiopaque.cli import main

sys.exit(main(sys.argv[1:]))
"""


def _run_until_parked(args: list[str], kill: dict, tmp: Path, timeout_s: float = 240) -> tuple[str | None, str]:
    """Run the hooked command; SIGKILL it once parked. Returns (probe killed at or None if the
    run finished first, its output)."""
    marker = tmp / f"parked-{time.monotonic_ns()}"
    env = {**os.environ, "RADIOPAQUE_TEST_KILL": json.dumps({**kill, "marker": str(marker)}),
           "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0"}
    log = tmp / f"{marker.name}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-c", _HOOK, *args], cwd=REPO, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and not marker.exists():
            assert time.monotonic() < deadline, f"timed out: {log.read_text()[-2000:]}"
            time.sleep(0.02)
        where = None
        if marker.exists():
            where = marker.read_text()
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    output = log.read_text(errors="replace")
    if where is None:
        assert proc.returncode == 0, output[-3000:]
    else:
        assert proc.returncode == -signal.SIGKILL
    return where, output


def _resume(args: list[str], tmp: Path) -> str:
    where, output = _run_until_parked(args, {}, tmp)
    assert where is None
    return output


@pytest.mark.slow
def test_kill_at_fixed_points_then_resume_equals_uninterrupted(reference, inputs, tmp_path):
    """Each run resumes the previous killed one and is itself killed at the next point."""
    out = tmp_path / "out"
    args = [*GENERATE, "--input", str(inputs), "--out", str(out)]

    # 1. During the first shard: half of shard-000000.tar written to its temporary name.
    assert _run_until_parked(args, {"at": "shard-000000.tar:partial"}, tmp_path)[0] == "shard-000000.tar:partial"
    assert len(_temporaries(out)) == 1 and not list(out.rglob("shard-*.tar"))
    assert json.loads((out / "dataset.json").read_text())["parts"] == {}

    # 2. Between shards: shard 0 complete and recorded, shard 1 not started.
    assert _run_until_parked(args, {"at": "render-1:start"}, tmp_path)[0] == "render-1:start"
    assert not _temporaries(out)  # the first run's partial temporary was cleaned up
    assert list(json.loads((out / "dataset.json").read_text())["parts"]) == ["0"]

    # 3. Right after shard 1's last file was renamed into place, before the manifest lists it.
    assert _run_until_parked(args, {"at": "shard-000001.parquet:renamed"}, tmp_path)[0].endswith("renamed")
    assert (out / "parquet" / "shard-000001.parquet").exists()
    assert list(json.loads((out / "dataset.json").read_text())["parts"]) == ["0"]

    # 4. While the manifest itself is half written (its first rewrite in the resumed run):
    # the previous manifest must survive whole.
    assert _run_until_parked(args, {"at": "dataset.json:partial"}, tmp_path)[0] == "dataset.json:partial"
    assert list(json.loads((out / "dataset.json").read_text())["parts"]) == ["0"]

    _resume(args, tmp_path)
    _assert_same_as_reference(out, reference)


@pytest.mark.slow
def test_kill_at_random_points_then_resume_equals_uninterrupted(reference, inputs, tmp_path):
    """Four kills in a row, each during the resume of the one before, at probes drawn from a
    fixed-seed RNG (so a failure replays), then a clean resume."""
    rng = np.random.default_rng(20240601)
    out = tmp_path / "out"
    args = [*GENERATE, "--input", str(inputs), "--out", str(out)]
    killed_at = []
    for _ in range(4):
        # A fresh run passes 6 probes (the first manifest save), then ~14 per shard (2 shard
        # and 2 manifest files x 3, shard start, render batch): 1..40 spans ~3 shards.
        where, _ = _run_until_parked(args, {"after_events": int(rng.integers(1, 41))}, tmp_path)
        killed_at.append(where)
    assert all(killed_at), killed_at  # every run was killed somewhere (none ran to the end)
    _resume(args, tmp_path)
    _assert_same_as_reference(out, reference)


@pytest.mark.slow
def test_ray_worker_killed_mid_shard_is_retried(reference, inputs, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "out"
    args = [*GENERATE, "--input", str(inputs), "--out", str(out), "--executor", "ray", "--workers", "2"]
    marker = tmp_path / "ray-parked"
    env = {**os.environ, "RADIOPAQUE_TEST_KILL": json.dumps({"ray_actor": True, "marker": str(marker)}),
           "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([sys.executable, "-c", _HOOK, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "no Ray actor reached its first render batch"
            time.sleep(0.05)
        os.kill(int(marker.read_text()), signal.SIGKILL)  # the actor's worker process, mid-write
        output, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    assert re.search(r"shard \d failed on Ray \(attempt 1/3\)", text), text[-3000:]
    _assert_same_as_reference(out, reference)


# -- privacy -----------------------------------------------------------------------------------------


def _marker_hits(blob: bytes) -> list[str]:
    low = blob.lower()
    hits = [m for m in cp.PHI_MARKERS.values() if m.lower().encode() in low]
    hits += [m for m in ("phimark", "1899-12-31", "18991231") if m.encode() in low]
    return sorted(set(hits))


@pytest.mark.slow
def test_phi_never_reaches_any_output_or_log(tmp_path):
    """Markers in every identifying element of a DICOM (rendered, and two rejected) never reach
    a shard, the manifest, rejects.jsonl, the preview, stdout, stderr or the debug log."""
    src = tmp_path / "in"
    src.mkdir()
    cp.write_phi_dicom(src / "phi.dcm")
    cp.write_phi_dicom(src / "phi-header-only.dcm", pixels=False)  # rejected: its reason is output too
    cp.write_dicom_jp2_raw(src / "phi-bad-pixels.dcm", **cp.PHI_MARKERS)  # rejected by the decoder
    (src / "ramp.png").write_bytes(cp.png_bytes(cp.ramp()))
    assert _marker_hits((src / "phi.dcm").read_bytes())  # the probe finds what it looks for
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "always"}
    run = subprocess.run([sys.executable, "-m", "radiopaque.cli", "-v", "generate", "--input", str(src),
                          "--out", str(out), "--count", "16", "--shard-size", "8", "--size", "64",
                          "--format", "both", "--style", "legacy", "--device", "cpu", "--no-progress",
                          "--rejects-with-paths"],
                         cwd=REPO, env=env, capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    rejected = {r["source"] for r in _lines(out / "rejects.jsonl")}
    assert rejected == {"phi-header-only.dcm", "phi-bad-pixels.dcm"}  # both error paths ran
    assert cli.main(["preview", str(out), "--n", "8", "--tile", "64"]) == 0

    assert _marker_hits(run.stdout) == [] and _marker_hits(run.stderr) == []
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {".tar", ".parquet", ".json", ".jsonl", ".png"}
    for path in files:
        data = path.read_bytes()
        assert _marker_hits(data) == [], path.name
        assert data[128:132] != b"DICM"  # no DICOM output is offered
        if path.suffix == ".parquet":  # compressed columns: check the decoded values too
            assert _marker_hits(repr(pq.read_table(path).to_pylist()).encode()) == [], path.name
    annotations = [json.loads(m) for m in _tar_members(out, ".json")]
    meta = [a["meta"] for a in annotations if a["source_id"] == source_id("phi.dcm")]
    assert meta, "the PHI image itself was never rendered"
    assert meta[0]["sex"] == "F" and meta[0]["age_years"] == 45  # de-identified fields do pass
