"""A generated corpus of bad (and awkward but good) inputs, written into a temporary folder.

Nothing here is patient data: every image is a synthetic ramp, every DICOM is built from
scratch with pydicom, and the PHI file carries marker strings, not names.

`write_corpus(root)` writes the folder below and returns a `Corpus` saying, per file name,
what the build must do with it: use it (`good`), use it and count a colour conversion
(`converted`), or reject it at decode time with a reason matching a pattern (`bad`).

    good        ramp.png, ramp.jpg, plain.dcm, multiframe.dcm (2 frames: frame 0 is used),
                b"good-caf\\xe9.png" (a non-UTF-8 name, latin-1 "café")
    converted   rgb.png, palette.png, rgb.jpg (-> luminance, counted in "conversions")
    bad         zero.png and b"zero-caf\\xe9.png" (0 bytes), truncated.jpg, truncated.png,
                text.png (text named .png), nopixels.dcm (no PixelData),
                jp2-raw.dcm (says JPEG 2000, holds raw samples), unknown-syntax.dcm
                (transfer syntax UID 1.2.826.0.1.3680043.9.9999.1, which no codec knows),
                tiny-1px.png (1x1), huge-20000px.png and huge-20000px.jpg (20000 px per
                side in the header only: refused before decoding)

`write_csv_manifest(root)` writes a CSV whose rows are the list-stage bad cases (missing,
duplicate, absolute outside --root, '..', a missing latin-1 name) around three good rows
(one by an absolute path inside --root, one a latin-1 name).
`write_phi_dicom(path)` writes a grey CR whose every identifying element holds a marker.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian

from tests.generator.dicom_fixtures import cr_dataset

NON_UTF8_GOOD = b"good-caf\xe9.png"
NON_UTF8_BAD = b"zero-caf\xe9.png"
UNKNOWN_SYNTAX = "1.2.826.0.1.3680043.9.9999.1"

# One marker per identifying element; a marker must never appear in any output byte.
PHI_MARKERS = {
    "PatientName": "PHIMARK^NAME",
    "PatientID": "PHIMARK-ID-7731",
    "PatientBirthDate": "18991231",
    "AccessionNumber": "PHIMARK-ACC",
    "InstitutionName": "PHIMARK INSTITUTION",
    "DeviceSerialNumber": "PHIMARK-SERIAL",
    "OtherPatientIDs": "PHIMARK-OTHERID",
    "ReferringPhysicianName": "PHIMARK^REFERRER",
    "StationName": "PHIMARK-STATION",
}


@dataclass
class Corpus:
    root: Path
    good: list[str] = field(default_factory=list)  # display names (see `display`)
    converted: dict[str, str] = field(default_factory=dict)  # name -> "rgb" | "palette"
    bad: dict[str, str] = field(default_factory=dict)  # name -> regex the reject reason must match


def display(name: bytes | str) -> str:
    """How a file name appears in rejects.jsonl: undecodable bytes as \\xNN escapes."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    return raw.decode("utf-8", "backslashreplace")


def ramp(height: int = 48, width: int = 64, *, phase: int = 0) -> np.ndarray:
    """(H, W) uint8 diagonal ramp: not flat, so every decoder and window has something to do."""
    y, x = np.mgrid[0:height, 0:width]
    return ((x * 3 + y * 2 + phase) % 256).astype(np.uint8)


