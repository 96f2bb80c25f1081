"""The DALI webdataset input path: same split, ranks and labels as ShardStream, pixels close to
the PIL path, and a short training run with --decoder dali. CPU here; CUDA when present."""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from _builds import CLASSES, write_fake_build
from PIL import Image

from generator.errors import ConfigError
from generator.inputs.raster import dali_available
from generator.output.formats import FORMATS, MANIFEST, shard_name, shard_path
from generator.output.sample import ShardSample
from generator.output.storage import sha256_bytes
from trainer import dali_stream
from trainer.config import TrainConfig
from trainer.dali_stream import DaliStream, use_dali
from trainer.stream import ShardStream
from trainer.train import run

needs_dali = pytest.mark.skipif(not dali_available(), reason="nvidia.dali is not importable: no DALI path to test")


def _dali(root: Path, cache: Path, **kw) -> DaliStream:
    return DaliStream(str(root), cache_dir=cache, **kw)


def _dali_keys(ds: DaliStream) -> list[str]:
    return [k.split(":")[1] for _, _, keys in ds for k in keys]


def _stream_keys(root: Path, subset: str) -> list[str]:
    ds = ShardStream(str(root), subset=subset, val_fraction=0.3, split_seed=1, shuffle=False, drop_remainder=False,
                     decode="raw")
    return [key.split(":")[1] for _, _, key in ds]


