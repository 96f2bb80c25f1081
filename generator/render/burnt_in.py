"""Burnt-in annotations: laterality markers ("L", "R"), arrows and text ("PORTABLE", "AP")
painted into the displayed film, as a processing station burns them in: opaque, sharp,
bright, outside the attenuation physics (pure tensor functions).

A `burnt_in` object (kind `BURNT_IN`, drawn by `generator.bodies.distractors` or by
`generator.render.randomise`) has params:
| name        | meaning                                                             |
|-------------|---------------------------------------------------------------------|
| c0 .. c11   | the text as character codes (`ord`), 0 = end; ">" is a line arrow,  |
|             | "}" a block arrow (the "upright" arrow of portable films)            |
| height_mm   | glyph height (markers 8-15 mm, text 4-9 mm on the films we model)   |
| value       | painted level, display units [0, 1] (0.85-1.0: white)               |
| box         | 1: a frame around the text (a boxed or circled marker), 0: none     |
| quarter     | 0-3: quarter turns (arrows point right, down, left, up)             |
| outline     | 1: a black outline one pixel wide around the glyphs (how stations   |
|             | burn in text and arrows to read on any background), 0 or absent: no |
center_px is the text's centre. Glyphs are a 5 x 7 bitmap font (`GLYPHS`), scaled with
bilinear interpolation to the height in pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BURNT_IN = "burnt_in"
MAX_CHARS = 12
_FONT = {
    "A": ".###.|#...#|#...#|#####|#...#|#...#|#...#", "B": "####.|#...#|#...#|####.|#...#|#...#|####.",
    "C": ".####|#....|#....|#....|#....|#....|.####", "E": "#####|#....|#....|####.|#....|#....|#####",
    "I": "#####|..#..|..#..|..#..|..#..|..#..|#####", "L": "#....|#....|#....|#....|#....|#....|#####",
    "N": "#...#|##..#|#.#.#|#..##|#...#|#...#|#...#", "O": ".###.|#...#|#...#|#...#|#...#|#...#|.###.",
    "P": "####.|#...#|#...#|####.|#....|#....|#....", "R": "####.|#...#|#...#|####.|#.#..|#..#.|#...#",
    "S": ".####|#....|#....|.###.|....#|....#|####.", "T": "#####|..#..|..#..|..#..|..#..|..#..|..#..",
    "U": "#...#|#...#|#...#|#...#|#...#|#...#|.###.", " ": ".....|.....|.....|.....|.....|.....|.....",
    ">": "...#...|....#..|.....#.|#######|.....#.|....#..|...#...",
    "}": "...#...|...##..|######.|#######|######.|...##..|...#...",
}
GLYPHS = {c: torch.tensor([[1.0 if ch == "#" else 0.0 for ch in row] for row in g.split("|")]) for c, g in
          _FONT.items()}


def text_params(text: str) -> dict[str, float]:
    """c0.. codes of `text` (upper case, characters of `GLYPHS`, at most MAX_CHARS)."""
    if len(text) > MAX_CHARS or any(c not in GLYPHS for c in text):
        raise ValueError(f"text: expected at most {MAX_CHARS} of {''.join(sorted(GLYPHS))!r}, got {text!r}")
    return {f"c{k}": float(ord(c)) for k, c in enumerate(text)}


def text_of(params: dict) -> str:
    out = []
    for k in range(MAX_CHARS):
        code = int(params.get(f"c{k}", 0))
        if code == 0:
            break
        out.append(chr(code))
    return "".join(out)


def bitmap(text: str, box: bool) -> torch.Tensor:
    """(7 + margins, width) coverage in {0, 1} of `text`, one blank column between glyphs."""
    cols = []
    for c in text:
        cols += [GLYPHS[c], torch.zeros(7, 1)]
    bm = torch.cat(cols[:-1], dim=1) if cols else torch.zeros(7, 1)
    if box:
        bm = F.pad(bm, (2, 2, 2, 2))
        bm[0, :], bm[-1, :], bm[:, 0], bm[:, -1] = 1.0, 1.0, 1.0, 1.0
    return bm


def paint(image: torch.Tensor, obj, spacing_mm: tuple[float, float]) -> None:
    """Paint one burnt-in object into image (1, H, W) float32 [0, 1], in place."""
    p = obj.params
    bm = bitmap(text_of(p), bool(p.get("box", 0.0) > 0.5))
    bm = torch.rot90(bm, int(p.get("quarter", 0.0)) % 4, dims=(1, 0))
    rows_per_cell = p["height_mm"] / 7.0 / spacing_mm[0]
    cols_per_cell = p["height_mm"] / 7.0 / spacing_mm[1]
    h = max(2, round(bm.shape[0] * rows_per_cell))
    w = max(2, round(bm.shape[1] * cols_per_cell))
    alpha = F.interpolate(bm[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    alpha = alpha.to(image.device)
    outline = p.get("outline", 0.0) > 0.5
    if outline:  # crisp glyphs, one pixel more on each side for a black border all round
        alpha = F.pad((alpha >= 0.5).float(), (1, 1, 1, 1))
        h, w = h + 2, w + 2
        dark = F.max_pool2d(alpha[None, None], 3, 1, 1)[0, 0]
    _, big_h, big_w = image.shape
    r0, c0 = round(obj.center_px[1] - h / 2), round(obj.center_px[0] - w / 2)
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + h, big_h), min(c0 + w, big_w)
    if rs >= re or cs >= ce:
        return
    a = alpha[rs - r0 : re - r0, cs - c0 : ce - c0]
    region = image[0, rs:re, cs:ce]
    if outline:
        region.mul_(1.0 - dark[rs - r0 : re - r0, cs - c0 : ce - c0])
    region.mul_(1.0 - a).add_(a * float(p["value"]))