def png_bytes(pixels: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    image = Image.fromarray(pixels) if mode is None else Image.fromarray(pixels).convert(mode)
    image.save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _png_header_only(height: int, width: int) -> bytes:
    """A PNG whose IHDR claims height x width, with a tiny IDAT and IEND: only a header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def _jpeg_header_only(height: int, width: int) -> bytes:
    """SOI, a baseline SOF0 claiming height x width (1 component), then EOI: no scan data."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xd9"


def _save(ds: Dataset, path: Path | bytes) -> None:
    ds.save_as(path, enforce_file_format=True)


def _ramp12(height: int = 48, width: int = 64, phase: int = 0) -> np.ndarray:
    return ramp(height, width, phase=phase).astype(np.uint16) * 16  # 12-bit values


def multiframe_frames() -> np.ndarray:
    """(2, H, W) uint16: frame 0 a ramp, frame 1 its mirror image (so they cannot be confused)."""
    first = _ramp12()
    return np.stack([first, first[:, ::-1]])


def write_dicom_nopixels(path: Path, **elements: object) -> None:
    ds = cr_dataset(None, Rows=48, Columns=64, BitsAllocated=16, BitsStored=12, SamplesPerPixel=1,
                     PhotometricInterpretation="MONOCHROME2", **elements)
    _save(ds, path)


def write_dicom_jp2_raw(path: Path, **elements: object) -> None:
    """Transfer syntax JPEG 2000, but the single fragment holds raw little-endian samples."""
    ds = cr_dataset(_ramp12(), **elements)
    raw = ds.PixelData
    ds.file_meta.TransferSyntaxUID = JPEG2000
    ds.PixelData = encapsulate([raw])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    _save(ds, path)


def write_dicom_unknown_syntax(path: Path) -> None:
    """A native (raw) image whose file meta names a transfer syntax nobody defined."""
    _save(cr_dataset(_ramp12()), path)
    data = Path(path).read_bytes()
    old = ExplicitVRLittleEndian.encode() + b"\0"  # "1.2.840.10008.1.2.1" padded to even length
    new = UNKNOWN_SYNTAX.encode() + (b"\0" if len(UNKNOWN_SYNTAX) % 2 else b"")
    assert data.count(old) == 1, "expected one transfer syntax UID in the file meta"
    # Same-length swap keeps the file meta group length valid; lengths differ -> patch it.
    head, tail = data.split(old)
    vr_len_at = len(head) - 2  # explicit VR "UI" then a 2-byte length just before the value
    head = head[:vr_len_at] + struct.pack("<H", len(new))
    group_len_at = head.index(b"\x02\x00\x00\x00UL") + 8
    (group_len,) = struct.unpack("<I", head[group_len_at : group_len_at + 4])
    head = head[:group_len_at] + struct.pack("<I", group_len + len(new) - len(old)) + head[group_len_at + 4 :]
    Path(path).write_bytes(head + new + tail)


def write_phi_dicom(path: Path, *, pixels: bool = True) -> None:
    """A grey CR (or, with pixels=False, its header alone) with every PHI element = its marker."""
    elements = dict(PHI_MARKERS, PatientSex="F", PatientAge="045Y")
    if pixels:
        _save(cr_dataset(_ramp12(64, 64, phase=7), **elements), path)
    else:
        write_dicom_nopixels(path, **elements)


def write_corpus(root: Path) -> Corpus:
    """Write the corpus into `root` (created); see the module docstring for the list."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(root=root)
    fsroot = os.fsencode(root)

    def put(name: str | bytes, data: bytes) -> str:
        raw = name if isinstance(name, bytes) else name.encode()
        with open(os.path.join(fsroot, raw), "wb") as fh:
            fh.write(data)
        return display(raw)

    corpus.good.append(put("ramp.png", png_bytes(ramp())))
    corpus.good.append(put("ramp.jpg", jpeg_bytes(ramp(phase=40))))
    _save(cr_dataset(_ramp12(phase=80)), root / "plain.dcm")
    corpus.good.append("plain.dcm")
    _save(cr_dataset(multiframe_frames()), root / "multiframe.dcm")
    corpus.good.append("multiframe.dcm")
    corpus.good.append(put(NON_UTF8_GOOD, png_bytes(ramp(phase=120))))

    rgb = np.stack([ramp(), ramp(phase=60), ramp(phase=120)], axis=-1)
    corpus.converted[put("rgb.png", png_bytes(rgb))] = "rgb"
    corpus.converted[put("palette.png", png_bytes(rgb, mode="P"))] = "palette"
    corpus.converted[put("rgb.jpg", jpeg_bytes(rgb))] = "rgb"

    good_png, good_jpg = png_bytes(ramp()), jpeg_bytes(ramp())
    corpus.bad[put("zero.png", b"")] = r"^empty file \(0 bytes\)$"
    corpus.bad[put(NON_UTF8_BAD, b"")] = r"^empty file \(0 bytes\)$"
    corpus.bad[put("truncated.jpg", good_jpg[: len(good_jpg) * 2 // 3])] = r"truncated JPEG"
    corpus.bad[put("truncated.png", good_png[: len(good_png) * 2 // 3])] = r"truncated PNG"
    corpus.bad[put("text.png", b"patient list\nnot an image at all\n")] = r"^not an image: content is text"
    write_dicom_nopixels(root / "nopixels.dcm")
    corpus.bad["nopixels.dcm"] = r"no pixel data"
    write_dicom_jp2_raw(root / "jp2-raw.dcm")
    corpus.bad["jp2-raw.dcm"] = r"^corrupt DICOM pixel data"
    write_dicom_unknown_syntax(root / "unknown-syntax.dcm")
    corpus.bad["unknown-syntax.dcm"] = rf"unsupported DICOM transfer syntax: {UNKNOWN_SYNTAX}"
    corpus.bad[put("tiny-1px.png", png_bytes(np.zeros((1, 1), np.uint8)))] = r"1x1 px .*1 < MIN_SIDE_PX=32"
    corpus.bad[put("huge-20000px.png", _png_header_only(20000, 20000))] = r"20000 > MAX_SIDE_PX=16384"
    corpus.bad[put("huge-20000px.jpg", _jpeg_header_only(20000, 20000))] = r"20000 > MAX_SIDE_PX=16384"
    return corpus


def write_csv_manifest(root: Path) -> tuple[Path, dict[str, str], list[str]]:
    """`root`/images/ with a.png, b.png and b"lat\\xe9.png", plus `root`/images/list.csv.

    The CSV (bytes, latin-1 where a name is) lists: a.png; b.png by an absolute path inside
    --root (accepted); the latin-1 name (accepted); then the list-stage bad rows: a missing
    file, a duplicate of a.png, an absolute path outside --root (the file exists: only its
    place is wrong), a '..' path, and a missing latin-1 name.

    Returns (csv path, {source as rejects.jsonl shows it: reason regex}, accepted rows).
    """
    images = root / "images"
    images.mkdir(parents=True)
    (images / "a.png").write_bytes(png_bytes(ramp()))
    (images / "b.png").write_bytes(png_bytes(ramp(phase=90)))
    with open(os.path.join(os.fsencode(images), b"lat\xe9.png"), "wb") as fh:
        fh.write(png_bytes(ramp(phase=30)))
    outside = root / "outside.png"
    outside.write_bytes(png_bytes(ramp()))
    rows = [b"a.png", os.fsencode(images / "b.png"), b"lat\xe9.png", b"missing.png", b"a.png",
            os.fsencode(outside), b"../outside.png", b"gone\xe9.png"]
    csv_path = images / "list.csv"
    csv_path.write_bytes(b"Path,Sex,Age\n" + b"".join(row + b",Female,40\n" for row in rows))
    bad = {
        "missing.png": r"^file listed in manifest does not exist$",
        "a.png": r"^duplicate path in manifest$",
        str(outside): r"^absolute path outside --root",
        "../outside.png": r"^path with '\.\.' refused",
        "gone\\xe9.png": r"^file listed in manifest does not exist$",
    }
    return csv_path, bad, ["a.png", "b.png", display(b"lat\xe9.png")]
