"""Frames -> OCR lines in original-image coordinates: tiles each frame, reads every tile, merges."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocr.engine import OcrEngine, RawLine, get_engine
from ocr.enhance import STEPS
from ocr.tiles import merge_duplicates, owned, plan_tiles, to_page
from ocr.types import Frame, OcrLine


def read_pixels(
    pixels: np.ndarray,
    engine: OcrEngine | None = None,
    enhance: Sequence[str] = (),
    extension_triggers: frozenset[str] = frozenset(),
) -> list[RawLine]:
    """OCR one BGR image of any size; polygons in its own coordinates. Each `enhance` step (ocr.enhance)
    adds one more pass over an enhanced copy; where passes read the same place, the best score wins."""
    engine = engine or get_engine()
    h, w = pixels.shape[:2]
    found: list[RawLine] = []
    for tile in plan_tiles(w, h):
        crop = np.ascontiguousarray(pixels[tile.y0 : tile.y1, tile.x0 : tile.x1])
        views = [crop] + [STEPS[name](crop) for name in enhance]
        for view in views:
            keep = lambda q, t=tile: owned(to_page(q, t), t)  # noqa: E731 (t bound per tile)
            for text, score, poly in engine.read(view, keep, extension_triggers):
                found.append((text, score, to_page(poly, tile)))
    return merge_duplicates(found)


def _to_line(raw: RawLine, frame: int) -> OcrLine:
    text, score, poly = raw
    pts = tuple((round(float(x), 1), round(float(y), 1)) for x, y in poly[:4])
    return OcrLine(text=text, score=round(score, 4), box=pts, frame=frame)  # type: ignore[arg-type]


def read_frames(
    frames: list[Frame],
    engine: OcrEngine | None = None,
    enhance: Sequence[str] = (),
    extension_triggers: frozenset[str] = frozenset(),
) -> list[OcrLine]:
    """OCR lines of every frame, in reading order within each frame (`extension_triggers`: OcrEngine.read)."""
    lines: list[OcrLine] = []
    for frame in frames:
        raw = read_pixels(frame.pixels, engine, enhance, extension_triggers)  # type: ignore[arg-type]
        raw.sort(key=lambda r: (float(r[2][:, 1].min()), float(r[2][:, 0].min())))
        lines.extend(_to_line(r, frame.index) for r in raw)
    return lines