@needs_dali
@pytest.mark.parametrize("world_size", [2, 3])
def test_ranks_read_the_train_subset_once_except_the_remainder(fake_build, tmp_path, device, world_size):
    root, _ = fake_build  # 30 samples in shards of 7, 5, 6, 9, 3
    train, val = _stream_keys(root, "train"), _stream_keys(root, "val")
    seen = []
    for rank in range(world_size):
        ds = _dali(root, tmp_path / "cache", subset="train", val_fraction=0.3, split_seed=1, seed=5, rank=rank,
                   world_size=world_size, image_size=32, batch_size=4, device=device, shuffle_buffer=8)
        ds.set_epoch(3)
        batches = list(ds)
        assert len(batches) == ds.num_batches == -(-len(train) // world_size // 4)
        got = [k.split(":")[1] for _, _, keys in batches for k in keys]
        assert len(got) == len(ds) == len(train) // world_size  # every rank takes the same number of steps
        assert all(images.device.type == device.type for images, _, _ in batches)
        seen += got
    counts = Counter(seen)
    assert max(counts.values()) == 1
    assert set(seen) <= set(train) and not set(seen) & set(val)
    assert len(set(train) - set(seen)) == len(train) % world_size  # the documented remainder
    assert sorted((tmp_path / "cache").glob("*.idx")) and not list(root.rglob("*.idx"))  # cached outside the build


@needs_dali
def test_order_is_a_function_of_seed_and_epoch(fake_build, tmp_path):
    root, keys = fake_build

    def order(epoch: int, seed: int = 11) -> list[str]:
        ds = _dali(root, tmp_path / "cache", seed=seed, image_size=32, batch_size=8, shuffle_buffer=8)
        ds.set_epoch(epoch)
        return _dali_keys(ds)

    first = order(0)
    assert first == order(0)
    assert first != order(1) and first != order(0, seed=12)
    assert sorted(first) == sorted(order(1)) == keys  # one rank: nothing dropped, nothing repeated
    unshuffled = DaliStream(str(root), cache_dir=tmp_path / "cache", shuffle=False, drop_remainder=False,
                            image_size=32, batch_size=8)
    assert _dali_keys(unshuffled) == keys  # no shuffle: tar order, as ShardStream reads it


@needs_dali
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_labels_equal_shard_stream_targets(fake_build, tmp_path, device, task):
    root, _ = fake_build
    classes = ["magnets", "coin", "none", "bullet"]  # reordered and one more than the build
    reference = ShardStream(str(root), classes=classes, task=task, shuffle=False, drop_remainder=False, decode="raw")
    expected = {key: target for _, target, key in reference}
    ds = _dali(root, tmp_path / "cache", classes=classes, task=task, seed=2, image_size=32, batch_size=7,
               device=device)
    n = 0
    for _, targets, keys in ds:
        assert targets.dtype == (torch.float32 if task == "multilabel" else torch.int64)
        for target, key in zip(targets, keys):
            want = expected[key]
            if task == "multilabel":
                assert torch.equal(target, want), key
            else:
                assert int(target) == want, key
            n += 1
    assert n == len(expected) == 30


@needs_dali
def test_a_build_made_before_the_format_folders_reads_with_dali(tmp_path, device):
    keys = write_fake_build(tmp_path / "old", [4, 3], flat=True)
    ds = _dali(tmp_path / "old", tmp_path / "cache", seed=0, image_size=16, batch_size=4, device=device)
    got = {key: int(t) for _, targets, batch_keys in ds for t, key in zip(targets, batch_keys)}
    assert got == {f"shard-00000{0 if i < 4 else 1}.tar:{k}": i % 3 for i, k in enumerate(keys)}


def _smooth_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size) float in [0, 1]: coarse noise upsampled, so resizing has work to do."""
    coarse = torch.from_numpy(rng.random((1, 1, 8, 8), dtype=np.float32))
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic").clamp(0, 1)[0, 0].numpy()


def _write_image_build(root: Path, image_format: str, size: int = 64) -> None:
    """Two shards of 5 structured images: "jpg" (8-bit grey JPEG) or "png16" (16-bit grey PNG)."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    entries, i = [], 0
    for s in range(2):
        samples = []
        for _ in range(5):
            pixels = _smooth_image(rng, size)
            buf = io.BytesIO()
            if image_format == "png16":
                Image.fromarray(np.round(pixels * 65535).astype(np.uint16)).save(buf, format="PNG")
            else:
                Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(buf, format="JPEG", quality=95)
            label = i % len(CLASSES)
            samples.append(ShardSample(key=f"{i:08d}", image=buf.getvalue(),
                                       image_format="png" if image_format == "png16" else "jpg", height=size,
                                       width=size, label=label, labels=[int(k == label) for k in range(len(CLASSES))],
                                       objects=(), spec={}, source_id="x", mask_png=buf.getvalue(), meta={}))
            i += 1
        data = FORMATS["wds"].encode(samples)
        (root / shard_name(s, "wds")).write_bytes(data)
        entries.append({"path": shard_name(s, "wds"), "format": "wds", "count": 5, "sha256": sha256_bytes(data)})
    manifest = {"classes": CLASSES, "shards": entries, "config": {"image_format": image_format},
                "class_histogram": {c: 0 for c in CLASSES}}
    (root / MANIFEST).write_text(json.dumps(manifest))


@needs_dali
@pytest.mark.parametrize("image_format", ["jpg", "png16"])
@pytest.mark.parametrize("image_size", [32, 64])
def test_pixels_match_the_pil_path(tmp_path, device, image_format, image_size):
    """Tolerance: 64 -> 32 px inside the image differs from resize_square by DALI's rounding to
    the source bit depth only (<= half a grey level); the outermost rows and columns differ more
    (DALI clamps the filter at the edge where PyTorch renormalises it): max |diff| < 0.1, mean
    < 2e-3. 64 -> 64 (no resize) matches to 1e-6."""
    root = tmp_path / "build"
    _write_image_build(root, image_format)
    pil = torch.stack([image for image, _, _ in ShardStream(str(root), shuffle=False, drop_remainder=False,
                                                            image_size=image_size)])
    ds = _dali(root, tmp_path / "cache", shuffle=False, drop_remainder=False, image_size=image_size, batch_size=4,
               device=device)
    dali = torch.cat([images.cpu() for images, _, _ in ds])
    assert dali.shape == pil.shape == (10, 1, image_size, image_size) and dali.dtype == torch.float32
    assert 0.0 <= dali.min() and dali.max() <= 1.0
    diff = (dali - pil).abs()
    if image_size == 64:
        assert diff.max() < 1e-6
    else:
        grey_level = 1 / 255 if image_format == "jpg" else 1 / 65535
        assert diff[..., 1:-1, 1:-1].max() <= 0.5 * grey_level + 1e-6
        assert diff.max() < 0.1 and diff.mean() < 2e-3


