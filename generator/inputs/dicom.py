"""DICOM radiographs to display pixels in [0, 1] with de-identified metadata (pydicom 3).

Compressed transfer syntaxes (JPEG, JPEG-LS, JPEG 2000, RLE) decode through pydicom's
plugins (pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg, Pillow). Grey images go through
the standard chain:

1. Modality LUT (Modality LUT Sequence, or Rescale Slope/Intercept).
2. VOI: the VOI LUT Sequence (preferred, as pydicom does) or Window Center/Width, each
   mapped to [0, 1] by its own output range. When the file has neither, or the window is
   absurd, a percentile window is used instead: the 0.5 and 99.5 percentiles of the
   modality-LUT output map to 0 and 1. A window is absurd when its width is <= 0 or
   pydicom refuses it, when it overlaps less than 1 % of the data's percentile range
   (window off the data), or when the data's percentile range spans less than 1 % of the
   window (window so wide that the image would come out flat).
3. MONOCHROME1 is inverted, so bone is bright in every output.

Colour images (RGB, YBR_*, PALETTE COLOR) are returned as RGB in [0, 1] for the caller to
convert to luminance. Multi-frame files contribute their first frame only. Values stay
float until the end: no 8-bit quantisation.

Privacy: metadata holds only modality, view, sex, age in years, bits stored, photometric
interpretation and transfer syntax. Reasons for rejection never quote element values; text
from third-party exceptions is scrubbed of the dataset's identifying values first.
`patient_id` reads the PatientID alone, for grouping a patient's films into one split; it
is kept in memory and never written.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    apply_windowing,
    get_decoder,
    pixel_array,
)
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from generator.inputs.plausible import spacing_problem

_FALLBACK_PERCENTILES = (0.5, 99.5)
_MIN_WINDOW_COVERAGE = 0.01
# Percentiles are estimated on a strided sub-grid of about this many pixels: the same
# answer to well under a grey level, at a fraction of the cost on 3000 x 3000 films.
_PERCENTILE_SAMPLE_PX = 1 << 20
# Elements read when only the header is needed: larger values (the pixel data) are skipped.
_HEADER_DEFER_SIZE = "4 KB"
# HIPAA Safe Harbor: ages over 89 are reported as one 90+ category.
_MAX_AGE_YEARS = 90

# A file starts with a 128-byte preamble and "DICM", or (bare, no preamble) with the file
# meta group 0002 or an identifying group 0008 element, little endian.
_PREAMBLE_BYTES = 128
_DICOM_PREFIX = b"DICM"
_BARE_GROUPS = (b"\x02\x00", b"\x08\x00")

_GREY = ("MONOCHROME1", "MONOCHROME2")
_RGB = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT")
_PALETTE = "PALETTE COLOR"
_PHI_KEYWORDS = (
    "PatientName",
    "PatientID",
    "OtherPatientIDs",
    "PatientBirthDate",
    "AccessionNumber",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "StationName",
    "DeviceSerialNumber",
    "StudyID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)
_CODE_STRING = re.compile(r"[A-Z0-9 _]{1,16}")
_AGE_STRING = re.compile(r"(\d{1,3})([DWMY]?)")


@dataclass(frozen=True, kw_only=True)
class DicomImage:
    """One decoded DICOM frame.

    pixels: float32 in [0, 1]; ``(H, W)`` bone bright for grey sources, ``(H, W, 3)`` RGB for
    colour ones. spacing_mm: (row, col) mm per pixel or None. meta: de-identified keys only.
    colour: "rgb" or "palette" for colour sources, else None.
    """

    pixels: np.ndarray
    spacing_mm: tuple[float, float] | None
    meta: dict
    colour: str | None


class DicomError(Exception):
    """The file cannot be used; ``reason`` is one line and free of patient data."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def probe_dicom(path: str | Path, *, force: bool = False) -> tuple[int, int]:
    """Read the header only and check it can be decoded; returns (rows, columns).

    Args:
        force: read a file without the 128-byte preamble and "DICM" prefix.

    Raises:
        DicomError: unreadable header, no pixel data, unsupported transfer syntax or
            photometric interpretation.
    """
    ds = _read_dataset(path, force=force, header_only=True)
    with _rejecting("unusable DICOM header", ds):
        return _check_header(ds)


def read_dicom(path: str | Path, *, force: bool = False) -> DicomImage:
    """Decode the first frame of a DICOM file to display pixels; see the module docstring.

    Raises:
        DicomError: as ``probe_dicom``, or corrupt pixel data, malformed LUTs, or a blank
            grey image (every pixel equal, so no window can be defined).
    """
    ds = _read_dataset(path, force=force, header_only=False)
    with _rejecting("unusable DICOM header", ds):
        _check_header(ds)
    spacing_mm = _spacing_mm(ds)  # before decoding: an implausible spacing rejects the file
    with _rejecting("corrupt DICOM pixel data", ds):
        stored = pixel_array(ds, index=0)  # first frame only: (H, W) or (H, W, 3)
    with _rejecting("unusable DICOM pixel module", ds):
        photometric = str(ds.PhotometricInterpretation)
        if photometric in _GREY:
            pixels, colour = _grey_display(stored, ds), None
        elif photometric == _PALETTE:
            rgb = apply_color_lut(stored, ds)
            pixels, colour = rgb / np.iinfo(rgb.dtype).max, "palette"
        else:  # pixel_array has already converted YBR_* to RGB
            pixels, colour = stored / (2.0 ** int(ds.BitsStored) - 1.0), "rgb"
        return DicomImage(
            pixels=np.clip(pixels, 0.0, 1.0).astype(np.float32),
            spacing_mm=spacing_mm,
            meta=_meta(ds),
            colour=colour,
        )


