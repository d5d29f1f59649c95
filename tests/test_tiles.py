"""Tiling geometry: every page pixel is covered, every point is owned by exactly one tile core."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.tiles import OVERLAP, merge_duplicates, owned, plan_tiles, to_page


def test_small_image_is_one_tile():
    tiles = plan_tiles(800, 800)
    assert len(tiles) == 1 and (tiles[0].x1, tiles[0].y1) == (800, 800)


@pytest.mark.parametrize(
    "w,h", [(750, 1500), (750, 4000), (750, 15000), (750, 20000), (3000, 3000), (20000, 500)]
)
def test_tiles_cover_page_and_cores_partition_it(w, h):
    tiles = plan_tiles(w, h)
    if max(w, h) > 2400:
        assert len(tiles) > 1
    for t in tiles:
        assert 0 <= t.x0 < t.x1 <= w and 0 <= t.y0 < t.y1 <= h
    rng = np.random.default_rng(0)
    for x, y in zip(rng.uniform(0, w, 400), rng.uniform(0, h, 400), strict=True):
        assert sum(t.owns(x, y) for t in tiles) == 1
        # the owner holds a neighbourhood of half the overlap around the point: a line that tall is whole
        t = next(t for t in tiles if t.owns(x, y))
        half = OVERLAP / 2 - 1
        assert t.y0 <= max(0, y - half) and min(h, y + half) <= t.y1
        assert t.x0 <= max(0, x - half) and min(w, x + half) <= t.x1


def test_line_in_overlap_is_kept_by_one_tile_only():
    tiles = plan_tiles(750, 6000)
    a, b = tiles[0], tiles[1]
    assert b.y0 < a.y1  # they overlap
    y = (b.y0 + a.y1) / 2  # a line centred in the overlap is seen by both tiles
    poly = np.array([[100, y - 10], [400, y - 10], [400, y + 10], [100, y + 10]], np.float32)
    keepers = [t for t in tiles if owned(poly, t)]
    assert len(keepers) == 1


def test_to_page_shifts_by_tile_origin():
    t = plan_tiles(750, 9000)[2]
    poly = np.array([[1, 2], [3, 2], [3, 4], [1, 4]], np.float32)
    assert to_page(poly, t)[0].tolist() == [1 + t.x0, 2 + t.y0]


def test_merge_duplicates_keeps_best_scored():
    box = np.array([[0, 0], [100, 0], [100, 20], [0, 20]], np.float32)
    other = box + 500
    kept = merge_duplicates([("QQ 12345", 0.7, box), ("QQ 123456", 0.9, box + 2), ("price", 0.8, other)])
    assert sorted(t for t, _, _ in kept) == ["QQ 123456", "price"]


def test_lines_across_tile_edges_are_read_once_in_page_coordinates(each_engine):
    """Lines drawn across each tile's cut edge and across each core boundary: every number is read exactly
    once, whole, and its box lands where it was drawn on the page."""
    from PIL import Image, ImageDraw, ImageFont

    from ocr.reader import read_pixels
    from tests.text_images import cjk_font_path

    w, h = 750, 4000
    tiles = plan_tiles(w, h)
    cuts = sorted({t.y1 for t in tiles[:-1]} | {int(t.cy1) for t in tiles[:-1]})
    page = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(cjk_font_path(), 28)
    planted = {}
    for k, y in enumerate(cuts):
        number = f"{k + 1}{k + 3}{k + 5}{k}8642{k}"
        top = y - 18  # the line's 36 px straddle the cut
        draw.text((60, top), f"QQ {number}", font=font, fill="black")
        planted[number] = top
    lines = read_pixels(np.asarray(page)[:, :, ::-1].copy(), each_engine)
    for number, top in planted.items():
        hits = [(t, p) for t, _, p in lines if number in t.replace(" ", "")]
        assert len(hits) == 1, (number, [t for t, _, _ in lines])
        ys = hits[0][1][:, 1]
        assert top - 15 <= ys.min() <= top + 15 and ys.max() <= top + 60
