"""Radiograph input: any supported file -> float32 pixels in [0, 1], bone bright.

Supported inputs, recognised by their bytes and never by their extension:

* PNG: grey (1-16 bit), grey + alpha, RGB(A), palette. 16-bit samples keep 16 bits.
* JPEG: 8-bit baseline, extended or progressive Huffman; grey, YCbCr/RGB or CMYK.
* DICOM: with the "DICM" prefix at byte 128, or a bare data set without preamble
  (first tag in group 0x0002 or 0x0008). See ``generator.inputs.dicom`` for the grey chain
  (Modality LUT, VOI, MONOCHROME1 inversion).

Every file is checked from its header before it is decoded: each side must lie in
[MIN_SIDE_PX, MAX_SIDE_PX]; PNG must end with its IEND chunk and JPEG with its EOI marker
(a cheap test that catches truncated downloads before a decoder sees them).

Colour and palette inputs become luminance with ITU-R BT.601 weights
(Y = 0.299 R + 0.587 G + 0.114 B, as Pillow's "L") in float, and the record says so in
``converted``. PNG/JPEG have no trustworthy pixel spacing (DPI fields are software
defaults), so their ``spacing_mm`` is None: spacing comes from a manifest or a default.
Rejections are ``RejectedInput`` with a one-line reason that never names the patient.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from generator.inputs import dicom, raster

MIN_SIDE_PX = 32
MAX_SIDE_PX = 16384

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_DICOM_PREFIX = b"DICM"
_DICOM_PREFIX_AT = 128
# Little-endian first tag of a DICOM data set written without preamble: (0002,xxxx) file
# meta or (0008,xxxx) identifying group.
_BARE_DICOM_GROUPS = (b"\x02\x00", b"\x08\x00")
# End markers are searched in this many trailing bytes: tolerates a little padding after
# them, and a truncated file cannot contain them there by chance in practice.
_TAIL_BYTES = 256
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601

_PNG_BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_COLOUR = {2: "rgb", 3: "palette", 6: "rgb"}  # colour type -> conversion; others grey
# SOF0 baseline, SOF1 extended, SOF2 progressive (Huffman): what libjpeg-turbo and nvJPEG
# both decode. Other SOFn (lossless, hierarchical, arithmetic) are refused up front.
_JPEG_SUPPORTED_SOF = (0xC0, 0xC1, 0xC2)
_JPEG_OTHER_SOF = (0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
_JPEG_NO_LENGTH = (0x01, *range(0xD0, 0xD8))  # TEM and RSTn carry no length field


@dataclass(frozen=True, kw_only=True)
class ImageRecord:
    """One decoded radiograph.

    pixels: ``(H, W)`` float32 in [0, 1], bone bright (MONOCHROME1 already inverted).
    spacing_mm: (row, col) mm per pixel; None when the file does not say.
    meta: only de-identified keys, always all of them: "modality", "view", "sex",
        "age_years" (int or None), "bits_stored", "photometric" (DICOM terms, also for
        PNG/JPEG: "MONOCHROME2", "RGB", "PALETTE COLOR"), "transfer_syntax" (DICOM keyword
        such as "JPEG2000", or "PNG"/"JPEG").
    converted: "rgb" or "palette" when colour was converted to luminance, else None.
    """

    pixels: np.ndarray
    spacing_mm: tuple[float, float] | None
    meta: dict
    converted: str | None = None


class RejectedInput(Exception):
    """Raised for a file that cannot become an ImageRecord; .reason is a one-line, human reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class _Header:
    kind: str  # "png", "jpeg" or "dicom"
    height: int
    width: int
    bit_depth: int = 8  # PNG/JPEG sample depth as stored
    colour: str | None = None  # PNG/JPEG: "rgb" or "palette"; None for grey
    bare_dicom: bool = False  # DICOM without preamble: pydicom must be forced


def probe(path: str | Path) -> tuple[int, int]:
    """Cheap header check (no full decode): returns (H, W) or raises RejectedInput.

    Refuses: unreadable or zero-byte files, content that is not PNG/JPEG/DICOM, truncated
    PNG/JPEG, unsupported JPEG or DICOM encodings, DICOM without pixel data, and sizes
    outside [MIN_SIDE_PX, MAX_SIDE_PX] per side.
    """
    header = _read_header(path)
    return header.height, header.width


def read_image(path: str | Path) -> ImageRecord:
    """Decode one file of any supported type on the CPU; raises RejectedInput."""
    (result,) = read_images([path])
    if isinstance(result, RejectedInput):
        raise result
    return result


