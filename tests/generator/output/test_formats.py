"""Shard formats: deterministic bytes, readable by the standard readers, exact round trips."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from generator.output.formats import FORMATS, MANIFEST, iter_build, known_shard_paths, shard_name, shard_path
from generator.output.parquet import SCHEMA, decode_parquet, encode_parquet, shard_classes
from generator.output.sample import ShardSample
from generator.output.storage import Store, StoreError, sha256_bytes
from generator.output.wds import decode_tar, encode_tar


def _encode(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG" if fmt == "jpg" else "PNG")
    return buf.getvalue()


def _sample(index: int, fmt: str = "png", *, bit16: bool = False) -> ShardSample:
    """A small sample with real image and mask bytes; deterministic in `index`."""
    height, width = 12, 16
    rng = np.random.default_rng(index)
    if bit16:
        pixels = rng.integers(0, 65536, (height, width), dtype=np.uint16)
    else:
        pixels = rng.integers(0, 256, (height, width), dtype=np.uint8)
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[2:6, 3:9] = 1
    return ShardSample(
        key=f"{index:08d}",
        image=_encode(pixels, fmt),
        image_format=fmt,
        height=height,
        width=width,
        label=1,
        label_name="coin",
        labels=(0, 1, 0),
        # Tuples inside JSON fields, as dataclasses.asdict produces them: must round-trip.
        objects=({"class": "coin", "bbox_xyxy": (3, 2, 9, 6), "material": "copper", "pose": {"yaw_deg": 12.5}},),
        spec={"index": index, "spacing_mm": (0.5, 0.5), "objects": [{"center_px": (6.0, 4.0)}]},
        source_id=f"src-{index % 3}",
        mask_png=_encode(mask, "png"),
        meta={"view": "PA", "sex": "F", "age_years": 7, "spacing_mm": [0.5, 0.5]},
    )


@pytest.fixture
def samples() -> list[ShardSample]:
    return [_sample(0, "png"), _sample(1, "jpg"), _sample(2, "png", bit16=True)]


# --- ShardSample ---------------------------------------------------------------------------


def test_annotation_holds_exactly_the_json_fields(samples):
    annotation = samples[0].annotation()
    assert sorted(annotation) == [
        "height", "image_format", "key", "label", "label_name", "labels", "meta", "objects", "source_id", "spec",
        "width",
    ]  # fmt: skip
    assert annotation["label_name"] == "coin"
    assert annotation["labels"] == [0, 1, 0]
    assert annotation["objects"][0]["bbox_xyxy"] == [3, 2, 9, 6]
    assert annotation["spec"]["spacing_mm"] == [0.5, 0.5]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image_format": "tiff"}, "image_format must be one of"),
        ({"key": "000.1"}, "no '.'"),
        ({"labels": (0, 2, 0)}, "multi-hot"),
        ({"spec": {"noise": float("nan")}}, "spec must be JSON-serialisable"),
        ({"height": 0}, "must be positive"),
    ],
)
def test_sample_rejects_bad_fields(samples, change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(samples[0], **change)


# --- WebDataset tar ------------------------------------------------------------------------


def test_tar_bytes_are_identical_on_every_encode(samples):
    rebuilt = [_sample(0, "png"), _sample(1, "jpg"), _sample(2, "png", bit16=True)]
    assert encode_tar(samples) == encode_tar(samples) == encode_tar(rebuilt)


def test_tar_members_are_ordered_and_carry_no_time_or_owner(samples):
    data = encode_tar(samples)
    assert data[257:265] == b"ustar\x0000"  # POSIX USTAR magic + version, not GNU or PAX
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        assert tar.pax_headers == {}
    assert [m.name for m in members] == [
        "00000000.png", "00000000.json", "00000000.mask.png",
        "00000001.jpg", "00000001.json", "00000001.mask.png",
        "00000002.png", "00000002.json", "00000002.mask.png",
    ]  # fmt: skip
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
        assert m.pax_headers == {}


def test_tar_json_member_is_the_sorted_annotation(samples):
    with tarfile.open(fileobj=io.BytesIO(encode_tar(samples[:1]))) as tar:
        text = tar.extractfile("00000000.json").read().decode()
    assert json.loads(text) == samples[0].annotation()
    assert text == json.dumps(samples[0].annotation(), sort_keys=True, separators=(",", ":"))


def test_tar_is_readable_by_webdataset(samples, tmp_path):
    wds = pytest.importorskip("webdataset")
    path = tmp_path / shard_name(0, "wds")
    path.write_bytes(encode_tar(samples))
    read = list(wds.WebDataset(str(path), shardshuffle=False))
    assert [r["__key__"] for r in read] == ["00000000", "00000001", "00000002"]
    for record, sample in zip(read, samples):
        assert set(record) - {"__url__", "__local_path__"} == {"__key__", sample.image_format, "json", "mask.png"}
        assert record[sample.image_format] == sample.image
        assert record["mask.png"] == sample.mask_png
        annotation = json.loads(record["json"])
        assert annotation == sample.annotation()
        assert annotation["label"] == 1 and annotation["objects"][0]["class"] == "coin"
    bit16 = Image.open(io.BytesIO(read[2]["png"]))
    assert np.asarray(bit16).max() > 255  # 16-bit content survives as-is


def test_tar_round_trip(samples):
    assert decode_tar(encode_tar(samples)) == samples
    assert decode_tar(encode_tar([])) == []


def test_tar_decode_names_an_incomplete_sample(samples):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("00000007.png")
        info.size = len(samples[0].image)
        tar.addfile(info, io.BytesIO(samples[0].image))
    with pytest.raises(ValueError, match=r"sample '00000007' has members \['png'\]"):
        decode_tar(buf.getvalue())


# --- Parquet -------------------------------------------------------------------------------


def test_parquet_bytes_are_identical_on_every_encode(samples):
    rebuilt = [_sample(0, "png"), _sample(1, "jpg"), _sample(2, "png", bit16=True)]
    assert encode_parquet(samples) == encode_parquet(samples) == encode_parquet(rebuilt)


def test_parquet_is_readable_by_pyarrow_with_the_expected_schema(samples, tmp_path):
    path = tmp_path / shard_name(0, "parquet")
    path.write_bytes(encode_parquet(samples, classes=("none", "coin", "magnets")))
    table = pq.read_table(path)
    assert table.schema.names == [
        "key", "image", "image_format", "height", "width", "label", "label_name", "labels",
        "objects", "spec", "source_id", "mask_png", "meta",
    ]  # fmt: skip
    assert json.loads(table.schema.metadata[b"radiopaque.classes"]) == ["none", "coin", "magnets"]
    assert shard_classes(path.read_bytes()) == ["none", "coin", "magnets"]
    assert table.column("label_name").to_pylist() == ["coin"] * 3
    types = {field.name: field.type for field in table.schema}
    assert types["key"] == pa.string() and types["image"] == pa.binary() and types["mask_png"] == pa.binary()
    assert types["height"] == types["width"] == types["label"] == pa.int32()
    assert types["labels"] == pa.list_(pa.int8())
    assert types["objects"] == types["spec"] == types["meta"] == pa.string()
    assert table.schema.equals(SCHEMA)  # metadata aside
    assert table.column("key").to_pylist() == ["00000000", "00000001", "00000002"]
    assert table.column("image_format").to_pylist() == ["png", "jpg", "png"]
    assert table.column("image").to_pylist()[1] == samples[1].image
    assert table.column("labels").to_pylist()[0] == [0, 1, 0]
    assert json.loads(table.column("objects").to_pylist()[0])[0]["bbox_xyxy"] == [3, 2, 9, 6]
    row_group = pq.ParquetFile(path).metadata.row_group(0)
    chunks = [row_group.column(i) for i in range(row_group.num_columns)]
    codecs = {chunk.path_in_schema: chunk.compression for chunk in chunks}
    assert codecs["image"] == codecs["mask_png"] == "UNCOMPRESSED"
    assert codecs["spec"] == codecs["objects"] == "ZSTD"


def test_parquet_round_trip(samples):
    assert decode_parquet(encode_parquet(samples)) == samples
    assert decode_parquet(encode_parquet([])) == []


def test_shards_written_before_label_name_still_decode(samples):
    import dataclasses

    old = [dataclasses.replace(s, label_name=None) for s in samples]
    assert "label_name" not in old[0].annotation() and samples[0].annotation()["label_name"] == "coin"
    assert decode_tar(encode_tar(old)) == old
    table = pq.read_table(pa.BufferReader(encode_parquet(old))).drop_columns(["label_name"])
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(None), sink)  # the old schema: no label_name, no classes
    data = sink.getvalue().to_pybytes()
    assert decode_parquet(data) == old and shard_classes(data) is None


# --- registry and build reader -------------------------------------------------------------


def test_shard_name_and_registry():
    assert shard_name(12, "wds") == "shard-000012.tar"
    assert shard_name(12, "parquet") == "shard-000012.parquet"
    ext, encode, decode = FORMATS["wds"]  # unpacks like a plain tuple
    assert (ext, encode, decode) == ("tar", encode_tar, decode_tar)
    with pytest.raises(ValueError, match=r"one of \['parquet', 'wds'\], got 'tfrecord'"):
        shard_name(0, "tfrecord")
    with pytest.raises(ValueError, match=">= 0"):
        shard_name(-1, "wds")


def test_shard_path_puts_each_format_in_its_folder():
    assert shard_path(12, "wds") == "wds/shard-000012.tar"
    assert shard_path(3, "parquet") == "parquet/shard-000003.parquet"
    with pytest.raises(ValueError, match="got 'tfrecord'"):
        shard_path(0, "tfrecord")
    assert known_shard_paths(3, "wds") == ("wds/shard-000003.tar", "shard-000003.tar")


def _write_build(url: str, shards: dict[int, list[ShardSample]], formats: tuple[str, ...], *,
                 flat: bool = False) -> Store:
    """Write shards and a manifest listing them in reverse completion order; `flat`: at the
    top level, as builds made before the format folders."""
    store = Store(url)
    entries = []
    for index in sorted(shards, reverse=True):
        for fmt in formats:
            data = FORMATS[fmt].encode(shards[index])
            path = shard_name(index, fmt) if flat else shard_path(index, fmt)
            store.write_atomic(path, data)
            entries.append({"path": path, "format": fmt, "count": len(shards[index]), "sha256": sha256_bytes(data)})
    store.write_atomic(MANIFEST, json.dumps({"shards": entries}).encode())
    return store


@pytest.mark.parametrize("flat", [False, True], ids=["format-folders", "old-flat-build"])
@pytest.mark.parametrize("formats", [("wds",), ("parquet",), ("parquet", "wds")])
def test_iter_build_yields_all_samples_in_shard_order(tmp_path, formats, flat):
    shards = {0: [_sample(0), _sample(1, "jpg")], 1: [_sample(2)], 2: [_sample(3, "jpg")]}
    _write_build(str(tmp_path / "build"), shards, formats, flat=flat)
    assert [s.key for s in iter_build(str(tmp_path / "build"))] == ["00000000", "00000001", "00000002", "00000003"]
    assert list(iter_build(str(tmp_path / "build"))) == [s for i in sorted(shards) for s in shards[i]]


def test_iter_build_prefers_tar_when_both_formats_exist(tmp_path):
    store = _write_build(str(tmp_path / "build"), {0: [_sample(0)]}, ("parquet", "wds"))
    store.remove(shard_path(0, "parquet"))  # would fail to read if iter_build chose Parquet
    assert [s.key for s in iter_build(str(tmp_path / "build"))] == ["00000000"]


def test_iter_build_reads_fsspec_urls():
    url = f"memory://radiopaque-test-{uuid.uuid4().hex}"
    _write_build(url, {0: [_sample(0)], 1: [_sample(1)]}, ("wds",))
    assert [s.key for s in iter_build(url)] == ["00000000", "00000001"]


def test_iter_build_rejects_a_shard_that_differs_from_the_manifest(tmp_path):
    store = _write_build(str(tmp_path / "build"), {0: [_sample(0)]}, ("wds",))
    store.write_atomic(shard_path(0, "wds"), encode_tar([_sample(5)]))
    with pytest.raises(StoreError, match="sha256 is .*dataset.json says"):
        list(iter_build(str(tmp_path / "build")))


def test_iter_build_on_a_missing_build_names_it(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        list(iter_build(str(tmp_path / "nowhere")))
