"""Plain labelled radiographs, as real data usually arrives: a folder of class subfolders
(`root/<class>/*.png|jpg|dcm`) or a CSV with path and label columns.

`PlainDataset` is map-style and yields the same `(image, target, key)` samples as
`trainer.stream.ShardStream`; `EpochSampler` divides them across ranks by the rank rule in
`trainer.stream`'s docstring. DICOM goes through `generator.inputs.read.read_image` when that
module exists (windowing, MONOCHROME1), else PIL; JPEG/PNG through PIL.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from trainer.errors import DataError
from trainer.stream import decode_image, rank_bounds, resize_square

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom")
PATH_COLUMNS = ("path", "Path", "file", "filename", "image")
LABEL_COLUMNS = ("label", "Label", "class", "target")


def read_items(source: str) -> tuple[list[tuple[str, str]], list[str]]:
    """`(items, classes)`: items are (image path, class name), classes sorted by name.

    source: a folder of class subfolders, or a CSV with one of `PATH_COLUMNS` (relative to the
    CSV's folder) and one of `LABEL_COLUMNS` (a class name; integers are names too). Raises
    DataError saying what was found instead: a folder of images without class subfolders,
    CSV rows naming no file under the CSV's folder, no images at all.
    """
    path = Path(source)
    if path.is_dir():
        items = [(str(f), d.name) for d in sorted(p for p in path.iterdir() if p.is_dir())
                 for f in sorted(d.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES]
        if not items:
            loose = _image_count(path.glob("*"))
            if loose:
                raise DataError(f"a folder of class subfolders (it holds {loose} images but no class subfolders "
                                "with images)")
    elif path.is_file() and path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.DictReader(fh)
            cols = reader.fieldnames or []
            pcol = next((c for c in PATH_COLUMNS if c in cols), None)
            lcol = next((c for c in LABEL_COLUMNS if c in cols), None)
            if pcol is None or lcol is None:
                raise DataError(f"a CSV with a path column ({', '.join(PATH_COLUMNS)}) and a label column "
                                f"({', '.join(LABEL_COLUMNS)}); it has {cols}")
            items = [(str(path.parent / (row[pcol] or "")), str(row[lcol] or "").strip()) for row in reader]
        _check_rows(items, path.parent)
    else:
        raise DataError("a build, a folder of class subfolders or a .csv file")
    if not items:
        raise DataError(f"a location holding images ({', '.join(IMAGE_SUFFIXES)}); it holds none")
    return items, sorted({label for _, label in items})


def _image_count(paths) -> int:
    return sum(1 for f in paths if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)


def _check_rows(paths: list, root: Path) -> None:
    """Every CSV row must name an existing file under `root`: say how many do not."""
    missing = sum(1 for p in paths if not Path(p[0] if isinstance(p, tuple) else p).is_file())
    if missing:
        raise DataError(f"a CSV whose rows name existing files: {missing} of {len(paths)} rows not found under "
                        f"{root} (paths are relative to the CSV's folder)")


def read_films(source: str) -> list[str]:
    """Image paths of `source` with no labels read: every image under a folder (class
    subfolders or not, sorted), or the path column of a CSV (relative to its folder)."""
    path = Path(source)
    if path.is_dir():
        films = [str(f) for f in sorted(path.rglob("*")) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    elif path.is_file() and path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.DictReader(fh)
            pcol = next((c for c in PATH_COLUMNS if c in (reader.fieldnames or [])), None)
            if pcol is None:
                raise DataError(f"a CSV with a path column ({', '.join(PATH_COLUMNS)}); it has {reader.fieldnames}")
            films = [str(path.parent / (row[pcol] or "")) for row in reader]
        _check_rows(films, path.parent)
    else:
        raise DataError("a folder of images or a .csv file")
    if not films:
        raise DataError(f"a location holding images ({', '.join(IMAGE_SUFFIXES)}); it holds none")
    return films


def item_names(source: str, items: list[tuple[str, str]]) -> list[str]:
    """Each item's path relative to the data's root (the folder, or the CSV's folder), with "/"
    separators: what the generator's grouping rules read (`trainer.split.group_key`)."""
    root = Path(source) if Path(source).is_dir() else Path(source).parent
    return [os.path.relpath(path, root).replace(os.sep, "/") for path, _ in items]


def read_image(path: str, size: int) -> torch.Tensor:
    """(1, size, size) float32 in [0, 1], bone bright."""
    if Path(path).suffix.lower() in (".dcm", ".dicom"):
        try:
            from generator.inputs.read import read_image as read_any
        except ImportError:
            read_any = None
        if read_any is not None:
            image = read_any(path)
            pixels = getattr(image, "pixels", image)
            x = torch.as_tensor(np.asarray(pixels, dtype=np.float32))
            while x.dim() < 3:
                x = x[None]
            return resize_square(x[-1:].clamp(0, 1), size)
        import pydicom

        ds = pydicom.dcmread(path)
        arr = ds.pixel_array.astype(np.float32)
        arr = (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-6)
        if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
            arr = 1.0 - arr
        return resize_square(torch.from_numpy(arr)[None], size)
    return decode_image(Path(path).read_bytes(), size)


class PlainDataset(Dataset):
    """Map-style dataset over `read_items(source)`, or over `items` (path, class name) of
    `source` when given; labels mapped to `classes` by name."""

    def __init__(self, source: str, *, classes: list[str] | None = None, image_size: int = 224,
                 task: str = "multiclass", items: list[tuple[str, str]] | None = None):
        if items is None:
            self.items, found = read_items(source)
        else:
            self.items, found = list(items), sorted({label for _, label in items})
        self.names = item_names(source, self.items)  # relative paths: what groups are read from
        self.classes = list(classes) if classes is not None else found
        unknown = sorted(set(found) - set(self.classes))
        if unknown:
            raise DataError(f"data labelled with the model's classes {self.classes} (it has labels {unknown})")
        self.labels = np.array([self.classes.index(lab) for _, lab in self.items], dtype=np.int64)
        self.image_size, self.task = image_size, task

    def __len__(self) -> int:
        return len(self.items)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.classes))

    def __getitem__(self, i: int):
        path, _ = self.items[i]
        label = int(self.labels[i])
        target = label
        if self.task == "multilabel":
            target = torch.zeros(len(self.classes), dtype=torch.float32)
            target[label] = 1.0
        return read_image(path, self.image_size), target, path