def read_images(
    paths: Sequence[str | Path], *, device: str = "cpu"
) -> list[ImageRecord | RejectedInput]:
    """Decode many files; per-file failures come back as RejectedInput in their place.

    PNG/JPEG go through ``raster.decode_batch`` together (DALI; "mixed" GPU decode when
    ``device`` is "cuda" or "cuda:N" and a GPU is present), DICOM through
    ``generator.inputs.dicom`` one by one. Output pixels are always CPU numpy float32.

    Raises:
        ValueError: ``device`` is not "cpu", "cuda" or "cuda:N" (a caller error, not a file's).
    """
    raster.parse_device(device)  # a bad device is a caller error: fail before any work
    results: list[ImageRecord | RejectedInput | None] = [None] * len(paths)
    pending: list[tuple[int, _Header, raster.EncodedImage]] = []
    for index, path in enumerate(paths):
        try:
            header = _read_header(path)
            if header.kind == "dicom":
                results[index] = _read_dicom(path, header)
            else:
                pending.append((index, header, _encoded(path, header)))
        except RejectedInput as exc:
            results[index] = exc
    decoded = raster.decode_batch([item for _, _, item in pending], device=device)
    for (index, header, _), native in zip(pending, decoded):
        try:
            if isinstance(native, raster.DecodeError):
                raise RejectedInput(native.reason)
            results[index] = _raster_record(native, header)
        except RejectedInput as exc:
            results[index] = exc
    return results  # type: ignore[return-value]  # every slot was filled above


def _read_header(path: str | Path) -> _Header:
    path = Path(path)
    try:
        with path.open("rb") as stream:
            size = path.stat().st_size
            if size == 0:
                raise RejectedInput("empty file (0 bytes)")
            head = stream.read(_DICOM_PREFIX_AT + len(_DICOM_PREFIX))
            if head.startswith(_PNG_SIGNATURE):
                header = _png_header(stream, size)
            elif head.startswith(_JPEG_SIGNATURE):
                header = _jpeg_header(stream, size)
            else:
                header = _dicom_header(path, head)
    except OSError as exc:
        raise RejectedInput(f"unreadable file: {exc.strerror or type(exc).__name__}") from exc
    _check_size(header.height, header.width)
    return header


def _check_size(height: int, width: int) -> None:
    sides = sorted({height, width})
    violations = [f"{side} > MAX_SIDE_PX={MAX_SIDE_PX}" for side in sides if side > MAX_SIDE_PX]
    violations += [f"{side} < MIN_SIDE_PX={MIN_SIDE_PX}" for side in sides if side < MIN_SIDE_PX]
    if violations:
        raise RejectedInput(
            f"image {height}x{width} px (HxW) is outside the size limits: {', '.join(violations)}"
        )


def _png_header(stream: BinaryIO, size: int) -> _Header:
    stream.seek(len(_PNG_SIGNATURE))
    chunk = stream.read(8 + 13)  # length, type, then the 13-byte IHDR body
    if len(chunk) < 21 or chunk[4:8] != b"IHDR":
        raise RejectedInput("corrupt or truncated PNG: first chunk is not IHDR")
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", chunk[8:18])
    if bit_depth not in _PNG_BIT_DEPTHS.get(colour_type, ()):
        raise RejectedInput(
            f"corrupt PNG: bit depth {bit_depth} with colour type {colour_type} is not "
            "allowed by the PNG standard"
        )
    if b"IEND" not in _tail(stream, size):
        raise RejectedInput("corrupt or truncated PNG: no IEND chunk at the end of the file")
    return _Header(
        kind="png",
        height=height,
        width=width,
        bit_depth=bit_depth,
        colour=_PNG_COLOUR.get(colour_type),
    )