def patient_id(path: str | Path) -> str | None:
    """The PatientID of a DICOM file (with or without preamble), for grouping a patient's
    films into one split; None when the file is not DICOM, its header cannot be read or
    the element is absent or blank. The value is patient data: callers keep it in memory
    and write only a salted hash of it."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(_PREAMBLE_BYTES + len(_DICOM_PREFIX))
        prefixed = head[_PREAMBLE_BYTES:] == _DICOM_PREFIX
        if not prefixed and head[:2] not in _BARE_GROUPS:
            return None
        # pydicom warnings can quote element values (patient data): never let them out.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=not prefixed, stop_before_pixels=True, specific_tags=["PatientID"])
            value = ds.get("PatientID")
    except Exception:  # an unreadable header only means the next grouping rule decides
        return None
    text = str(value).strip() if value is not None else ""
    return text or None


@contextlib.contextmanager
def _rejecting(what: str, ds: Dataset) -> Iterator[None]:
    """Turn any failure inside into ``DicomError(f"{what}: ...")``, patient data scrubbed.

    pydicom, its codec plugins and numpy raise many unrelated types on malformed files, and
    pydicom warnings can quote element values (patient data), so those are silenced too.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except DicomError:
        raise
    except Exception as exc:
        raise DicomError(f"{what}: {_scrubbed(exc, ds)}") from exc


def _read_dataset(path: str | Path, *, force: bool, header_only: bool) -> Dataset:
    try:
        # pydicom warnings can quote element values (patient data): never let them out.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                path, force=force, defer_size=_HEADER_DEFER_SIZE if header_only else None
            )
    except Exception as exc:  # pydicom raises many types on malformed files
        # No dataset to scrub the message with, so only the exception type is reported.
        raise DicomError(f"unreadable DICOM header ({type(exc).__name__})") from exc
    if "TransferSyntaxUID" not in ds.file_meta:
        # Files without a preamble carry no file meta: name the encoding pydicom detected.
        implicit_vr, little_endian = ds.original_encoding
        if not little_endian:
            raise DicomError("unsupported DICOM: big-endian data set without file meta")
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit_vr else ExplicitVRLittleEndian
        )
    return ds


def _check_header(ds: Dataset) -> tuple[int, int]:
    if "PixelData" not in ds:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise DicomError("unsupported DICOM: float pixel data (supported: integer)")
        raise DicomError("DICOM has no pixel data (no PixelData element)")
    if "Rows" not in ds or "Columns" not in ds:
        raise DicomError("DICOM has pixel data but no Rows/Columns")
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise DicomError(
            f"unsupported DICOM transfer syntax: {syntax.name} (supported: uncompressed, "
            "deflated, RLE, JPEG, JPEG-LS, JPEG 2000)"
        ) from None
    if not decoder.is_available:
        raise DicomError(
            f"unsupported DICOM transfer syntax: {syntax.name} (no decoder plugin installed)"
        )
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric not in (*_GREY, *_RGB, _PALETTE):
        raise DicomError(
            f"unsupported photometric interpretation: {photometric or 'missing'} "
            f"(supported: {', '.join((*_GREY, *_RGB, _PALETTE))})"
        )
    return int(ds.Rows), int(ds.Columns)


def _grey_display(stored: np.ndarray, ds: Dataset) -> np.ndarray:
    """Stored values (H, W) int -> display (H, W) float64 in [0, 1], bone bright."""
    if stored.ndim != 2:
        raise DicomError(f"expected one grey frame (H, W), got shape {stored.shape}")
    values = apply_modality_lut(stored, ds).astype(np.float64)
    step = max(1, math.isqrt(values.size // _PERCENTILE_SAMPLE_PX))
    data_lo, data_hi = np.percentile(values[::step, ::step], _FALLBACK_PERCENTILES)
    if data_hi <= data_lo:
        # Nearly constant image with a few outliers: the full range is all there is.
        data_lo, data_hi = float(values.min()), float(values.max())
    if data_hi <= data_lo:
        raise DicomError(f"blank image: every pixel has the value {data_lo:g}")
    display = _voi_display(values, ds, data_lo, data_hi)
    if display is None:
        display = np.clip((values - data_lo) / (data_hi - data_lo), 0.0, 1.0)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        # Low values are bright in MONOCHROME1; the Presentation LUT Shape of a conformant
        # file (INVERSE) describes this same inversion, so it is not applied twice.
        display = 1.0 - display
    return display


def _voi_display(
    values: np.ndarray, ds: Dataset, data_lo: float, data_hi: float
) -> np.ndarray | None:
    """The file's own VOI mapped to [0, 1], or None when it has none or it is absurd."""
    try:
        if _has_voi_lut(ds):
            n_entries, first_mapped = _lut_domain(ds)
            window = (first_mapped, first_mapped + n_entries - 1)
            if not _window_usable(window, data_lo, data_hi):
                return None
            table = apply_voi(np.arange(window[0], window[1] + 1), ds)
            out_lo, out_hi = float(table.min()), float(table.max())
            mapped = apply_voi(values, ds)
        elif "WindowCenter" in ds and "WindowWidth" in ds:
            center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
            window = (center - width / 2.0, center + width / 2.0)
            if width <= 0 or not _window_usable(window, data_lo, data_hi):
                return None
            # +-inf lands on the output range ends for every VOI LUT Function.
            ends = apply_windowing(np.array([-np.inf, np.inf]), ds)
            out_lo, out_hi = float(ends.min()), float(ends.max())
            mapped = apply_windowing(values, ds)
        else:
            return None
    except (ValueError, TypeError, NotImplementedError, AttributeError):
        return None  # pydicom refuses this VOI (e.g. LINEAR width < 1, odd LUT depth)
    if out_hi <= out_lo:
        return None
    return np.clip((mapped - out_lo) / (out_hi - out_lo), 0.0, 1.0)


def _has_voi_lut(ds: Dataset) -> bool:
    sequence = ds.get("VOILUTSequence")
    return bool(sequence) and "LUTDescriptor" in sequence[0] and "LUTData" in sequence[0]


def _lut_domain(ds: Dataset) -> tuple[int, int]:
    descriptor = ds.VOILUTSequence[0].LUTDescriptor
    return int(descriptor[0]) or 1 << 16, int(descriptor[1])  # 0 entries means 65536


def _window_usable(window: tuple[float, float], data_lo: float, data_hi: float) -> bool:
    """See the module docstring for the rule; both ranges in modality-LUT units."""
    window_lo, window_hi = window
    data_span, window_span = data_hi - data_lo, window_hi - window_lo
    overlap = min(window_hi, data_hi) - max(window_lo, data_lo)
    return (
        window_span > 0
        and overlap >= _MIN_WINDOW_COVERAGE * data_span
        and data_span >= _MIN_WINDOW_COVERAGE * window_span
    )


def _first(value: object) -> float:
    """Window Center/Width may hold several alternative views: the first is the default."""
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0]
    return float(value)  # type: ignore[arg-type]  # DS values convert to float


def _spacing_mm(ds: Dataset) -> tuple[float, float] | None:
    """(row, col) mm per pixel from Pixel Spacing, else Imager Pixel Spacing, else None.

    Imager Pixel Spacing is measured at the detector, so it overstates anatomy by the
    geometric magnification (about 1.1 for a PA chest); it is still the best the file says.
    Zero, negative or non-finite values (e.g. RG1's "0.000\\0.000") count as absent; a
    positive value outside `generator.inputs.plausible`'s range is a DicomError (a reject).
    """
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        try:
            row_mm, col_mm = (float(v) for v in value)
        except (TypeError, ValueError):
            continue
        if all(math.isfinite(v) and v > 0 for v in (row_mm, col_mm)):
            problem = spacing_problem((row_mm, col_mm), keyword)
            if problem:
                raise DicomError(problem)
            return row_mm, col_mm
    return None


def _meta(ds: Dataset) -> dict:
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    sex = _code(ds.get("PatientSex"))
    return {
        "modality": _code(ds.get("Modality")),
        "view": _code(ds.get("ViewPosition")),
        "sex": sex if sex in ("M", "F", "O") else None,
        "age_years": _age_years(ds.get("PatientAge")),
        "bits_stored": int(ds.BitsStored),
        "photometric": str(ds.PhotometricInterpretation),
        "transfer_syntax": syntax.keyword or syntax.name,
    }


def _code(value: object) -> str | None:
    """A short code string (CS) such as "PA" or "CR"; anything else is dropped."""
    if not isinstance(value, str):
        return None
    value = value.strip().upper()
    return value if _CODE_STRING.fullmatch(value) else None


def _age_years(value: object) -> int | None:
    """DICOM Age String "045Y" -> 45; days, weeks and months round down to whole years.

    A bare number ("62", seen in the wild though not conformant) is read as years.
    """
    match = _AGE_STRING.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    units_per_year = {"D": 365, "W": 52, "M": 12, "Y": 1, "": 1}[match[2]]
    return min(int(match[1]) // units_per_year, _MAX_AGE_YEARS)


def _scrubbed(exc: BaseException, ds: Dataset, limit: int = 200) -> str:
    """First line of an exception's text with the dataset's identifying values removed."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    for keyword in _PHI_KEYWORDS:
        value = str(ds.get(keyword) or "").strip()
        if value:
            text = text.replace(value, "<redacted>")
    return text[:limit]
