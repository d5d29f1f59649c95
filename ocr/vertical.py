"""Vertical text: upright characters stacked one per line, read by laying the column out as a row.

The detector cuts such a column into odd fragments ("扣扣39", "128", "7" …) or one tall box, and the
recogniser only reads horizontal lines. We find columns (boxes stacked on one axis, narrow, touching),
split the column into characters on the blank rows between them, and lay the characters side by side.
"""

from __future__ import annotations

import cv2
import numpy as np


def _bounds(poly: np.ndarray) -> tuple[float, float, float, float]:
    return float(poly[:, 0].min()), float(poly[:, 1].min()), float(poly[:, 0].max()), float(poly[:, 1].max())


def find_columns(polys: list[np.ndarray], min_chars: int = 4) -> list[list[int]]:
    """Groups of box indices that stack into one narrow column at least `min_chars` characters tall."""
    boxes = [_bounds(p) for p in polys]
    # Members are single characters or tall fragments, never wide horizontal lines.
    narrow = [i for i, (x0, y0, x1, y1) in enumerate(boxes) if (x1 - x0) <= 1.5 * (y1 - y0)]
    order = sorted(narrow, key=lambda i: boxes[i][1])
    used: set[int] = set()
    columns = []
    for start in order:
        if start in used:
            continue
        group = [start]
        x0, y0, x1, y1 = boxes[start]
        for j in order:
            if j in used or j in group:
                continue
            bx0, by0, bx1, by1 = boxes[j]
            width = max(x1 - x0, bx1 - bx0)
            if by0 < y1 - 0.5 * width or by1 <= y1:  # must continue the column downwards
                continue
            overlap = min(x1, bx1) - max(x0, bx0)
            if overlap >= 0.5 * min(x1 - x0, bx1 - bx0) and by0 - y1 <= 0.8 * width:
                group.append(j)
                x0, x1, y1 = min(x0, bx0), max(x1, bx1), by1
        width = x1 - x0
        if len(group) >= 2 and (y1 - y0) >= min_chars * 0.8 * width:
            columns.append(group)
            used.update(group)
    return columns


def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """An axis-aligned box as the 4x2 float32 polygon the engines use (clockwise from top-left)."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def column_box(polys: list[np.ndarray], group: list[int]) -> np.ndarray:
    """The rectangle around the polygons in `group`."""
    pts = np.concatenate([polys[i] for i in group])
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return rect(x0, y0, x1, y1)


def column_to_row(column: np.ndarray) -> np.ndarray | None:
    """Split an upright column into characters at blank rows; return them laid out left to right."""
    if column.size == 0:
        return None
    gray = cv2.cvtColor(column, cv2.COLOR_BGR2GRAY) if column.ndim == 3 else column
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if ink.mean() > 0.5:  # Otsu picked the background as foreground: dark text on light ground
        ink = 1 - ink
    profile = ink.sum(axis=1)
    rows = profile > 0
    w = column.shape[1]
    cols = np.flatnonzero(ink.sum(axis=0))
    # Glyph width from the ink (the detector's box is often much wider than the characters in it).
    glyph = float(cols[-1] - cols[0] + 1) if cols.size else float(w)
    runs: list[list[int]] = []
    for y, on in enumerate(rows):
        if not on:
            continue
        if runs and y == runs[-1][1]:
            runs[-1][1] = y + 1
        elif runs and y - runs[-1][1] <= max(2, int(0.35 * glyph)) and y + 1 - runs[-1][0] <= 1.2 * glyph:
            runs[-1][1] = y + 1  # a small gap inside one character's height (三, 二, 亻言 …)
        else:
            runs.append([y, y + 1])
    # Character pitch: the typical run is one character (the box around a column is often wider than its
    # glyphs, so its width overestimates it); touching characters (a Q's tail) form runs of several, cut
    # where the ink is thinnest near each expected boundary.
    heights = sorted(b - a for a, b in runs)
    pitch = float(heights[len(heights) // 2]) if len(runs) >= 3 else 0.9 * w
    pitch = max(pitch, 0.3 * w)  # a column of thin strokes (一一一) must not be cut into slivers
    chars = []
    for a, b in runs:
        n = max(1, int(round((b - a) / (1.15 * pitch))))  # glyphs with tails or descenders run long
        cuts = [a]
        for k in range(1, n):
            target = a + k * (b - a) / n
            lo, hi = int(target - 0.35 * pitch), int(target + 0.35 * pitch) + 1
            cuts.append(lo + int(np.argmin(profile[lo:hi])))
        cuts.append(b)
        chars += [(cuts[k], cuts[k + 1]) for k in range(n)]
    if len(chars) < 2:
        return None
    side = w
    bg = np.median(gray[~ink.astype(bool)]) if (~ink.astype(bool)).any() else 255
    pad = max(2, side // 8)
    cells = []
    for a, b in chars:
        cell = np.full((side + 2 * pad, side + 2 * pad, 3), bg, np.uint8)
        piece = column[a:b]
        h = min(piece.shape[0], side)
        top = pad + (side - h) // 2
        cell[top : top + h, pad : pad + w] = piece[:h] if piece.ndim == 3 else piece[:h, :, None]
        cells.append(cell)
    return np.ascontiguousarray(np.concatenate(cells, axis=1))
