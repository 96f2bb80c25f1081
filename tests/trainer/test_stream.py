from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from trainer.plain import EpochSampler
from trainer.stream import Build, ShardStream, decode_image, epoch_addresses, part_bounds, rank_bounds


def _keys(ds, num_workers: int) -> list[str]:
    loader = DataLoader(ds, batch_size=4, num_workers=num_workers)
    return [k.split(":")[1] for _, _, keys in loader for k in keys]


def test_two_ranks_two_workers_cover_every_sample_once(fake_build):
    root, keys = fake_build  # 30 samples
    seen = []
    per_rank = []
    for rank in range(2):
        ds = ShardStream(str(root), rank=rank, world_size=2, image_size=16, seed=5, shuffle_buffer=4)
        ds.set_epoch(3)
        got = _keys(ds, num_workers=2)
        assert len(got) == len(ds) == 15
        assert ds.batches_per_epoch(4, 2) == 2 + 2  # two workers of 7 and 8 samples, batches of 4
        assert len(list(DataLoader(ds, batch_size=4, num_workers=2))) == 4
        per_rank.append(got)
        seen += got
    assert not [k for k, n in Counter(seen).items() if n > 1]
    assert sorted(seen) == sorted(keys)  # 30 % 2 == 0: nothing left over


def test_remainder_is_less_than_world_size_and_documented(fake_build):
    root, keys = fake_build
    seen = []
    for rank in range(4):  # 30 samples on 4 ranks: 7 each, 2 left this epoch
        ds = ShardStream(str(root), rank=rank, world_size=4, image_size=16)
        assert len(ds) == 7
        for worker in range(2):
            seen += [tuple(a) for a in ds.addresses(worker, 2)]
    assert len(seen) == len(set(seen)) == 28


def test_shuffle_is_deterministic_per_epoch_and_differs_across_epochs(fake_build):
    root, _ = fake_build

    def order(epoch: int) -> list[str]:
        ds = ShardStream(str(root), seed=11, image_size=16, shuffle_buffer=8)
        ds.set_epoch(epoch)
        return _keys(ds, num_workers=0)

    assert order(0) == order(0)
    assert order(0) != order(1)
    assert sorted(order(0)) == sorted(order(1))


def test_no_shuffle_reads_in_shard_order(fake_build):
    root, keys = fake_build
    ds = ShardStream(str(root), shuffle=False, drop_remainder=False, image_size=16)
    assert _keys(ds, num_workers=0) == keys


def test_train_val_split_is_disjoint_fixed_and_complete(fake_build):
    root, keys = fake_build
    parts = {}
    for subset in ("train", "val"):
        ds = ShardStream(str(root), subset=subset, val_fraction=0.3, split_seed=1, shuffle=False,
                         drop_remainder=False, image_size=16)
        parts[subset] = _keys(ds, 0)
    assert set(parts["train"]).isdisjoint(parts["val"])
    assert sorted(parts["train"] + parts["val"]) == keys
    assert 0 < len(parts["val"]) < len(keys)


@pytest.mark.parametrize("fmt", ["wds", "parquet"])
def test_a_build_made_before_the_format_folders_still_streams(tmp_path, fmt):
    from _builds import write_fake_build

    keys = write_fake_build(tmp_path / "old", [4, 3], flat=True)
    assert not (tmp_path / "old" / "wds").exists() and (tmp_path / "old" / "shard-000000.tar").exists()
    ds = ShardStream(str(tmp_path / "old"), fmt=fmt, shuffle=False, drop_remainder=False, image_size=16)
    got = list(ds)
    assert [k for _, _, k in got][:2] == [f"shard-000000.{'tar' if fmt == 'wds' else 'parquet'}:{k}" for k in keys[:2]]
    assert [t for _, t, _ in got] == [i % 3 for i in range(7)]


