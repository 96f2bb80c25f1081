"""Preview crops: the build's own pixels around the object, magnified without smoothing."""

import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from generator.tools.preview import crop_tile


def _sample(arr, objects, label=1):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return SimpleNamespace(image=buf.getvalue(), objects=objects, label=label, key="00000007")


def test_crop_is_centred_on_the_object_and_keeps_every_pixel():
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 200, (300, 400), dtype=np.uint8)
    arr[200:210, 300:312] = 255
    small = {"class": "coin", "bbox_xyxy": [10, 10, 12, 12], "material": "steel"}
    big = {"class": "coin", "bbox_xyxy": [300, 200, 312, 210], "material": "steel"}
    out = np.asarray(crop_tile(_sample(arr, [small, big]), 128, ["none", "coin"], zoom=4).convert("L"))
    side = 128 // 4  # 32 source pixels
    r0, c0 = round(205 - side / 2), round(306 - side / 2)
    expected = np.kron(arr[r0 : r0 + side, c0 : c0 + side], np.ones((4, 4), dtype=np.uint8))
    body = (slice(16, 128), slice(0, 128))  # below the caption bar; boxes drawn at the object only
    mismatch = out[body] != expected[body]
    assert mismatch.mean() < 0.06  # only the drawn box outline differs
    assert (out[4 * (200 - r0) + 4 : 4 * (210 - r0) - 4, 4 * (300 - c0) + 4 : 4 * (312 - c0) - 4] == 255).all()


def test_crop_without_objects_shows_the_centre_and_clamps_at_edges():
    arr = np.tile(np.arange(64, dtype=np.uint8), (48, 1))
    out = np.asarray(crop_tile(_sample(arr, [], label=0), 64, ["none", "coin"], zoom=2).convert("L"))
    assert out.shape == (64, 64)
    assert out[40, 0] == arr[0, 16] and out[40, 63] == arr[0, 47]  # columns 16..47, each twice


def test_zoom_must_be_positive(tmp_path):
    from generator.tools.preview import write_preview

    with pytest.raises(ValueError, match="zoom"):
        write_preview(str(tmp_path), str(tmp_path / "x.png"), crops=True, zoom=0)


def test_crop_of_an_arc_centres_on_the_wire_not_its_empty_box_centre():
    arr = np.zeros((200, 200), dtype=np.uint8)
    ids = np.zeros((200, 200), dtype=np.uint8)
    ids[20:180, 20:24] = 1  # an L-shaped wire: its box centre (100, 100) lies off it
    ids[176:180, 20:180] = 1
    arr[ids == 1] = 255
    buf = io.BytesIO()
    Image.fromarray(ids).save(buf, format="PNG")
    sample = _sample(arr, [{"class": "coin", "bbox_xyxy": [20, 20, 180, 180], "material": "steel"}])
    sample.mask_png = buf.getvalue()
    out = np.asarray(crop_tile(sample, 64, ["none", "coin"], zoom=1).convert("L"))
    assert (out[16:] == 255).mean() > 0.05  # the wire is in the crop
