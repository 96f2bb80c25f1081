"""Contact sheets: boxes drawn by default, none with --no-boxes."""

import numpy as np
from PIL import Image

from generator.output.formats import iter_build
from generator.tools.preview import tile
from radiopaque import cli


def _coloured(im: Image.Image) -> int:
    """Pixels below the caption bar that are not grey (the radiograph is grey, boxes are not)."""
    a = np.asarray(im).astype(int)[14:]
    return int(((a[..., 0] != a[..., 1]) | (a[..., 1] != a[..., 2])).sum())


def test_no_boxes_leaves_the_objects_unmarked(tmp_path):
    build = tmp_path / "b"
    assert cli.main(["generate", "--out", str(build), "--count", "8", "--size", "64", "--style", "legacy",
                     "--classes", "coin,bullet", "--no-progress", "--device", "cpu"]) == 0
    samples = [s for s in iter_build(str(build)) if s.objects]
    classes = ["none", "coin", "bullet"]
    assert samples and all(_coloured(tile(s, 128, classes)) > 0 for s in samples)
    assert all(_coloured(tile(s, 128, classes, boxes=False)) == 0 for s in samples)
    for flag, out in (([], tmp_path / "boxes.png"), (["--no-boxes"], tmp_path / "plain.png")):
        assert cli.main(["preview", str(build), "--n", "4", "--tile", "64", "--out", str(out), *flag]) == 0
    assert _coloured(Image.open(tmp_path / "boxes.png").convert("RGB")) > _coloured(
        Image.open(tmp_path / "plain.png").convert("RGB"))