class EpochSampler(Sampler[int]):
    """Indices of one rank for the current epoch (the rank rule in `trainer.stream`): a
    permutation from (seed, epoch), or with `weights` a with-replacement draw (balanced
    sampling), the same on every rank; then rank `rank`'s contiguous slice (`rank_bounds`).
    Every rank gets len // world_size indices (the rest, < world_size, is left out)."""

    def __init__(self, n: int, *, seed: int, rank: int = 0, world_size: int = 1, shuffle: bool = True,
                 weights: np.ndarray | None = None):
        self.n, self.seed, self.rank, self.world_size = n, seed, rank, world_size
        self.shuffle, self.weights = shuffle, weights
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n // self.world_size

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.weights is not None:
            p = np.asarray(self.weights, dtype=np.float64)
            order = rng.choice(self.n, size=self.n, replace=True, p=p / p.sum())
        elif self.shuffle:
            order = rng.permutation(self.n)
        else:
            order = np.arange(self.n)
        start, stop = rank_bounds(self.n, self.rank, self.world_size, drop_remainder=True)
        return iter(order[start:stop].tolist())


def export_class_folders(build_url: str, out: str, *, rename: dict[str, str] | None = None,
                         limit: int | None = None) -> dict[str, int]:
    """Write a build's images as `out/<class>/<key>.<ext>` (the folder-of-classes layout real
    data comes in); `rename` maps build class names to folder names (several may share one).
    Returns images written per folder."""
    from trainer.stream import Build

    build = Build(build_url)
    counts: dict[str, int] = {}
    for shard in build.shards:
        for record in build.read_shard(shard):
            if limit is not None and sum(counts.values()) >= limit:
                return counts
            name = build.classes[record.label]
            name = (rename or {}).get(name, name)
            folder = Path(out) / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{record.key}.{record.image_format}").write_bytes(record.image)
            counts[name] = counts.get(name, 0) + 1
    return counts
