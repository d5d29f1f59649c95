"""Line assembly: join boxes the detector split inside one text line before they are recognised.

Detectors treat circled digits, digits on coloured chips and wide letter spacing as weak text and box such a
line in pieces (PP-OCRv6 small boxes `企鹅 ③⑨①②⑧⑦⑥⑤④` as `企鹅` `③` `9` `①②⑧⑦⑥` `⑤` `4`). Read piece by piece,
the recogniser loses context and the pieces overlap, so a digit is read twice or not at all. Boxes that sit on
one band (vertical overlap), are level, have similar height and are separated by less than a fraction of the
line height are one line: we read them as one.
"""

from __future__ import annotations

import numpy as np

from ocr.vertical import column_box

MAX_GAP = 0.6  # horizontal gap, in line heights, that still joins two pieces (a word space is ~0.3-0.5)
MIN_OVERLAP = 0.6  # vertical overlap, as a share of the lower piece's height
MAX_HEIGHT_RATIO = 1.6  # taller piece / lower piece: a headline next to body text stays apart
MAX_SKEW = 0.15  # |top edge slope|: slanted lines keep their own quadrilateral


def _level(poly: np.ndarray) -> bool:
    w = float(poly[1, 0] - poly[0, 0])
    h = float(poly[:, 1].max() - poly[:, 1].min())
    # Tall boxes are turned text or vertical columns: orientation retries and column reading handle those.
    return w > 0 and h < 1.5 * w and abs(float(poly[1, 1] - poly[0, 1])) <= MAX_SKEW * w


def join_line_pieces(polys: list[np.ndarray]) -> list[np.ndarray]:
    """The detector's boxes with pieces of one line joined into one box; other boxes are returned as they
    came. Order follows the first piece of each line."""
    boxes = [(float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max()))
             for p in polys]
    level = [_level(p) for p in polys]
    order = sorted(range(len(polys)), key=lambda i: boxes[i][0])
    group_of: dict[int, int] = {}
    groups: list[list[float]] = []  # x0, y0, x1, y1 of each growing line
    members: list[list[int]] = []
    for i in order:
        if not level[i]:
            continue
        x0, y0, x1, y1 = boxes[i]
        h = y1 - y0
        for g, (gx0, gy0, gx1, gy1) in enumerate(groups):
            gh = gy1 - gy0
            overlap = min(y1, gy1) - max(y0, gy0)
            if (
                overlap >= MIN_OVERLAP * min(h, gh)
                and max(h, gh) <= MAX_HEIGHT_RATIO * min(h, gh)
                and x0 - gx1 <= MAX_GAP * min(h, gh)  # negative: a piece overlapping the line so far
            ):
                groups[g] = [min(gx0, x0), min(gy0, y0), max(gx1, x1), max(gy1, y1)]
                members[g].append(i)
                group_of[i] = g
                break
        else:
            group_of[i] = len(groups)
            groups.append([x0, y0, x1, y1])
            members.append([i])
    out: list[np.ndarray] = []
    for i, poly in enumerate(polys):
        g = group_of.get(i)
        if g is None:
            out.append(poly)
        elif min(members[g]) == i:  # each line once, where its first piece was
            out.append(poly if len(members[g]) == 1 else column_box(polys, members[g]))
    return out
