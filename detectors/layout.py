"""Join OCR lines of one image into reading-order text, keeping which line every character came from.

Sellers split contacts across lines (keyword on one line, number below or to the right) and write them
vertically one character per line; joined in reading order they read as one text. Per frame: frames of an
animated image are separate pictures.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from detectors.base import Box, Finding
from detectors.pairing import pair_findings

if TYPE_CHECKING:
    from detectors.engine import TextDetector
    from ocr.types import OcrLine

ROW_SEP = " "  # between lines of one row (number to the right of its keyword)
LINE_SEP = "\n"  # between rows


@dataclass
class _Item:
    """A line, or a vertical stack of one-character lines, with its bounding rectangle."""

    text: str
    members: list[int]  # indexes into the frame's lines, one per character when a stack
    x0: float
    y0: float
    x1: float
    y1: float
    stack: bool = False

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass
class Joined:
    text: str
    line_of: list[int]  # per character of text: index of its line, -1 for separators


def _stacks(lines: Sequence[OcrLine]) -> list[_Item]:
    """Group one-character lines stacked in a column into one item read top to bottom (vertical text).

    Only single characters: a column of "38" "39" "40" is a size chart, not a vertical number."""
    items: list[_Item] = []
    order = sorted(range(len(lines)), key=lambda i: (lines[i].y0, lines[i].x0))
    used: set[int] = set()
    short = [len(lines[i].text.strip()) == 1 for i in range(len(lines))]
    # One-character lines by top edge: the next character of a column is looked up in the band below the
    # last one (bisect), so a page of thousands of table cells stays near-linear.
    singles = [i for i in order if short[i]]
    tops = [lines[i].y0 for i in singles]
    for i in order:
        if i in used:
            continue
        used.add(i)
        li = lines[i]
        item = _Item(li.text, [i], li.x0, li.y0, li.x1, li.y1)
        if short[i]:
            col = [i]
            while (nxt := _below(lines, lines[col[-1]], singles, tops, used)) is not None:
                col.append(nxt)
                used.add(nxt)
            if len(col) >= 3:
                item = _Item(
                    "".join(lines[k].text for k in col),
                    col,
                    min(lines[k].x0 for k in col),
                    min(lines[k].y0 for k in col),
                    max(lines[k].x1 for k in col),
                    max(lines[k].y1 for k in col),
                    stack=True,
                )
            else:
                used.difference_update(col[1:])
        items.append(item)
    return items


def _below(
    lines: Sequence[OcrLine], last: OcrLine, singles: list[int], tops: list[float], used: set[int]
) -> int | None:
    """The first unused one-character line that continues a column below `last`: it starts between half a
    line and 1.2 lines below its top, and overlaps it by half the narrower width."""
    h = max(last.y1 - last.y0, 1.0)
    lo = bisect_left(tops, last.y0 + h * 0.5)
    hi = bisect_right(tops, last.y1 + h * 1.2)
    for k in range(lo, hi):
        j = singles[k]
        lj = lines[j]
        overlap = min(last.x1, lj.x1) - max(last.x0, lj.x0)
        width = min(last.x1 - last.x0, lj.x1 - lj.x0)
        if j not in used and overlap >= 0.5 * max(width, 1.0):
            return j
    return None


def join_lines(lines: Sequence[OcrLine]) -> Joined:
    """Reading order: rows by vertical overlap (top to bottom), items in a row left to right."""
    items = sorted(_stacks(lines), key=lambda it: it.y0)
    rows: list[list[_Item]] = []
    for it in items:
        if rows:
            row = rows[-1]
            ref = row[0]
            # Same row when the centres are within half a line height of each other.
            if not it.stack and not ref.stack and abs(it.cy - ref.cy) <= 0.5 * max(min(it.h, ref.h), 1.0):
                row.append(it)
                continue
        rows.append([it])
    text: list[str] = []
    line_of: list[int] = []
    for r, row in enumerate(rows):
        if r:
            text.append(LINE_SEP)
            line_of.append(-1)
        for k, it in enumerate(sorted(row, key=lambda it: it.x0)):
            if k:
                text.append(ROW_SEP)
                line_of.append(-1)
            if it.stack:
                # One character per line: read as one word (扣 / 扣 / 3 / 9 ... is 扣扣39...).
                for idx in it.members:
                    text.append(lines[idx].text)
                    line_of.extend([idx] * len(lines[idx].text))
            else:
                text.append(it.text)
                line_of.extend([it.members[0]] * len(it.text))
    return Joined("".join(text), line_of)


def union_box(lines: Sequence[OcrLine], idxs: set[int]) -> Box:
    x0 = min(lines[i].x0 for i in idxs)
    y0 = min(lines[i].y0 for i in idxs)
    x1 = max(lines[i].x1 for i in idxs)
    y1 = max(lines[i].y1 for i in idxs)
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def detect_in_lines(
    lines: Sequence[OcrLine], detector: TextDetector, deadline: float | None = None
) -> list[Finding]:
    """detect_lines: per frame, join lines, detect, then give each finding its box, frame and OCR score.
    `deadline` (time.monotonic()): see TextDetector.detect."""
    out: list[Finding] = []
    by_frame: dict[int, list[int]] = {}
    for k, ln in enumerate(lines):
        by_frame.setdefault(ln.frame, []).append(k)
    for frame in sorted(by_frame):
        orig = by_frame[frame]
        fl = [lines[k] for k in orig]
        joined = join_lines(fl)
        found: list[Finding] = []
        for f in detector.detect(joined.text, deadline):
            assert f.span is not None
            idxs = {joined.line_of[i] for i in range(*f.span) if joined.line_of[i] >= 0}
            if idxs:
                found.append(_placed(f, fl, idxs, orig, frame))
        # A keyword box and its number box that reading order keeps apart (a table's header cell).
        seen = {(f.type, f.value) for f in found}
        for f, pair in pair_findings(fl, detector):
            if (f.type, f.value) not in seen:
                seen.add((f.type, f.value))
                found.append(_placed(f, fl, {pair.a, pair.b}, orig, frame, paired=True))
        out.extend(found)
    return out


def _placed(
    f: Finding, fl: Sequence[OcrLine], idxs: set[int], orig: list[int], frame: int, paired: bool = False
) -> Finding:
    """The finding with its box (the union of its lines), frame, lines and OCR score."""
    score = min(fl[i].score for i in idxs)
    extra = {**f.extra, "ocr_score": round(float(score), 4), "lines": sorted(orig[i] for i in idxs)}
    if paired:
        extra["layout"] = "paired"
    return replace(
        f,
        box=union_box(fl, idxs),
        frame=frame,
        confidence=f.confidence * max(0.0, min(1.0, score)),
        extra=extra,
    )
