"""Synthetic DICOM data sets for tests (no real patient data)."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def cr_dataset(
    pixels: np.ndarray | None,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    **elements: object,
) -> Dataset:
    """A CR image data set, explicit VR little endian; pixels (H, W) or (N, H, W) uint16,
    or None for a data set without pixel data. Extra elements are set by keyword."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "CR"
    if pixels is not None:
        ds.set_pixel_data(pixels, photometric_interpretation=photometric, bits_stored=bits_stored)
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds
