"""Line extension: a line cut short by the detector is followed along its band and re-read whole."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import detectors
from ocr.extend import absorbed_fragments, accept_extension, extend_right, overlaps_others, wants_extension
from ocr.reader import read_pixels
from tests.text_images import cjk_font_path


def _box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def test_extension_follows_ink_and_stops_at_a_wide_gap():
    img = np.full((100, 800, 3), 255, np.uint8)
    img[40:60, 20:200] = 0  # the detected line
    img[40:60, 215:400] = 0  # more ink after a small gap: part of the line
    img[40:60, 600:700] = 0  # far away: another thing
    x0, y0, x1, y1 = extend_right(img, _box(20, 40, 200, 60))
    assert 395 <= x1 <= 410 and x0 <= 20 and y0 <= 40 and y1 >= 60


def test_nothing_to_the_right_means_no_extension():
    img = np.full((100, 800, 3), 255, np.uint8)
    img[40:60, 20:200] = 0
    assert extend_right(img, _box(20, 40, 200, 60)) is None


def test_triggers_and_acceptance():
    assert wants_extension("企鹅③9") and wants_extension("QQ：") and not wants_extension("包邮到家")
    # Contact keywords come from the vocabulary (jobs/pipeline.py passes them); ocr/ alone knows none.
    assert not wants_extension("加QQ") and wants_extension("加QQ", detectors.EXTENSION_TRIGGERS)
    assert wants_extension("加微信", detectors.EXTENSION_TRIGGERS)
    assert not wants_extension("包邮到家", detectors.EXTENSION_TRIGGERS)
    assert accept_extension("企鹅③9", "企鹅③9①②8⑦⑥5④")
    assert not accept_extension("企鹅③9", "什么都不是的一行长文字")


def test_circled_digits_cut_by_the_detector_are_read_whole(each_engine):
    font = ImageFont.truetype(cjk_font_path(), 34)
    img = Image.new("RGB", (800, 200), (200, 225, 215))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((40, 60, 500, 130), 10, fill=(250, 235, 210))
    draw.text((60, 72), "企鹅 ③⑨①②⑧⑦⑥⑤④", font=font, fill=(30, 30, 30))
    lines = read_pixels(np.asarray(img)[:, :, ::-1].copy(), each_engine)
    text = "".join(t for t, _, _ in lines)
    circled = {"①": "1", "②": "2", "③": "3", "④": "4", "⑤": "5", "⑥": "6", "⑦": "7", "⑧": "8", "⑨": "9"}
    digits = "".join(circled.get(c, c) for c in text if c.isnumeric())
    assert digits == "391287654", text


def test_extension_does_not_swallow_a_line_the_detector_already_boxed():
    own, other = _box(20, 40, 200, 60), _box(230, 35, 420, 62)
    assert overlaps_others((15, 35, 430, 65), own, [own, other], ["QQ:", "135792468"])
    assert not overlaps_others((15, 35, 430, 65), own, [own, other], ["QQ:", ""])  # empty reads don't count


def test_fragments_in_the_extension_are_absorbed_not_counted_as_lines():
    own, frag = _box(20, 40, 200, 60), _box(420, 42, 440, 58)
    region = (15, 35, 450, 65)
    assert not overlaps_others(region, own, [own, frag], ["企鹅③9", "4)"])  # a 2-char piece does not block
    assert absorbed_fragments(region, own, [own, frag], ["企鹅③9", "4)"]) == [1]