def _jpeg_header(stream: BinaryIO, size: int) -> _Header:
    """Walk the marker segments up to the frame header (SOFn); no entropy data is read."""
    stream.seek(2)
    while True:
        marker = stream.read(2)
        while marker[:1] == b"\xff" and marker[1:] == b"\xff":  # fill bytes before a marker
            marker = marker[1:] + stream.read(1)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise RejectedInput("corrupt or truncated JPEG: no frame header before the data")
        code = marker[1]
        if code in _JPEG_NO_LENGTH:
            continue
        if code in (0xD8, 0xD9, 0xDA):  # SOI, EOI or scan data before any frame header
            raise RejectedInput("corrupt JPEG: no frame header (SOFn) before the image data")
        if code in _JPEG_OTHER_SOF:
            raise RejectedInput(
                f"unsupported JPEG: frame type SOF{code - 0xC0} (supported: baseline, "
                "extended and progressive Huffman JPEG)"
            )
        is_frame = code in _JPEG_SUPPORTED_SOF
        segment = stream.read(8 if is_frame else 2)
        if len(segment) < (8 if is_frame else 2):
            raise RejectedInput("corrupt or truncated JPEG: segment cut short")
        if is_frame:
            # length (2), sample precision (1), lines (2), samples per line (2), components (1)
            _, precision, height, width, components = struct.unpack(">HBHHB", segment)
            break
        (length,) = struct.unpack(">H", segment)
        if length < 2:
            raise RejectedInput(f"corrupt JPEG: marker 0xFF{code:02X} has length {length}")
        stream.seek(length - 2, 1)
    if precision != 8:
        raise RejectedInput(f"unsupported JPEG: {precision}-bit samples (supported: 8-bit)")
    if components not in (1, 3, 4):
        raise RejectedInput(
            f"unsupported JPEG: {components} components (supported: 1 grey, 3 colour, 4 CMYK)"
        )
    if b"\xff\xd9" not in _tail(stream, size):
        raise RejectedInput("corrupt or truncated JPEG: no end-of-image marker at the end")
    return _Header(
        kind="jpeg",
        height=height,
        width=width,
        colour=None if components == 1 else "rgb",
    )


def _tail(stream: BinaryIO, size: int) -> bytes:
    stream.seek(max(0, size - _TAIL_BYTES))
    return stream.read(_TAIL_BYTES)


def _dicom_header(path: Path, head: bytes) -> _Header:
    prefixed = head[_DICOM_PREFIX_AT:] == _DICOM_PREFIX
    if not prefixed and head[:2] not in _BARE_DICOM_GROUPS:
        raise RejectedInput(_not_an_image(head))
    try:
        height, width = dicom.probe_dicom(path, force=not prefixed)
    except dicom.DicomError as exc:
        raise RejectedInput(exc.reason) from exc
    return _Header(kind="dicom", height=height, width=width, bare_dicom=not prefixed)


def _not_an_image(head: bytes) -> str:
    other = _other_image_format(head)
    if other is not None:
        return f"unsupported image format: {other} (supported: PNG, JPEG, DICOM)"
    # Tab, LF, VT, FF and CR are the only control bytes plain text contains.
    is_text = all(byte >= 0x20 or byte in b"\t\n\x0b\x0c\r" for byte in head)
    content = "text" if is_text else "binary data"
    return f"not an image: content is {content} with no PNG, JPEG or DICOM signature"


def _other_image_format(head: bytes) -> str | None:
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG 2000"
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":  # reserved bytes are zero
        return "BMP"
    return None


def _encoded(path: str | Path, header: _Header) -> raster.EncodedImage:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RejectedInput(f"unreadable file: {exc.strerror or type(exc).__name__}") from exc
    return raster.EncodedImage(
        data=data,
        fmt=header.kind.upper(),
        colour=header.colour is not None,
        bits=16 if header.bit_depth == 16 else 8,
    )


def _raster_record(native: np.ndarray, header: _Header) -> ImageRecord:
    """Decoded PNG/JPEG samples (uint8/uint16, (H, W) or (H, W, 3)) -> ImageRecord."""
    if native.shape[:2] != (header.height, header.width):
        raise RejectedInput(
            f"corrupt {header.kind.upper()}: decoded {native.shape[0]}x{native.shape[1]} px "
            f"but the header says {header.height}x{header.width}"
        )
    pixels = np.divide(native, np.float32(np.iinfo(native.dtype).max), dtype=np.float32)
    if pixels.ndim == 3:
        pixels = _luminance(pixels)
    photometric = {None: "MONOCHROME2", "rgb": "RGB", "palette": "PALETTE COLOR"}
    meta = {
        "modality": None,
        "view": None,
        "sex": None,
        "age_years": None,
        "bits_stored": header.bit_depth,
        "photometric": photometric[header.colour],
        "transfer_syntax": header.kind.upper(),
    }
    return ImageRecord(pixels=pixels, spacing_mm=None, meta=meta, converted=header.colour)


def _read_dicom(path: str | Path, header: _Header) -> ImageRecord:
    try:
        image = dicom.read_dicom(path, force=header.bare_dicom)
    except dicom.DicomError as exc:
        raise RejectedInput(exc.reason) from exc
    pixels = _luminance(image.pixels) if image.colour is not None else image.pixels
    return ImageRecord(
        pixels=pixels, spacing_mm=image.spacing_mm, meta=image.meta, converted=image.colour
    )


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 RGB in [0, 1] -> (H, W) float32 luminance in [0, 1] (BT.601)."""
    return np.clip(rgb @ _LUMA_WEIGHTS, 0.0, 1.0)