def test_parquet_and_tar_give_the_same_samples(fake_build):
    root, _ = fake_build
    wds = ShardStream(str(root), fmt="wds", shuffle=False, drop_remainder=False, image_size=16)
    pq = ShardStream(str(root), fmt="parquet", shuffle=False, drop_remainder=False, image_size=16)
    a, b = list(wds), list(pq)
    assert [x[2].split(":")[1] for x in a] == [x[2].split(":")[1] for x in b]
    assert [x[1] for x in a] == [x[1] for x in b] == [i % 3 for i in range(30)]
    assert torch.equal(a[4][0], b[4][0])


def test_samples_have_values_shapes_and_mapped_labels(fake_build):
    root, _ = fake_build
    ds = ShardStream(str(root), classes=["magnets", "coin", "none", "bullet"], shuffle=False,
                     drop_remainder=False, image_size=8, task="multilabel")
    image, target, key = next(iter(ds))
    assert image.shape == (1, 8, 8) and image.dtype == torch.float32
    assert torch.allclose(image, torch.zeros_like(image))  # sample 0 is black
    assert target.tolist() == [0.0, 0.0, 1.0, 0.0]  # label "none" -> index 2 of the model's classes
    assert key == "wds/shard-000000.tar:00000000"
    with pytest.raises(ValueError, match="lack"):
        ShardStream(str(root), classes=["none", "coin"])


def test_manifest_histogram_and_part_bounds(fake_build):
    root, _ = fake_build
    assert Build(str(root)).class_counts().tolist() == [10, 10, 10]
    bounds = [part_bounds(10, 3, i) for i in range(3)]
    assert bounds == [(0, 3), (3, 6), (6, 10)]


def test_decode_16bit_png():
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)).save(buf, format="PNG")
    assert torch.allclose(decode_image(buf.getvalue(), 4), torch.ones(1, 4, 4))


def test_rank_bounds_cut_contiguous_slices_in_rank_order():
    for n in (0, 1, 7, 30):
        for world_size in (1, 2, 3, 4):
            for drop in (True, False):
                bounds = [rank_bounds(n, r, world_size, drop) for r in range(world_size)]
                assert bounds[0][0] == 0
                assert all(stop == nxt for (_, stop), (nxt, _) in zip(bounds, bounds[1:]))
                sizes = [stop - start for start, stop in bounds]
                if drop:  # equal slices; the last n % world_size samples left out
                    assert sizes == [n // world_size] * world_size and bounds[-1][1] == n - n % world_size
                else:  # near-equal parts of all n
                    assert bounds[-1][1] == n and max(sizes) - min(sizes) <= 1
    assert rank_bounds(30, 3, 4, True) == (21, 28) and rank_bounds(30, 3, 4, False) == (22, 30)
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        rank_bounds(4, 2, 2, True)


def test_shard_stream_ranks_read_their_rank_bounds_slice(fake_build):
    root, _ = fake_build
    for world_size in (2, 4):
        for rank in range(world_size):
            ds = ShardStream(str(root), rank=rank, world_size=world_size, image_size=16, seed=5)
            ds.set_epoch(2)
            order = epoch_addresses(ds.positions, seed=5, epoch=2, shuffle=True)
            start, stop = rank_bounds(len(order), rank, world_size, True)
            assert np.array_equal(np.concatenate([ds.addresses(w, 3) for w in range(3)]), order[start:stop])


@pytest.mark.parametrize("weighted", [False, True])
def test_epoch_sampler_splits_by_the_same_rule(weighted):
    n, world_size = 30, 4
    weights = np.linspace(1.0, 3.0, n) if weighted else None
    whole = EpochSampler(n, seed=5, weights=weights)
    whole.set_epoch(2)
    order = list(whole)
    assert len(order) == n and (weighted or sorted(order) == list(range(n)))
    seen = []
    for rank in range(world_size):
        sampler = EpochSampler(n, seed=5, rank=rank, world_size=world_size, weights=weights)
        sampler.set_epoch(2)
        got = list(sampler)
        start, stop = rank_bounds(n, rank, world_size, True)
        assert got == order[start:stop] and len(got) == len(sampler) == 7
        seen += got
    assert seen == order[:28]  # every position of the epoch's draw once; the last 30 % 4 left out
