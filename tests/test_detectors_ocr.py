"""detect_lines on what the real OCR engine reads from the generated fixture images (layout end to end)."""

from __future__ import annotations

from pathlib import Path

import pytest

import detectors
from ocr.decode import decode_image
from ocr.reader import read_frames

CASES = [
    ("disguise_circled.png", "qq"),
    ("disguise_daxie.png", "qq"),
    ("disguise_phone.png", "phone"),
    ("disguise_twoline.png", "qq"),
    ("disguise_wechat.png", "wechat"),
    ("vertical.png", "qq"),
    ("clean_decoys.png", None),
    ("clean_01.jpg", None),
]


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_fixture_image(
    name: str, kind: str | None, each_engine, fixture_dir: Path, manifest: list[dict]
) -> None:
    (item,) = [it for it in manifest if it["file"].endswith("/" + name)]
    frames = decode_image((fixture_dir / item["file"]).read_bytes())
    lines = read_frames(frames, each_engine)
    found = detectors.detect_lines(lines)
    got = {(f.type, f.value) for f in found}
    want = {(c["type"], c["value"]) for c in item["contacts"]}
    assert want <= got and (kind is None) == (not got), (got, [ln.text for ln in lines])
    for c in item["contacts"]:
        # The finding's box covers where the fixture drew the contact.
        (f,) = [f for f in found if (f.type, f.value) == (c["type"], c["value"])]
        x0, y0, x1, y1 = c["bbox"]
        assert f.box[0][0] <= (x0 + x1) / 2 <= f.box[2][0] and f.box[0][1] <= (y0 + y1) / 2 <= f.box[2][1]
    for f in found:
        xs = [p[0] for p in f.box]
        ys = [p[1] for p in f.box]
        assert len(f.box) == 4 and min(xs) < max(xs) and min(ys) < max(ys)
        assert f.frame == 0 and 0 < f.confidence <= 1 and f.extra["ocr_score"] > 0


def test_product_page_and_solicitation_read_by_ocr(engine) -> None:
    """A product page drawn here: QQ音乐 next to labelled numbers gives nothing; the solicitation line below
    is found as such, with its box, through the real OCR engine."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    from tests.text_images import cjk_font_path

    img = Image.new("RGB", (760, 330), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(cjk_font_path(), 34)
    rows = [
        "QQ音乐会员月卡 限时优惠",
        "货号518264-907",
        "邮编200000  型号：XJ-40215583",
        "扫码加我微信看福利",
    ]
    for k, text in enumerate(rows):
        draw.text((20, 20 + 75 * k), text, font=font, fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    lines = read_frames(decode_image(buf.getvalue()), engine)
    found = detectors.detect_lines(lines)
    assert [(f.type, f.value) for f in found] == [("solicitation", None)], [ln.text for ln in lines]
    (f,) = found
    assert f.box is not None and f.box[0][1] >= 20 + 75 * 3 - 10
