import numpy as np
import pytest

from generator.render import annotate


def test_rle_round_trip_and_coco_order():
    mask = np.zeros((4, 5), dtype=bool)
    mask[1:3, 2] = True
    mask[0, 0] = True
    rle = annotate.rle_encode(mask)
    assert rle["size"] == [4, 5]
    # column-major: col0 = [1,0,0,0], col1 = zeros, col2 = [0,1,1,0] ...
    assert isinstance(rle["counts"], str)
    runs = annotate.string_to_counts(rle["counts"])
    assert runs[:4] == [0, 1, 8, 2]
    assert sum(runs) == 20
    np.testing.assert_array_equal(annotate.rle_decode(rle), mask)
    np.testing.assert_array_equal(annotate.rle_decode({"size": [4, 5], "counts": runs}), mask)  # old builds


def test_bbox_is_exclusive_and_offset():
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:5, 3:8] = True
    assert annotate.bbox_xyxy(mask, 100, 200) == [203, 102, 208, 105]
    assert annotate.bbox_xyxy(np.zeros((3, 3), bool), 0, 0) is None


def test_rotated_box_of_axis_aligned_rectangle():
    mask = np.zeros((20, 30), dtype=bool)
    mask[5:9, 4:24] = True  # 20 wide, 4 high
    box = annotate.rotated_box(mask, 0, 0, 0.0)
    assert box == {"cx": 14.0, "cy": 7.0, "w": 20.0, "h": 4.0, "angle_deg": 0.0}
    turned = annotate.rotated_box(mask, 0, 0, 90.0)
    assert turned["w"] == 4.0 and turned["h"] == 20.0


def test_window_rle_equals_full_image_rle():
    rng = np.random.default_rng(3)
    for _ in range(50):
        h, w = rng.integers(5, 30, size=2)
        win = rng.random((rng.integers(1, h + 1), rng.integers(1, w + 1))) > 0.5
        r0, c0 = rng.integers(0, h - win.shape[0] + 1), rng.integers(0, w - win.shape[1] + 1)
        full = np.zeros((h, w), dtype=bool)
        full[r0 : r0 + win.shape[0], c0 : c0 + win.shape[1]] = win
        flat = full.ravel(order="F")
        runs, last, n = [], False, 0
        for v in flat:
            if v != last:
                runs.append(n)
                n, last = 0, v
            n += 1
        runs.append(n)
        rle = annotate.rle_encode_window(win, int(r0), int(c0), int(h), int(w))
        assert annotate.string_to_counts(rle["counts"]) == runs
        np.testing.assert_array_equal(annotate.rle_decode(annotate.rle_encode(full)), full)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' own numpy 2 __array__ notice
def test_compressed_rle_is_what_pycocotools_writes_and_reads():
    mask_api = pytest.importorskip("pycocotools.mask", reason="pycocotools (the test extra) is not installed")
    rng = np.random.default_rng(11)
    masks = [np.zeros((7, 9), bool), np.ones((7, 9), bool)]
    for _ in range(40):  # random shapes, sizes and densities; long runs give multi-group and negative deltas
        h, w = (int(v) for v in rng.integers(1, 300, size=2))
        masks.append(rng.random((h, w)) < rng.choice([0.01, 0.5, 0.99]))
        big = np.zeros((h, w), bool)
        big[rng.integers(0, h):, rng.integers(0, w):] = True
        masks.append(big)
    for mask in masks:
        ours = annotate.rle_encode(mask)
        theirs = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert ours["counts"] == theirs["counts"].decode("ascii")
        assert ours["size"] == list(theirs["size"])
        np.testing.assert_array_equal(mask_api.decode(ours).astype(bool), mask)
        np.testing.assert_array_equal(annotate.rle_decode(ours), mask)
        assert int(mask_api.area(ours)) == int(mask.sum())
