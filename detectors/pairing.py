"""A keyword in one box and its number in another that reading order does not put next to it.

Reading order (layout.join_lines) joins boxes on one band and stacks one-character columns; what it cannot
see is a table or a card: the header cell 货号 QQ above its value, a big number beside a small keyword whose
centres differ, a keyword box and the number box under it with other text between them in reading order.
So a line that ends in a contact keyword (only joiners after it) is paired with the nearest box under that
keyword's part of the line (same column: horizontal overlap), or to its right on its band (gap relative to
the text height), and the pair is read as one text: "QQ" + " " + "732091515". A pair yields a finding only
when its contact reaches into the second box, so nothing one box says alone is reported twice.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from detectors.base import Finding
from detectors.keywords import CONTACT_KINDS
from detectors.normalize import views

if TYPE_CHECKING:
    from detectors.engine import TextDetector
    from ocr.types import OcrLine

_BELOW = 4.0  # how far under the keyword (in line heights) its value may sit: a table row or two
_BESIDE = 3.0  # how far to the right of it (in line heights) on its band
_OVERLAP = 0.3  # horizontal overlap with the keyword's part of the line, of the narrower width
_ANCHORS = (*CONTACT_KINDS, "phone")


@dataclass(frozen=True)
class Pair:
    """Two lines read as one text: `text` = line `a` (ending in a keyword), a space, line `b`."""

    a: int
    b: int
    text: str
    split: int  # where line b starts in text


def pairs(lines: Sequence[OcrLine], detector: TextDetector) -> list[Pair]:
    """Each line ending in a contact keyword, with the nearest line under the keyword or beside it."""
    out = []
    for k, ln in enumerate(lines):
        tail = _keyword_tail(ln.text, detector)
        if tail is None:
            continue
        x0, x1 = _part_x(ln, tail)
        h = max(ln.y1 - ln.y0, 1.0)
        best: tuple[float, float, int] | None = None
        for j, other in enumerate(lines):
            if j == k or other.frame != ln.frame:
                continue
            overlap = min(x1, other.x1) - max(x0, other.x0)
            narrow = max(min(x1 - x0, other.x1 - other.x0), 1.0)
            below = 0 <= other.y0 - ln.y0 and other.y0 - ln.y1 <= _BELOW * h and overlap >= _OVERLAP * narrow
            band = min(ln.y1, other.y1) - max(ln.y0, other.y0) >= 0.3 * min(h, other.y1 - other.y0)
            beside = band and 0 <= other.x0 - x1 <= _BESIDE * h
            if below or beside:
                # Nearest first; on one row, the cell most under the keyword.
                key = ((other.y0 - ln.y1) if below else (other.x0 - x1) / 2, -overlap / narrow)
                if best is None or key < best[:2]:
                    best = (*key, j)
        if best is not None:
            # The whole first line is read, so a label before the keyword still owns what follows (款号V).
            b = best[2]
            out.append(Pair(k, b, f"{ln.text} {lines[b].text}", len(ln.text) + 1))
    return out


def pair_findings(lines: Sequence[OcrLine], detector: TextDetector) -> list[tuple[Finding, Pair]]:
    """Findings of the paired texts whose contact reaches into the second line."""
    out = []
    for p in pairs(lines, detector):
        for f in detector.detect(p.text):
            if f.type != "solicitation" and f.value and f.span is not None and f.span[1] > p.split:
                out.append((f, p))
    return out


def _keyword_tail(text: str, detector: TextDetector) -> int | None:
    """Where the last contact keyword of the line starts, if only joiners follow it (货号 QQ, 微信：)."""
    v = views(text, detector.tables)
    hits = [h for h in detector.keywords.find(v) if h.kind in _ANCHORS and (not h.short or h.word.isascii())]
    if not hits:
        return None
    h = hits[-1]
    rest = detector.joiners.match(v.canon, h.end)
    return h.start if rest is not None and rest.end() == len(text) else None


def _part_x(ln: OcrLine, start: int) -> tuple[float, float]:
    """The horizontal extent of text[start:] in the line's box, by character widths (CJK and full-width
    characters twice as wide as the others)."""
    widths = [2.0 if unicodedata.east_asian_width(c) in "WF" else 1.0 for c in ln.text]
    total = sum(widths) or 1.0
    x0 = ln.x0 + (ln.x1 - ln.x0) * sum(widths[:start]) / total
    return x0, ln.x1
