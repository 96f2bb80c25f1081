"""The contract between shape kinds and the batched renderer.

A shape *kind* turns per-object parameters into a value field on a pixel window around the
object's centre: coverage in [0, 1] for the legacy style, optical depth mu * t along the
beam for the physical style. Kinds are pure tensor functions, batched over objects,
identical on CPU and CUDA; `generator.shapes.registry` maps each kind's name to its shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import torch


class Shape(Protocol):
    """A rasteriser for one kind. `params` is a `ParamTable`: (N, 1, 1) float32 per name."""

    def extent_px(self, params: ParamTable, spacing_mm: torch.Tensor) -> torch.Tensor:
        """(N,) half-size in pixels of a square window that contains the whole object.

        spacing_mm: (N, 2) row, col mm per pixel of the output image.
        """
        ...

    def field(
        self,
        params: ParamTable,
        dx_px: torch.Tensor,
        dy_px: torch.Tensor,
        spacing_mm: torch.Tensor,
    ) -> torch.Tensor:
        """(N, S, S) field at pixel centres offset (dx_px, dy_px) from the object centre.

        dx_px: (N, 1, S) and dy_px: (N, S, 1) float32 (they broadcast to the window), x right
        and y down, in output pixels;
        spacing_mm: (N, 2, 1, 1) row, col mm per pixel.
        """
        ...


# An object's optional geometric magnification (generator.bodies.magnification): inside the
# patient its shadow is M times its size, so every kind is drawn at the image's spacing / M.
MAGNIFICATION = "magnification"


def object_spacing(params: ParamTable, spacing_mm: torch.Tensor) -> torch.Tensor:
    """(N, 2) mm per pixel at each object's own depth: the image's spacing (N, 2) divided by
    the object's magnification where it has one (absent or 0: drawn at the detector, M = 1)."""
    if MAGNIFICATION not in params:
        return spacing_mm
    m = params[MAGNIFICATION].reshape(-1)  # (N,)
    return spacing_mm / torch.where(m > 0, m, torch.ones_like(m))[:, None]


class ParamTable(Mapping[str, torch.Tensor]):
    """The parameters of N objects of one kind: a (P, N) table with one row per name.

    `params[name]` is that row as an (N, 1, 1) view (or (N, 1, 1, 1) from `with_dims(3)`);
    a kind with many slot parameters reads them through `slots`, which gathers several rows
    in one operation.
    """

    def __init__(self, names: list[str], table: torch.Tensor, dims: int = 2):
        self.names, self.table, self.dims = names, table, dims
        self._row = {name: j for j, name in enumerate(names)}

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.table[self._row[name]].view(-1, *(1,) * self.dims)

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def with_dims(self, dims: int) -> ParamTable:
        """The same table, its rows viewed as (N, 1 x dims)."""
        return ParamTable(self.names, self.table, dims)

    def slots(self, pattern: str, slots) -> torch.Tensor:
        """(N, K): parameter `pattern.format(k)` of each object for the K slots k in `slots`;
        0 for a slot no object of the group has (specs leave unused slots out)."""
        zero = len(self.names)  # the row after the table: zeros
        rows = torch.tensor([self._row.get(pattern.format(k), zero) for k in slots], device=self.table.device)
        if int(rows.max()) < zero:
            return self.table.index_select(0, rows).T
        return torch.cat([self.table, self.table.new_zeros(1, self.table.shape[1])]).index_select(0, rows).T
