"""Small generated films named like real collections, for the patient-split tests.

No patient data: every image is a synthetic ramp and every "patient number" is made up.
The numbers hold the digits 8 and 9 so that no octal tar header field and no zero-padded
sample key can contain one by chance (a test greps the build's bytes for them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Ten made-up NIH patient numbers with 1..5 films each: 30 films.
NIH_PATIENTS = {f"987654{n:02d}": 1 + (n - 1) % 5 for n in range(1, 11)}


def ramp_png(path: Path, value: int, shape: tuple[int, int] = (48, 40)) -> None:
    """A grey ramp (H, W) uint8 around `value`, written as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.linspace(-30, 30, shape[0])[:, None] + np.zeros(shape[1])
    Image.fromarray(np.clip(value + rows, 0, 255).astype(np.uint8)).save(path)


def write_nih_folder(root: Path) -> dict[str, list[str]]:
    """PPPPPPPP_FFF.png films for NIH_PATIENTS under root; returns patient -> file names."""
    films = {}
    for k, (patient, count) in enumerate(NIH_PATIENTS.items()):
        films[patient] = [f"{patient}_{f:03d}.png" for f in range(count)]
        for f, name in enumerate(films[patient]):
            ramp_png(root / name, 60 + 12 * k + 3 * f)
    return films


def write_patient_csv(root: Path, column: str = "PatientKey") -> tuple[Path, dict[str, list[str]]]:
    """A CSV (Path, Sex, Age, `column`) of 24 films of 8 made-up patients whose file names
    say nothing about the patient; returns (csv path, patient value -> paths)."""
    films: dict[str, list[str]] = {}
    lines = [f"Path,Sex,Age,{column}"]
    for n in range(24):
        patient = f"PX-{8900 + n % 8}-Q"
        rel = f"films/img{n:02d}.png"
        ramp_png(root / rel, 50 + 7 * n)
        films.setdefault(patient, []).append(rel)
        lines.append(f"{rel},Female,{30 + n},{patient}")
    csv = root / "films.csv"
    csv.write_text("\n".join(lines) + "\n")
    return csv, films
