"""DICOM input (generator.inputs.dicom through generator.inputs.read): windowing, inversion, privacy.

Real files come from ../shared/data/dicom (skipped when absent) and from the pydicom-data
package (always present: the project's built-in sample). Other fixtures are generated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import MPEG2MPML

from generator.inputs import read as images
from generator.inputs.read import ImageRecord, RejectedInput
from tests.generator.dicom_fixtures import cr_dataset

DICOM_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "dicom"
META_KEYS = {
    "modality",
    "view",
    "sex",
    "age_years",
    "bits_stored",
    "photometric",
    "transfer_syntax",
}
PHI_MARKER = "PHI-MARKER-XYZ"
PHI_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "AccessionNumber",
    "InstitutionName",
    "DeviceSerialNumber",
)


def _shared(name: str) -> Path:
    path = DICOM_DIR / name
    if not path.is_file():
        pytest.skip(f"shared data not found at {path} (present on developer machines and CI)")
    return path


def _builtin_rg1() -> Path:
    return Path(pydicom.data.get_testdata_file("RG1_UNCR.dcm"))


def _assert_bone_bright(pixels: np.ndarray) -> None:
    """Chest PA: the mediastinum/spine column is brighter than both lung fields."""
    height, width = pixels.shape
    rows = slice(height // 3, 2 * height // 3)
    centre = pixels[rows, width * 9 // 20 : width * 11 // 20].mean()
    right_lung = pixels[rows, width // 5 : width * 2 // 5].mean()
    left_lung = pixels[rows, width * 3 // 5 : width * 4 // 5].mean()
    assert centre > max(right_lung, left_lung) + 0.1, (centre, right_lung, left_lung)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def _write(path: Path, ds: Dataset, *, preamble: bool = True) -> Path:
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:  # a bare implicit-VR data set: no preamble, no "DICM", no file meta
        del ds.file_meta
        ds.save_as(path, implicit_vr=True, little_endian=True)
    return path


def _ramp(height: int = 64, width: int = 80, top: int = 4095) -> np.ndarray:
    """(H, W) uint16 rising left to right from 0 to ``top``."""
    row = np.round(np.linspace(0, top, width)).astype(np.uint16)
    return np.tile(row, (height, 1))


# --- shared real files -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,spacing_mm",
    [
        ("RG1_J2KI.dcm", None),  # Pixel Spacing is "0.000\0.000": treated as absent
        ("RG1_JLSN.dcm", None),
        ("siim_cr_chest_pa_clips.dcm", (0.168, 0.168)),
        ("Fake_MONOHR1.dcm", (0.168, 0.168)),
    ],
)
def test_shared_dicom_decodes(name: str, spacing_mm: tuple[float, float] | None) -> None:
    path = _shared(name)
    header = pydicom.dcmread(path, stop_before_pixels=True)
    assert images.probe(path) == (header.Rows, header.Columns)
    record = images.read_image(path)
    assert record.pixels.dtype == np.float32
    assert record.pixels.shape == (header.Rows, header.Columns)
    assert 0.0 <= record.pixels.min() and record.pixels.max() <= 1.0
    assert record.pixels.std() > 0.1  # a real image, not a flat window
    assert record.spacing_mm == (pytest.approx(spacing_mm) if spacing_mm else None)
    assert set(record.meta) == META_KEYS
    assert record.meta["modality"] == "CR" and record.meta["view"] == "PA"
    assert record.converted is None


@pytest.mark.parametrize("name", ["RG1_J2KI.dcm", "RG1_JLSN.dcm", "siim_cr_chest_pa_clips.dcm"])
def test_shared_chest_is_bone_bright(name: str) -> None:
    _assert_bone_bright(images.read_image(_shared(name)).pixels)


def test_rg1_meta_and_shape() -> None:
    record = images.read_image(_shared("RG1_J2KI.dcm"))
    assert record.pixels.shape == (1955, 1841)
    assert record.meta == {
        "modality": "CR",
        "view": "PA",
        "sex": "F",
        "age_years": None,
        "bits_stored": 15,
        "photometric": "MONOCHROME1",
        "transfer_syntax": "JPEG2000",
    }


def test_fake_monochrome1_is_inverse_of_siim() -> None:
    siim = images.read_image(_shared("siim_cr_chest_pa_clips.dcm")).pixels
    fake = images.read_image(_shared("Fake_MONOHR1.dcm")).pixels
    assert _correlation(siim, fake) < -0.99
    np.testing.assert_allclose(fake, 1.0 - siim, atol=1e-6)


def test_rg1_jpeg_ls_matches_jpeg_2000() -> None:
    jls = images.read_image(_shared("RG1_JLSN.dcm")).pixels
    j2k = images.read_image(_shared("RG1_J2KI.dcm")).pixels
    assert _correlation(jls, j2k) > 0.95
    assert np.abs(jls - j2k).mean() < 0.01


# --- built-in sample (pydicom-data; no shared folder needed) ------------------------------


def test_builtin_rg1_decodes_bone_bright() -> None:
    record = images.read_image(_builtin_rg1())
    assert record.pixels.shape == (1955, 1841) and record.pixels.dtype == np.float32
    assert 0.0 <= record.pixels.min() and record.pixels.max() <= 1.0
    assert record.spacing_mm is None
    assert record.meta["photometric"] == "MONOCHROME1" and record.meta["bits_stored"] == 15
    _assert_bone_bright(record.pixels)
    # The file's window (centre 15000, width 30000) is used: stored 0 -> 1, 30000 -> 0.
    stored = pydicom.dcmread(_builtin_rg1()).pixel_array.astype(np.float64)
    expected = 1.0 - np.clip((stored - 14999.5) / 29999 + 0.5, 0, 1)
    np.testing.assert_allclose(record.pixels, expected, atol=1e-6)
    assert len(np.unique(record.pixels[::7, ::7])) > 256  # no 8-bit quantisation


# --- windowing rules (generated) ---------------------------------------------------------


def test_valid_window_is_applied(tmp_path: Path) -> None:
    ds = cr_dataset(_ramp(), WindowCenter=1024, WindowWidth=2048)
    pixels = images.read_image(_write(tmp_path / "w.dcm", ds)).pixels
    stored = _ramp().astype(np.float64)
    np.testing.assert_allclose(pixels, np.clip((stored - 1023.5) / 2047 + 0.5, 0, 1), atol=1e-6)
    assert pixels[:, -1].min() == 1.0  # above the window saturates


@pytest.mark.parametrize(
    "center,width",
    [
        (2048, 0),  # width <= 0
        (100000, 100),  # window far above the data
        (2048, 10),  # covers < 1 % of the data range
        (2048, 10_000_000),  # data spans < 1 % of the window: a flat image
    ],
)
def test_absurd_window_falls_back_to_percentiles(
    tmp_path: Path, center: float, width: float
) -> None:
    ds = cr_dataset(_ramp(), WindowCenter=center, WindowWidth=width)
    pixels = images.read_image(_write(tmp_path / "w.dcm", ds)).pixels
    stored = _ramp().astype(np.float64)
    lo, hi = np.percentile(stored, [0.5, 99.5])
    np.testing.assert_allclose(pixels, np.clip((stored - lo) / (hi - lo), 0, 1), atol=1e-6)


def test_missing_window_uses_percentiles_and_keeps_precision(tmp_path: Path) -> None:
    pixels = images.read_image(_write(tmp_path / "w.dcm", cr_dataset(_ramp(width=4096)))).pixels
    assert pixels.min() == 0.0 and pixels.max() == 1.0
    assert len(np.unique(pixels)) > 3000  # 12-bit steps survive


def test_rescale_then_window_in_rescaled_units(tmp_path: Path) -> None:
    ds = cr_dataset(
        _ramp(), RescaleSlope=2, RescaleIntercept=-1000, WindowCenter=3000, WindowWidth=4000
    )
    pixels = images.read_image(_write(tmp_path / "r.dcm", ds)).pixels
    values = _ramp().astype(np.float64) * 2 - 1000
    np.testing.assert_allclose(pixels, np.clip((values - 2999.5) / 3999 + 0.5, 0, 1), atol=1e-6)


def test_voi_lut_sequence_is_preferred(tmp_path: Path) -> None:
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [4096, 0, 16])
    item.add_new("LUTData", "US", (np.arange(4096) ** 2 // 256).tolist())  # a gamma-like curve
    ds = cr_dataset(_ramp(), WindowCenter=1024, WindowWidth=2048, VOILUTSequence=[item])
    pixels = images.read_image(_write(tmp_path / "lut.dcm", ds)).pixels
    table = np.asarray(item.LUTData, dtype=np.float64)
    expected = (table[_ramp()] - table.min()) / (table.max() - table.min())
    np.testing.assert_allclose(pixels, expected, atol=1e-6)


def test_monochrome1_generated_is_inverted(tmp_path: Path) -> None:
    ds = cr_dataset(_ramp(), photometric="MONOCHROME1", WindowCenter=2048, WindowWidth=4096)
    pixels = images.read_image(_write(tmp_path / "m1.dcm", ds)).pixels
    assert pixels[:, 0].min() > 0.99 and pixels[:, -1].max() < 0.01  # low stored = bright


def test_multiframe_takes_first_frame(tmp_path: Path) -> None:
    frames = np.stack([_ramp(), _ramp()[:, ::-1]])  # (F, H, W)
    ds = cr_dataset(frames, WindowCenter=2048, WindowWidth=4096)
    pixels = images.read_image(_write(tmp_path / "mf.dcm", ds)).pixels
    assert pixels.shape == (64, 80)
    assert pixels[:, 0].max() < 0.01 and pixels[:, -1].min() > 0.99


def test_rgb_dicom_becomes_luminance(tmp_path: Path) -> None:
    rgb = np.zeros((40, 48, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    ds = cr_dataset(rgb, photometric="RGB", bits_stored=8)
    record = images.read_image(_write(tmp_path / "rgb.dcm", ds))
    assert record.converted == "rgb" and record.pixels.shape == (40, 48)
    np.testing.assert_allclose(record.pixels, 0.299, atol=1e-6)


def test_bare_dicom_without_preamble(tmp_path: Path) -> None:
    ds = cr_dataset(_ramp(), WindowCenter=2048, WindowWidth=4096)
    path = _write(tmp_path / "bare.dcm", ds, preamble=False)
    assert path.read_bytes()[128:132] != b"DICM"
    assert images.probe(path) == (64, 80)
    assert images.read_image(path).meta["transfer_syntax"] == "ImplicitVRLittleEndian"


# --- header fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "elements,spacing_mm",
    [
        ({"PixelSpacing": [0.143, 0.15]}, (0.143, 0.15)),
        ({"ImagerPixelSpacing": [0.2, 0.2]}, (0.2, 0.2)),
        ({"PixelSpacing": [0, 0], "ImagerPixelSpacing": [0.139, 0.139]}, (0.139, 0.139)),
        ({}, None),
    ],
)
def test_spacing(tmp_path: Path, elements: dict, spacing_mm: tuple | None) -> None:
    record = images.read_image(_write(tmp_path / "s.dcm", cr_dataset(_ramp(), **elements)))
    assert record.spacing_mm == (pytest.approx(spacing_mm) if spacing_mm else None)


@pytest.mark.filterwarnings("ignore:Invalid value for VR AS")  # invalid ages on purpose
@pytest.mark.parametrize(
    "age,years", [("045Y", 45), ("006M", 0), ("030M", 2), ("095Y", 90), ("62", 62), ("abc", None)]
)
def test_age_years(tmp_path: Path, age: str, years: int | None) -> None:
    ds = cr_dataset(_ramp(), PatientAge=age, PatientSex="F", ViewPosition="AP")
    meta = images.read_image(_write(tmp_path / "a.dcm", ds)).meta
    assert meta["age_years"] == years and meta["sex"] == "F" and meta["view"] == "AP"


# --- rejections and privacy --------------------------------------------------------------


def test_no_pixel_data_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "sr.dcm", cr_dataset(None))
    with pytest.raises(RejectedInput, match="no pixel data"):
        images.probe(path)


def test_unsupported_transfer_syntax(tmp_path: Path) -> None:
    ds = cr_dataset(_ramp())
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([b"\x00" * 64])
    ds["PixelData"].VR = "OB"
    path = _write(tmp_path / "mpeg.dcm", ds)
    with pytest.raises(RejectedInput, match="unsupported DICOM transfer syntax: MPEG2"):
        images.probe(path)


def test_truncated_pixel_data_is_rejected(tmp_path: Path) -> None:
    ds = cr_dataset(_ramp())
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 3]
    (result,) = images.read_images([_write(tmp_path / "cut.dcm", ds)])
    assert isinstance(result, RejectedInput) and "pixel data" in result.reason


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")  # the marker is not a date
def test_phi_never_reaches_meta_or_reasons(tmp_path: Path) -> None:
    phi = {keyword: PHI_MARKER for keyword in PHI_KEYWORDS}
    phi["PatientBirthDate"] = PHI_MARKER  # invalid DA on purpose: must not echo either
    good = _write(tmp_path / "good.dcm", cr_dataset(_ramp(), PatientAge="045Y", **phi))
    cut = cr_dataset(_ramp(), **phi)
    cut.PixelData = cut.PixelData[:100]
    bad = [
        _write(tmp_path / "nopix.dcm", cr_dataset(None, **phi)),
        _write(tmp_path / "cut.dcm", cut),
    ]
    results = images.read_images([good, *bad])
    assert isinstance(results[0], ImageRecord)
    assert PHI_MARKER not in repr(results[0].meta) and PHI_MARKER not in repr(results[0])
    assert results[0].meta["age_years"] == 45
    for result in results[1:]:
        assert isinstance(result, RejectedInput)
        assert PHI_MARKER not in result.reason and PHI_MARKER not in repr(result)
