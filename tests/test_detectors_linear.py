"""Hostile text volume (#23): tables and long lines of figures give no contacts and stay linear; long text is
read in pieces without losing or doubling a contact; a time limit ends in the image's own error.

Speed and memory are measured in benchmarks/bench_worst_case.py, not asserted here."""

from __future__ import annotations

import random

import pytest

import detectors
from benchmarks.bench_worst_case import spaced_figures
from detectors.engine import CHUNK, CONTEXT
from ocr.types import OcrLine


def _line(text: str, x: float, y: float, h: float = 20) -> OcrLine:
    w = 12 * len(text)
    return OcrLine(text, 0.95, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)), 0)


def test_a_line_of_spaced_figures_is_no_contact() -> None:
    # The old candidate search read every stretch of these as a number: 15 "contacts" in 3 KB, cubic time.
    assert detectors.detect_text(spaced_figures(4)) == []
    assert detectors.detect_text(spaced_figures(40, seed=2)) == []


def test_rows_of_a_spec_table_are_not_joined_into_numbers() -> None:
    rng = random.Random(3)
    lines = [_line(str(rng.randint(0, 99)), 30 + 70 * c, 20 + 40 * r) for r in range(200) for c in range(10)]
    assert [f for f in detectors.detect_lines(lines) if f.type != "solicitation"] == []


def test_one_row_of_spaced_single_digits_holds_no_mobile() -> None:
    assert detectors.detect_text("2 9 4 1 5 8 9 9 3 0 2 1 7 4 6 3 8 8 1 0") == []
    # ... while a mobile written in spaced digits on its own, or after a keyword, is still one.
    assert [f.value for f in detectors.detect_text("1 3 8 1 2 3 4 5 6 7 8")] == ["13812345678"]
    assert [f.value for f in detectors.detect_text("手机：1 3 8 1 2 3 4 5 6 7 8")] == ["13812345678"]


def test_long_text_is_read_in_pieces_without_losing_or_doubling_a_contact() -> None:
    rng = random.Random(5)
    filler = "这款保温杯采用双层不锈钢真空设计，保温效果持久，容量适中，适合办公室和户外使用。"
    parts: list[str] = []
    numbers: list[str] = []
    while sum(map(len, parts)) < 6 * CHUNK:
        parts.append(filler[: rng.randint(10, len(filler))] + "\n")
        if rng.random() < 0.3:
            qq = str(rng.randint(10**8, 10**9 - 1))
            numbers.append(qq)
            parts.append(f"加QQ：{qq}\n")
    text = "".join(parts)
    # A contact straddling a piece boundary: keyword before it, number after it.
    cut = CHUNK + 7
    text = text[: cut - 5] + "扣扣：\n391287654\n" + text[cut - 5 :]
    numbers.append("391287654")
    assert len(text) > CHUNK + 2 * CONTEXT
    found = detectors.detect_text(text)
    assert sorted(f.value for f in found) == sorted(numbers)
    for f in found:
        assert f.span is not None and text[f.span[0] : f.span[1]] == f.text


def test_the_time_limit_ends_in_a_detection_timeout() -> None:
    lines = [_line(f"第{k}行 " + spaced_figures(1, seed=k), 10, 30 * k) for k in range(40)]
    with pytest.raises(detectors.DetectionTimeout, match="QQSCAN_DETECT_SECONDS"):
        detectors.detect_lines(lines, seconds=0)


def test_scan_bytes_turns_a_detection_timeout_into_the_images_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake detector: a page slow enough to reach the limit cannot be produced on purpose (detection is
    # linear); what is tested is that the pipeline reports it as this image's error instead of raising.
    import io

    from PIL import Image

    from jobs import pipeline

    def slow(*args: object) -> None:
        raise detectors.DetectionTimeout("contact detection stopped (time limit; QQSCAN_DETECT_SECONDS)")

    monkeypatch.setattr(pipeline.detectors, "detect_lines", slow)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 255, 255)).save(buf, "PNG")
    result = pipeline.scan_bytes(buf.getvalue(), "blank.png")
    assert result.error is not None and "QQSCAN_DETECT_SECONDS" in result.error
    assert result.findings == []
