"""Tall-page tiling: overlapping tiles at native resolution, boxes mapped back, overlap duplicates merged.

The stock pipeline shrinks any image whose long side exceeds 4000 px, so a 750x15000 detail page is read at
a fifth of its size and 14 px text vanishes. We cut the page into overlapping tiles instead. Each tile owns a
*core*: the tile minus half the overlap on every side it shares with a neighbour. A line is kept only by the
tile whose core holds the line's centre; since a line shorter than the overlap whose centre is in a core
lies wholly inside that tile, every line is read once, whole, by exactly one tile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

TILE = 1600  # tile side in px: big enough for context, small enough for the detector's native size
OVERLAP = 256  # must exceed the tallest text line we want read whole
SINGLE_MAX = 2400  # images up to this on both sides are read in one piece


@dataclass(frozen=True)
class Tile:
    x0: int
    y0: int
    x1: int
    y1: int
    # core region in page coordinates (half-open)
    cx0: float
    cy0: float
    cx1: float
    cy1: float

    def owns(self, x: float, y: float) -> bool:
        return self.cx0 <= x < self.cx1 and self.cy0 <= y < self.cy1


def _spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    if length <= tile:
        return [(0, length)]
    step = tile - overlap
    n = -(-(length - overlap) // step)  # ceil: enough tiles to cover the axis
    step = -(-(length - overlap) // n)  # spread tiles evenly so the last one is not a sliver
    starts = [min(i * step, length - tile) for i in range(n)]
    return [(s, s + tile) for s in starts]


def _cores(spans: list[tuple[int, int]], length: int) -> list[tuple[float, float]]:
    cores = []
    for i, (s, e) in enumerate(spans):
        lo = 0.0 if i == 0 else (spans[i - 1][1] + s) / 2
        hi = float(length) + 1 if i == len(spans) - 1 else (e + spans[i + 1][0]) / 2
        cores.append((lo, hi))
    return cores


def plan_tiles(
    width: int, height: int, *, tile: int = TILE, overlap: int = OVERLAP, single_max: int = SINGLE_MAX
) -> list[Tile]:
    if width <= single_max and height <= single_max:
        return [Tile(0, 0, width, height, 0, 0, width + 1, height + 1)]
    xs, ys = _spans(width, tile, overlap), _spans(height, tile, overlap)
    xc, yc = _cores(xs, width), _cores(ys, height)
    return [
        Tile(x0, y0, x1, y1, cx0, cy0, cx1, cy1)
        for (y0, y1), (cy0, cy1) in zip(ys, yc, strict=True)
        for (x0, x1), (cx0, cx1) in zip(xs, xc, strict=True)
    ]


def to_page(poly: np.ndarray, tile: Tile) -> np.ndarray:
    return poly + np.array([tile.x0, tile.y0], dtype=poly.dtype)


def owned(poly_page: np.ndarray, tile: Tile) -> bool:
    cx, cy = poly_page.mean(axis=0)
    return tile.owns(float(cx), float(cy))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ax0, ay0 = a.min(axis=0)
    ax1, ay1 = a.max(axis=0)
    bx0, by0 = b.min(axis=0)
    bx1, by1 = b.max(axis=0)
    iw, ih = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return float(inter / ((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter))


def merge_duplicates(
    lines: Iterable[tuple[str, float, np.ndarray]], iou: float = 0.5
) -> list[tuple[str, float, np.ndarray]]:
    """Drop lines that another, better-scored line covers (same place read twice, e.g. by two passes)."""
    kept: list[tuple[str, float, np.ndarray]] = []
    for line in sorted(lines, key=lambda t: -t[1]):
        if all(_iou(line[2], k[2]) < iou for k in kept):
            kept.append(line)
    return kept
