"""Which patient a film belongs to: the grouping key that keeps a patient in one split.

`group_key` names the rule that decided and the raw key, e.g. ("nih", "nih:00001280"). The
raw key may be a patient id: it stays in memory. What reaches outputs is `group_id`, a
salted hash of it; the salt is the fingerprint of the whole input listing, so group ids
of builds of the same input (any split, any seed) can be compared, and linking one back to
a patient takes that input's full listing.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import PurePosixPath

RULES = ("csv", "dicom", "nih", "chexpert", "file")  # in the order they are tried
_NIH_NAME = re.compile(r"([0-9]{8})_[0-9]{3}\.png", re.IGNORECASE)  # ChestX-ray14: patient _ follow-up
_CHEXPERT_DIR = re.compile(r"patient[0-9]{5}")


def group_key(rel: str, *, csv_group: str | None = None, dicom_patient_id: str | None = None) -> tuple[str, str]:
    """(rule, key) of the film at `rel` (its path relative to the input root).

    Rules, first match wins: a CSV group column value; the DICOM PatientID; an NIH
    ChestX-ray14 file name PPPPPPPP_FFF.png (the patient is PPPPPPPP); a CheXpert
    `patientNNNNN` folder in the path; else the file itself. Blank values fall through.
    """
    if csv_group is not None and csv_group.strip():
        return "csv", f"csv:{csv_group.strip()}"
    if dicom_patient_id is not None and dicom_patient_id.strip():
        return "dicom", f"dicom:{dicom_patient_id.strip()}"
    posix = rel.replace(os.sep, "/")
    path = PurePosixPath(posix)
    nih = _NIH_NAME.fullmatch(path.name)
    if nih:
        return "nih", f"nih:{nih[1]}"
    folder = next((part for part in path.parts if _CHEXPERT_DIR.fullmatch(part)), None)
    if folder:
        return "chexpert", f"chexpert:{folder}"
    return "file", f"file:{posix}"


def rule_of(key: str) -> str:
    """The rule that made `key` (its prefix)."""
    return key.partition(":")[0]


def group_id(key: str, salt: str) -> str:
    """The pseudonymous id of group `key`: sha256(salt NUL key), first 16 hex digits."""
    return hashlib.sha256(f"{salt}\x00{key}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