def test_decoder_choice_and_errors(fake_build, tmp_path, monkeypatch):
    root, _ = fake_build
    parquet_only = tmp_path / "parquet"
    write_fake_build(parquet_only, [4, 4], formats=("parquet",))
    folder = tmp_path / "folder" / "none"
    folder.mkdir(parents=True)
    for decoder in ("cpu", "gpu"):
        assert not use_dali(decoder, str(root), "cuda")
    assert not use_dali("auto", str(parquet_only), "cuda") and not use_dali("auto", str(folder.parent), "cuda")
    assert not use_dali("auto", str(root), "cpu")  # the CPU keeps PIL, which skips corrupt samples
    with pytest.raises(ConfigError, match=r"--decoder: got 'dali'; allowed: auto, cpu, gpu \(.*no WebDataset tar"):
        use_dali("dali", str(parquet_only), "cpu")
    with pytest.raises(ConfigError, match=r"--decoder.*allowed: auto, cpu, gpu \(.*not a build"):
        use_dali("dali", str(folder.parent), "cpu")
    assert use_dali("auto", str(root), "cuda") == dali_available()
    monkeypatch.setattr(dali_stream, "dali_available", lambda: False)
    assert not use_dali("auto", str(root), "cuda")
    with pytest.raises(ConfigError, match=r"--decoder.*allowed: auto, cpu, gpu \(DALI is not installed"):
        use_dali("dali", str(root), "cpu")
    with pytest.raises(ConfigError, match="--decoder"):  # before any data is read or model built
        run(TrainConfig(data=str(root), out=str(tmp_path / "run"), decoder="dali", progress=False))
    assert not (tmp_path / "run" / "last.pt").exists()


@needs_dali
def test_corrupt_image_fails_with_a_pointer_to_the_cpu_decoder(fake_build, tmp_path):
    root = tmp_path / "bad"
    write_fake_build(root, [4], formats=("wds",))
    tar = root / shard_path(0, "wds")
    data = bytearray(tar.read_bytes())
    start = data.index(b"\x89PNG")  # first sample's image: keep its length, break its header
    data[start:start + 8] = b"notapng!"
    tar.write_bytes(bytes(data))
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["shards"][0]["sha256"] = sha256_bytes(bytes(data))
    (root / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(RuntimeError, match="--decoder cpu skips corrupt samples"):
        list(_dali(root, tmp_path / "cache", image_size=32, batch_size=2))


@needs_dali
def test_short_training_run_with_the_dali_decoder(fake_build, tmp_path, caplog):
    root, _ = fake_build
    torch.set_num_threads(2)
    cfg = TrainConfig(data=str(root), out=str(tmp_path / "run"), decoder="dali", device="cpu", image_size=64,
                      epochs=1, batch_size=8, val_fraction=0.3, split_seed=1, loader_workers=1, progress=False,
                      augment=False)
    with caplog.at_level(logging.INFO, logger="trainer.train"):
        result = run(cfg)
    assert sum("--decoder dali: using dali" in r.getMessage() for r in caplog.records) == 1
    train_keys = _stream_keys(root, "train")
    assert result.epochs == 1 and result.history[0]["images"] == len(train_keys)
    assert result.history[0]["step"] == -(-len(train_keys) // 8)
    assert np.isfinite(result.history[0]["train_loss"]) and result.best_metric is not None
    assert (tmp_path / "run" / "last.pt").exists()
