"""Turned and stacked text: 90-degree lines both ways, and upright characters one per line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr.reader import read_pixels
from ocr.vertical import column_to_row, find_columns
from tests.text_images import cjk_font_path


def _box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def _line_image(text: str, size: int = 36) -> Image.Image:
    font = ImageFont.truetype(cjk_font_path(), size)
    _, _, r, b = font.getbbox(text)
    img = Image.new("RGB", (r + 40, b + 40), "white")
    ImageDraw.Draw(img).text((20, 20), text, font=font, fill="black")
    return img


def _on_canvas(img: Image.Image, size=(800, 800), at=(300, 40)) -> np.ndarray:
    canvas = Image.new("RGB", size, "white")
    canvas.paste(img, at)
    return np.asarray(canvas)[:, :, ::-1].copy()


def test_find_columns_groups_stacked_fragments():
    polys = [
        _box(369, 51, 419, 238),
        _box(375, 231, 402, 365),
        _box(377, 364, 401, 403),
        _box(375, 404, 402, 534),
    ]
    assert find_columns(polys) == [[0, 1, 2, 3]]


def test_paragraph_lines_are_not_a_column():
    polys = [_box(40, 60 * i, 640, 60 * i + 40) for i in range(30)]  # 30 left-aligned horizontal lines
    assert find_columns(polys) == []


def test_column_to_row_lays_characters_side_by_side():
    font = ImageFont.truetype(cjk_font_path(), 32)
    col = Image.new("RGB", (44, 6 * 44), "white")
    draw = ImageDraw.Draw(col)
    for i, ch in enumerate("扣扣三九一二"):
        draw.text((6, 4 + i * 44), ch, font=font, fill="black")
    row = column_to_row(np.asarray(col)[:, :, ::-1].copy())
    assert row is not None and row.shape[1] > 5 * row.shape[0]  # six cells wide, one tall


@pytest.mark.parametrize("angle", [90, 270])
def test_line_turned_90_degrees_either_way_is_read(each_engine, angle):
    img = _on_canvas(_line_image("加QQ 391287654 领券").rotate(angle, expand=True, fillcolor="white"))
    text = "".join(t for t, _, _ in read_pixels(img, each_engine)).replace(" ", "")
    assert "391287654" in text


def test_vertical_stacked_characters_are_read_in_order(each_engine):
    font = ImageFont.truetype(cjk_font_path(), 32)
    col = Image.new("RGB", (80, 560), "white")
    draw = ImageDraw.Draw(col)
    for i, ch in enumerate("扣扣391287654"):
        draw.text((20, 10 + i * 44), ch, font=font, fill="black")
    lines = read_pixels(_on_canvas(col, at=(360, 40)), each_engine)
    text = "".join(t for t, _, _ in sorted(lines, key=lambda r: r[2][:, 1].min())).replace(" ", "")
    assert "391287654" in text
