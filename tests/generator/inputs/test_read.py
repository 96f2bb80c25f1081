"""PNG/JPEG input, content sniffing, limits and batching (generator.inputs.read, generator.inputs.raster).

Fixtures are generated in tmp_path; the NIH PNGs in ../shared/data are used only where noted.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generator.inputs import raster as decode
from generator.inputs import read as images
from generator.inputs.read import MAX_SIDE_PX, MIN_SIDE_PX, ImageRecord, RejectedInput
from tests.generator.dicom_fixtures import cr_dataset

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
RNG_SEED = 20240611
needs_dali = pytest.mark.skipif(not decode.dali_available(), reason="nvidia.dali not importable")


def _cuda_present() -> bool:
    if not decode.dali_available():
        return False
    from nvidia.dali import backend

    return backend.GetCUDADeviceCount() > 0


DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not _cuda_present(), reason="no CUDA device visible to DALI"),
        ],
    ),
]


def _grey8(height: int = 48, width: int = 64) -> np.ndarray:
    return np.random.default_rng(RNG_SEED).integers(0, 256, (height, width), dtype=np.uint8)


def _save(path: Path, image: Image.Image, fmt: str, **options: object) -> Path:
    image.save(path, format=fmt, **options)
    return path


def _reason(result: object) -> str:
    assert isinstance(result, RejectedInput), f"expected RejectedInput, got {result!r}"
    return result.reason


def _write_dicom(path: Path, pixels: np.ndarray) -> Path:
    cr_dataset(pixels).save_as(path, enforce_file_format=True)
    return path


# --- decoding values ---------------------------------------------------------------------


def test_png_8bit_values_exact(tmp_path: Path) -> None:
    grey = _grey8()
    record = images.read_image(_save(tmp_path / "a.png", Image.fromarray(grey), "PNG"))
    assert record.pixels.dtype == np.float32 and record.pixels.shape == grey.shape
    np.testing.assert_array_equal(record.pixels, grey.astype(np.float32) / np.float32(255))
    assert record.converted is None and record.spacing_mm is None
    assert record.meta == {
        "modality": None,
        "view": None,
        "sex": None,
        "age_years": None,
        "bits_stored": 8,
        "photometric": "MONOCHROME2",
        "transfer_syntax": "PNG",
    }


@pytest.mark.parametrize("device", DEVICES)
def test_png_16bit_keeps_16_bits(tmp_path: Path, device: str) -> None:
    grey = np.full((40, 50), 1000, dtype=np.uint16)
    grey[:, 25:] = 1001  # one 16-bit step: lost by any 8-bit path
    grey[0, 0], grey[-1, -1] = 0, 65535
    path = _save(tmp_path / "deep.png", Image.fromarray(grey), "PNG")
    (record,) = images.read_images([path], device=device)
    assert isinstance(record, ImageRecord)
    assert record.meta["bits_stored"] == 16
    np.testing.assert_array_equal(record.pixels, grey.astype(np.float32) / np.float32(65535))
    assert record.pixels[5, 30] > record.pixels[5, 10]
    assert record.pixels[-1, -1] == 1.0 and record.pixels[0, 0] == 0.0


def test_rgb_jpeg_becomes_luminance(tmp_path: Path) -> None:
    colour = (200, 100, 50)
    path = _save(tmp_path / "c.jpg", Image.new("RGB", (64, 48), colour), "JPEG", quality=95)
    record = images.read_image(path)
    expected = (0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]) / 255
    assert record.converted == "rgb" and record.meta["photometric"] == "RGB"
    assert record.pixels.shape == (48, 64)
    assert np.abs(record.pixels - expected).max() < 3 / 255


def test_rgb_png_luminance_exact(tmp_path: Path) -> None:
    rgb = np.random.default_rng(RNG_SEED).integers(0, 256, (40, 36, 3), dtype=np.uint8)
    record = images.read_image(_save(tmp_path / "c.png", Image.fromarray(rgb), "PNG"))
    expected = rgb.astype(np.float64) / 255 @ np.array([0.299, 0.587, 0.114])
    assert record.converted == "rgb"
    np.testing.assert_allclose(record.pixels, expected, atol=1e-6)


def test_palette_png_becomes_luminance(tmp_path: Path) -> None:
    palette_image = Image.new("P", (40, 36))
    palette_image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (253 * 3))
    palette_image.paste(1, (0, 0, 20, 36))  # left half red, right half blue
    palette_image.paste(2, (20, 0, 40, 36))
    record = images.read_image(_save(tmp_path / "p.png", palette_image, "PNG"))
    assert record.converted == "palette" and record.meta["photometric"] == "PALETTE COLOR"
    np.testing.assert_allclose(record.pixels[:, :20], 0.299, atol=1e-6)
    np.testing.assert_allclose(record.pixels[:, 20:], 0.114, atol=1e-6)


def test_cmyk_jpeg_becomes_luminance(tmp_path: Path) -> None:
    rgb = Image.new("RGB", (40, 32), (30, 160, 90))
    record = images.read_image(_save(tmp_path / "k.jpg", rgb.convert("CMYK"), "JPEG"))
    expected = (0.299 * 30 + 0.587 * 160 + 0.114 * 90) / 255
    assert record.converted == "rgb"
    assert np.abs(record.pixels - expected).max() < 4 / 255


def test_probe_reads_size_from_header(tmp_path: Path) -> None:
    png = _save(tmp_path / "a.png", Image.fromarray(_grey8(40, 70)), "PNG")
    jpeg = _save(tmp_path / "a.jpg", Image.fromarray(_grey8(50, 90)), "JPEG")
    assert images.probe(png) == (40, 70)
    assert images.probe(jpeg) == (50, 90)


# --- rejected inputs ---------------------------------------------------------------------


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(RejectedInput, match="empty file"):
        images.probe(path)


def test_text_named_png_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("patient was fine, see attached\n")
    with pytest.raises(RejectedInput, match="not an image: content is text"):
        images.read_image(path)


def test_other_image_format_is_named(tmp_path: Path) -> None:
    path = _save(tmp_path / "x.png", Image.fromarray(_grey8()), "GIF")
    with pytest.raises(RejectedInput, match="unsupported image format: GIF"):
        images.probe(path)


@pytest.mark.parametrize("fmt,suffix", [("JPEG", "jpg"), ("PNG", "png")])
def test_truncated_file(tmp_path: Path, fmt: str, suffix: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(_grey8(64, 64)).save(buffer, format=fmt)
    path = tmp_path / f"cut.{suffix}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) * 2 // 3])
    with pytest.raises(RejectedInput, match=f"corrupt or truncated {fmt}"):
        images.read_image(path)


def test_lossless_jpeg_refused_from_header(tmp_path: Path) -> None:
    data = bytearray(_save(tmp_path / "a.jpg", Image.fromarray(_grey8()), "JPEG").read_bytes())
    data[data.index(b"\xff\xc0") + 1] = 0xC3  # relabel the frame as SOF3 (lossless)
    path = tmp_path / "lossless.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(RejectedInput, match="unsupported JPEG: frame type SOF3"):
        images.probe(path)


def test_one_pixel_png_refused_with_limit(tmp_path: Path) -> None:
    path = _save(tmp_path / "dot.png", Image.new("L", (1, 1)), "PNG")
    with pytest.raises(RejectedInput, match=f"MIN_SIDE_PX={MIN_SIDE_PX}"):
        images.probe(path)


def test_oversized_png_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(tmp_path / "long.png", Image.new("L", (20, 20000)), "PNG")  # H=20000, W=20
    with pytest.raises(RejectedInput, match=f"MAX_SIDE_PX={MAX_SIDE_PX}"):
        images.probe(path)
    seen: list[int] = []
    monkeypatch.setattr(
        decode, "decode_batch", lambda items, *, device: seen.append(len(items)) or []
    )
    (result,) = images.read_images([path])
    assert "MAX_SIDE_PX" in _reason(result)
    assert seen == [0]  # the decoder never saw it


def test_corrupt_png_in_batch_keeps_the_others(tmp_path: Path) -> None:
    grey = _grey8()
    good = _save(tmp_path / "good.png", Image.fromarray(grey), "PNG")
    data = bytearray(good.read_bytes())
    start = data.index(b"IDAT") + 40
    data[start : start + 20] = bytes(20)  # zlib/CRC error inside, header and IEND intact
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    results = images.read_images([good, bad, good])
    assert "corrupt or truncated PNG" in _reason(results[1])
    for record in (results[0], results[2]):
        assert isinstance(record, ImageRecord)
        np.testing.assert_array_equal(record.pixels, grey / np.float32(255))


def test_mixed_batch_keeps_positions(tmp_path: Path) -> None:
    png = _save(tmp_path / "a.png", Image.fromarray(_grey8()), "PNG")
    jpeg = _save(tmp_path / "b.jpg", Image.fromarray(_grey8()), "JPEG")
    text = tmp_path / "c.png"
    text.write_text("hello")
    dcm = _write_dicom(tmp_path / "d.dcm", np.arange(64 * 48, dtype=np.uint16).reshape(48, 64))
    empty = tmp_path / "e.jpg"
    empty.write_bytes(b"")
    deep = _save(tmp_path / "f.png", Image.fromarray(_grey8().astype(np.uint16) * 257), "PNG")
    missing = tmp_path / "nope.png"
    results = images.read_images([png, text, dcm, jpeg, empty, deep, missing])
    kinds = [r.meta["transfer_syntax"] if isinstance(r, ImageRecord) else None for r in results]
    assert kinds == ["PNG", None, "ExplicitVRLittleEndian", "JPEG", None, "PNG", None]
    assert "not an image" in _reason(results[1])
    assert "empty file" in _reason(results[4])
    assert "unreadable file" in _reason(results[6])
    np.testing.assert_array_equal(results[5].pixels, results[0].pixels)  # 8-bit * 257 / 65535


def test_unknown_device_fails_fast(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'cpu', 'cuda' or 'cuda:N'"):
        images.read_images([], device="tpu")


# --- decoder paths agree -----------------------------------------------------------------


def _encoded(path: Path, *, colour: bool = False, bits: int = 8) -> decode.EncodedImage:
    fmt = "PNG" if path.suffix == ".png" else "JPEG"
    return decode.EncodedImage(data=path.read_bytes(), fmt=fmt, colour=colour, bits=bits)


@needs_dali
@pytest.mark.parametrize("device", DEVICES)
def test_dali_and_pil_agree(tmp_path: Path, device: str) -> None:
    grey, rgb = _grey8(), np.random.default_rng(RNG_SEED).integers(0, 256, (48, 64, 3), np.uint8)
    smooth = np.add.outer(np.arange(48), np.arange(64)).astype(np.uint8) * 2
    deep = grey.astype(np.uint16) * 250 + 3  # uses the low byte too
    items = [
        _encoded(_save(tmp_path / "g.png", Image.fromarray(grey), "PNG")),
        _encoded(_save(tmp_path / "d.png", Image.fromarray(deep), "PNG"), bits=16),
        _encoded(_save(tmp_path / "c.png", Image.fromarray(rgb), "PNG"), colour=True),
        _encoded(_save(tmp_path / "g.jpg", Image.fromarray(smooth), "JPEG", quality=90)),
        _encoded(_save(tmp_path / "c.jpg", Image.fromarray(rgb), "JPEG", quality=90), colour=True),
    ]
    dali = decode.decode_batch(items, device=device)
    pil = [decode.decode_pil(item) for item in items]
    for item, a, b in zip(items, dali, pil):
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        if item.fmt == "PNG":
            np.testing.assert_array_equal(a, b)
        else:
            assert np.abs(a.astype(int) - b.astype(int)).max() <= 2  # grey levels of 255


def test_pil_fallback_when_dali_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [
        _save(tmp_path / "g.png", Image.fromarray(_grey8()), "PNG"),
        _save(tmp_path / "g.jpg", Image.fromarray(_grey8()), "JPEG"),
    ]
    expected = [r.pixels for r in images.read_images(paths)]
    monkeypatch.setattr(decode, "dali_available", lambda: False)
    fallback = images.read_images(paths)
    for record, pixels in zip(fallback, expected):
        np.testing.assert_array_equal(record.pixels, pixels)


def test_shared_nih_png_batch() -> None:
    folder = SHARED_DATA / "cxr-nih"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (present on developer machines and CI)")
    paths = sorted(folder.glob("*.png"))[:4]
    for path, record in zip(paths, images.read_images(paths)):
        assert isinstance(record, ImageRecord)
        assert record.pixels.shape == (1024, 1024) and record.converted is None
        reference = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255
        np.testing.assert_array_equal(record.pixels, reference)

