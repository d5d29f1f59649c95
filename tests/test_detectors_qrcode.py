"""QR codes from OpenCV's own encoder: decoded by ocr.qr, classified into findings by detectors.qrcode."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import detectors
from detectors.base import Finding
from detectors.qrcode import classify_qr_payload, qr_findings
from ocr.qr import decode_qr


def scan_qr(pixels: np.ndarray, frame: int = 0) -> list[Finding]:
    """Pixels -> findings, as jobs/pipeline.py chains the two stages."""
    return qr_findings(decode_qr(pixels, frame))


def qr_image(payload: str, module: int = 8) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(payload)
    code = cv2.resize(code, None, fx=module, fy=module, interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)


def page(h: int, w: int) -> np.ndarray:
    return np.full((h, w, 3), 255, np.uint8)


def paste(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    dst[y : y + src.shape[0], x : x + src.shape[1]] = src


CLASSIFY = [
    ("https://qm.qq.com/q/AbCdEf", "qq"),
    ("http://qm.qq.com/cgi-bin/qm/qr?k=abc", "qq"),
    ("http://wpa.qq.com/msgrd?v=3&uin=391287654", "qq"),
    ("mqqapi://card/show_pslcard?uin=391287654", "qq"),
    ("tencent://message/?uin=391287654", "qq"),
    ("https://u.wechat.com/EAbCdEf", "wechat"),
    ("https://weixin.qq.com/r/AbCdEf", "wechat"),
    ("wxp://f2f0AbCdEf", "wechat_pay"),
    ("https://item.taobao.com/item.htm?id=1", "url"),
    ("HTTPS://EXAMPLE.COM", "url"),
    ("WIFI:S:shop;T:WPA;P:secret;;", "text"),
    ("", "text"),
]


@pytest.mark.parametrize(("payload", "kind"), CLASSIFY)
def test_classify(payload: str, kind: str) -> None:
    assert classify_qr_payload(payload) == kind


@pytest.mark.parametrize(("payload", "kind"), [c for c in CLASSIFY if c[0]])
def test_decode_and_classify(payload: str, kind: str) -> None:
    img = page(400, 400)
    code = qr_image(payload, 6)
    paste(img, code, 50, 60)
    f, *carried = scan_qr(img, frame=3)
    assert (f.type, f.value, f.extra["contact_type"], f.frame) == ("qrcode", payload, kind, 3)
    # A QQ chat or card link with uin= carries the QQ number itself, boxed like the code.
    assert [(c.type, c.value, c.rule, c.box) for c in carried] == (
        [("qq", "391287654", "qq.qr_link", f.box)] if "uin=" in payload else []
    )
    assert f.rule == f"qrcode.{kind}" and f.to_dict()["rules_version"] == detectors.RULES_VERSION
    xs = [p[0] for p in f.box]
    ys = [p[1] for p in f.box]
    assert len(f.box) == 4
    # The box is the code's corners (inside the pasted square, quiet zone aside).
    assert 50 <= min(xs) and max(xs) <= 50 + code.shape[1] and 60 <= min(ys) and max(ys) <= 60 + code.shape[0]


def test_two_codes_in_one_image() -> None:
    img = page(500, 900)
    paste(img, qr_image("https://qm.qq.com/q/One111", 6), 40, 60)
    paste(img, qr_image("wxp://f2f0Two222", 6), 500, 200)
    found = {f.value: f.extra["contact_type"] for f in scan_qr(img)}
    assert found == {"https://qm.qq.com/q/One111": "qq", "wxp://f2f0Two222": "wechat_pay"}


def test_code_at_the_bottom_of_a_tall_page() -> None:
    img = page(9000, 750)
    paste(img, qr_image("https://u.wechat.com/TallPage", 10), 200, 8500)
    (f,) = scan_qr(img)
    assert f.extra["contact_type"] == "wechat"
    assert min(p[1] for p in f.box) > 8400  # original-image coordinates, not the downscaled copy


def test_no_code() -> None:
    img = page(300, 300)
    cv2.putText(img, "QQ 391287654", (10, 150), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 0, 0), 2)
    assert scan_qr(img) == []
    assert scan_qr(np.zeros((0, 0, 3), np.uint8)) == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("mqqwpa://im/chat?chat_type=wpa&uin=391287654&version=1", [("qq", "391287654", "qq.qr_link")]),
        ("http://wpa.qq.com/msgrd?v=3&uin=391287654&site=qq&menu=yes", [("qq", "391287654", "qq.qr_link")]),
        (
            "mqqapi://card/show_pslcard?src_type=internal&uin=60128834&card_type=group",
            [("qq", "60128834", "qq.qr_link")],
        ),
        ("https://qm.qq.com/cgi-bin/qm/qr?k=AbCdEf", []),  # a key, no number in it
        ("加我QQ：391287654 领优惠", [("qq", "391287654", "qq.keyword")]),  # text: read as any other text
        ("https://item.taobao.com/item.htm?id=391287654", []),  # a listing link's id is no contact
    ],
)
def test_a_payload_carries_its_contact(payload: str, expected: list[tuple[str, str, str]]) -> None:
    img = page(400, 400)
    paste(img, qr_image(payload, 5), 40, 40)
    code, *carried = scan_qr(img, frame=1)
    assert code.type == "qrcode" and code.value == payload
    assert [(c.type, c.value, c.rule) for c in carried] == expected
    for c in carried:
        assert c.box == code.box and c.frame == 1 and c.extra["carrier"] == "qrcode"
