"""Line extension: the detector often stops a line where disguised digits begin.

Circled digits (③⑨①), keycap emoji and digits on coloured chips are weak "text" to the detector: on a line
like "企鹅 ③⑨①②⑧⑦⑥⑤④" it boxes "企鹅③9" and drops the rest, although the recogniser reads the whole band fine.
For lines that end in something contact-like (a digit, a symbol, or one of the caller's trigger endings), we
follow the ink to the right along the line's own band and, when there is more, read the longer crop once.
The contact keywords that end such lines are vocabulary (detectors/vocab.toml `line_extension_endings`,
passed in by jobs/pipeline.py); this module knows only the neutral ones.
"""

from __future__ import annotations

import unicodedata

import numpy as np

# Endings that announce more text without saying what it is: a label's colon. Digits and symbols (circled
# digits, keycaps, emoji) are always triggers.
NEUTRAL_TRIGGERS: frozenset[str] = frozenset(":：")


def wants_extension(text: str, triggers: frozenset[str] = frozenset()) -> bool:
    """Does this line end in something a cut-off contact may follow: a digit, a symbol, a neutral trigger or
    one of the caller's `triggers` (contact keyword characters from the vocabulary)?"""
    t = text.rstrip()
    if not t:
        return False
    last = t[-1]
    return (
        last in NEUTRAL_TRIGGERS or last in triggers or last.isnumeric() or unicodedata.category(last) == "So"
    )


def extend_right(image: np.ndarray, poly: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the line's band followed to the right while ink continues, or None when the line
    is slanted or nothing follows it."""
    xs, ys = poly[:, 0], poly[:, 1]
    x0, x1, y0, y1 = int(xs.min()), int(np.ceil(xs.max())), int(ys.min()), int(np.ceil(ys.max()))
    h = y1 - y0
    if h < 6 or abs(float(poly[1, 1] - poly[0, 1])) > 0.3 * h:  # level lines only; slanted ones stay as read
        return None
    height, width = image.shape[:2]
    band = image[max(0, y0) : min(height, y1), x1:width]
    if band.shape[1] < h // 2 or band.shape[0] == 0:
        return None
    gray = band.mean(axis=2) if band.ndim == 3 else band.astype(np.float32)
    # Background per band: its most common brightness; ink is what differs from it clearly.
    bg = np.median(gray)
    ink_cols = (np.abs(gray - bg) > 40).sum(axis=0) >= max(2, h // 8)
    end, gap = 0, 0
    for i, ink in enumerate(ink_cols):
        if ink:
            end, gap = i + 1, 0
        else:
            gap += 1
            if gap > 1.2 * h:
                break
    if end < h // 2:
        return None
    pad = max(2, h // 6)
    return max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + end + pad), min(height, y1 + pad)


FRAGMENT_CHARS = 2  # a box read as this few characters may be a piece of the cut line, not a line


def _covered(region: tuple[int, int, int, int], own: np.ndarray, polys: list[np.ndarray]) -> list[int]:
    """Indices of boxes a good part of which lies in the added part of `region` (right of `own`)."""
    x0, y0, x1, y1 = region
    x0 = int(own[:, 0].max())
    out = []
    for i, poly in enumerate(polys):
        if poly is own:
            continue
        bx0, by0 = poly.min(axis=0)
        bx1, by1 = poly.max(axis=0)
        iw, ih = min(x1, bx1) - max(x0, bx0), min(y1, by1) - max(y0, by0)
        if iw > 0 and ih > 0 and iw * ih > 0.3 * (bx1 - bx0) * (by1 - by0):
            out.append(i)
    return out


def overlaps_others(
    region: tuple[int, int, int, int], own: np.ndarray, polys: list[np.ndarray], texts: list[str]
) -> bool:
    """Does the added part of `region` cover another real line (more than a fragment of a few chars)?"""
    return any(len(texts[i].replace(" ", "")) > FRAGMENT_CHARS for i in _covered(region, own, polys))


def absorbed_fragments(
    region: tuple[int, int, int, int], own: np.ndarray, polys: list[np.ndarray], texts: list[str]
) -> list[int]:
    """Fragments (e.g. "4)" read from the tail of a cut line) that the extended read replaces."""
    return [i for i in _covered(region, own, polys) if texts[i].strip()]


def accept_extension(old: str, new: str) -> bool:
    """The longer read must still contain what was read before (the detector's line), minus its last char,
    which the cut may have garbled."""
    o, n = old.replace(" ", ""), new.replace(" ", "")
    return len(n) > len(o) and o[:-1] in n
