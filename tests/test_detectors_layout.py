"""detect_lines: OCR lines joined in reading order (rows, vertical stacks), boxes/frames/scores carried."""

from __future__ import annotations

import random

import detectors
from detectors.layout import join_lines
from ocr.types import OcrLine

QQ = "391287654"


def line(
    text: str, x: float, y: float, w: float | None = None, h: float = 20, score: float = 0.95, frame: int = 0
):
    w = w if w is not None else 20 * len(text)
    return OcrLine(text, score, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)), frame)


def test_keyword_line_then_number_line_below() -> None:
    lines = [line("加我扣扣", 10, 10), line(QQ, 10, 40, score=0.8)]
    (f,) = detectors.detect_lines(lines)
    assert (f.type, f.value, f.rule) == ("qq", QQ, "qq.keyword")
    assert f.box == [[10, 10], [190, 10], [190, 60], [10, 60]]  # union of both lines
    assert f.confidence <= 0.8 * 0.95 + 1e-9  # the weaker OCR line bounds it
    assert f.extra["ocr_score"] == 0.8


def test_number_to_the_right_of_keyword() -> None:
    lines = [line("QQ：", 10, 100), line("③⑨①②⑧⑦⑥⑤④", 200, 102), line("正品保证", 10, 300)]
    (f,) = detectors.detect_lines(lines)
    assert f.value == QQ and f.box == [[10, 100], [380, 100], [380, 122], [10, 122]]


def test_two_line_split_number() -> None:
    lines = [line("QQ：3912", 10, 10), line("87654", 10, 40)]
    (f,) = detectors.detect_lines(lines)
    assert f.value == QQ


def test_vertical_text_one_character_per_line() -> None:
    chars = "扣扣" + QQ
    lines = [line(ch, 500, 10 + 24 * k, w=20) for k, ch in enumerate(chars)]
    lines.append(line("店铺公告：本店所有商品均为正品", 10, 10))  # a row beside the column
    random.Random(1).shuffle(lines)
    found = detectors.detect_lines(lines)
    assert [(f.type, f.value) for f in found] == [("qq", QQ)]
    box = found[0].box
    assert box[0] == [500, 10] and box[2] == [520, 10 + 24 * (len(chars) - 1) + 20]


def test_vertical_phone_in_numerals() -> None:
    lines = [line(ch, 300, 50 + 30 * k, w=24, h=24) for k, ch in enumerate("幺三八幺两三四五六七八")]
    (f,) = detectors.detect_lines(lines)
    assert (f.type, f.value) == ("phone", "13812345678")


def test_frames_are_separate_pictures() -> None:
    qq8 = "39128765"  # 8 digits: a QQ number only next to its keyword
    lines = [line("QQ", 10, 10, frame=0), line(qq8, 10, 40, frame=1), line(f"QQ {qq8}", 10, 10, frame=2)]
    found = detectors.detect_lines(lines)
    assert [(f.value, f.frame) for f in found] == [(qq8, 2)]


def test_unrelated_lines_do_not_merge_into_a_number() -> None:
    lines = [line("价格 128", 10, 10), line("2024", 10, 40), line("包邮", 10, 70)]
    assert detectors.detect_lines(lines) == []


def test_reading_order_rows_then_left_to_right() -> None:
    lines = [line("B", 200, 12), line("C", 10, 60), line("A", 10, 10)]
    assert join_lines(lines).text == "A B\nC"


def test_finding_text_is_the_joined_evidence() -> None:
    lines = [line("微信", 10, 10), line("shop2024", 100, 10)]
    (f,) = detectors.detect_lines(lines)
    assert (f.type, f.value, f.text) == ("wechat", "shop2024", "微信 shop2024")
    assert f.to_dict()["box"] == [[10, 10], [260, 10], [260, 30], [10, 30]]


def test_finding_names_its_input_lines() -> None:
    lines = [line("QQ", 10, 10, frame=1), line("广告", 10, 10, frame=0), line(QQ, 10, 40, frame=1)]
    (f,) = detectors.detect_lines(lines)
    assert f.extra["lines"] == [0, 2] and f.frame == 1


def test_size_chart_column_is_not_a_vertical_number() -> None:
    lines = [line(size, 100, 10 + 24 * k, w=30) for k, size in enumerate(["38", "39", "40", "41", "42"])]
    assert detectors.detect_lines(lines) == []


def test_labelled_number_is_not_taken_by_a_keyword_in_another_box() -> None:
    """货号 in its own box left of the number, a QQ product word on the row above or below."""
    for rows in (
        [line("QQ音乐会员月卡限时优惠", 10, 10), line("货号", 10, 40), line("518264-907", 60, 41)],
        [line("货号", 10, 10), line("518264907", 60, 11), line("QQ", 10, 40), line("音乐会员月卡", 60, 41)],
        [line("邮编", 10, 10), line("200000", 60, 11), line("扣扣", 10, 40)],
    ):
        assert detectors.detect_lines(rows) == [], rows


def test_solicitation_gets_its_box() -> None:
    lines = [line("正品保证", 10, 10), line("扫码加我", 10, 40, score=0.9)]
    (f,) = detectors.detect_lines(lines)
    assert (f.type, f.value) == ("solicitation", None)
    assert f.box == [[10, 40], [90, 40], [90, 60], [10, 60]] and f.extra["lines"] == [1]


def test_a_table_header_keyword_and_the_value_under_it() -> None:
    # The header row is one OCR line; the value cells are lines of their own under it.
    lines = [
        line("颜色 尺寸 包装 材质 重量 货号 QQ", 10, 50, w=480),
        line("2109万像素", 10, 90),
        line("SC22006011631175", 180, 90, w=150),
        line(QQ, 380, 90),
        line("上市时间", 10, 130),
    ]
    (f,) = detectors.detect_lines(lines)
    assert (f.type, f.value, f.extra["layout"]) == ("qq", QQ, "paired")
    assert f.box == [[10, 50], [560, 50], [560, 110], [10, 110]]
    # The cell under 货号 is a product code, not the contact: only the QQ column pairs.
    lines[3] = line("8.5kg", 380, 90)
    assert detectors.detect_lines(lines) == []


def test_a_big_number_beside_a_small_keyword() -> None:
    # Centres too far apart for one reading row, and another line between them in reading order.
    lines = [
        line("扣扣：", 10, 100, h=16),
        line("正品保证", 10, 80, w=80, h=16),
        line(QQ, 80, 84, w=300, h=48),
    ]
    found = detectors.detect_lines(lines)
    assert [(f.type, f.value) for f in found] == [("qq", QQ)]
