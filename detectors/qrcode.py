"""What kind of contact a QR payload is. Pixels are decoded in ocr/qr.py; here only text + corners."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from detectors.base import Finding

if TYPE_CHECKING:
    from detectors.engine import TextDetector
    from ocr.qr import QrCode

# Payload prefix -> contact type. Order matters: first match wins.
_QR_TYPES: list[tuple[tuple[str, ...], str]] = [
    (
        (
            "https://qm.qq.com",
            "http://qm.qq.com",
            "qm.qq.com",
            "https://wpa.qq.com",
            "http://wpa.qq.com",
            "wpa.qq.com",
            "mqqapi://",
            "mqqwpa://",
            "mqq://",
            "tencent://",
            "https://jq.qq.com",
            "http://jq.qq.com",
        ),
        "qq",
    ),
    (
        (
            "https://u.wechat.com",
            "http://u.wechat.com",
            "u.wechat.com",
            "https://weixin.qq.com/r/",
            "http://weixin.qq.com/r/",
            "weixin.qq.com/r/",
            "weixin://",
            "https://weixin.qq.com/g/",
            "http://weixin.qq.com/g/",
        ),
        "wechat",
    ),
    (("wxp://",), "wechat_pay"),
]


def classify_qr_payload(payload: str) -> str:
    """qq | wechat | wechat_pay | url | text."""
    p = payload.strip()
    low = p.lower()
    for prefixes, kind in _QR_TYPES:
        if low.startswith(prefixes):
            return kind
    if low.startswith(("http://", "https://")):
        return "url"
    return "text"


def qr_finding(
    payload: str, box: Sequence[Sequence[float]], frame: int = 0, using: TextDetector | None = None
) -> Finding:
    """The finding for one decoded code: its payload classified, its corners as the box. using: the
    detector whose rules version the finding carries (default: the shipped rules)."""
    from detectors import detector

    kind = classify_qr_payload(payload)
    return Finding(
        "qrcode",
        payload,
        payload,
        0.99,
        f"qrcode.{kind}",
        None,
        box=[[float(x), float(y)] for x, y in box],
        frame=frame,
        extra={"contact_type": kind, "rules_version": (using or detector()).version},
    )


# Query parameters of QQ chat and card links that carry the QQ (or group) number.
_NUMBER_PARAMS = ("uin", "qq", "group_code", "groupuin")
_QQ_NUMBER = re.compile(r"[1-9]\d{4,10}")


def payload_contacts(
    payload: str, box: Sequence[Sequence[float]], frame: int = 0, using: TextDetector | None = None
) -> list[Finding]:
    """The contacts a code carries, as the detectors read any other text: the number in a QQ chat or card
    link's query (uin=, rule qq.qr_link), and whatever the text detectors find in a payload that is not a
    link (a QR code of "加我QQ 391287654"), each with the code's corners as its box."""
    from detectors import detector

    using = using or detector()
    corners = [[float(x), float(y)] for x, y in box]
    extra = {"carrier": "qrcode", "rules_version": using.version}
    kind = classify_qr_payload(payload)
    if kind == "qq":
        query = parse_qs(urlsplit(payload.strip()).query)
        for name in _NUMBER_PARAMS:
            for value in query.get(name, []):
                if _QQ_NUMBER.fullmatch(value):
                    return [
                        Finding("qq", value, payload, 0.99, "qq.qr_link", None, corners, frame, dict(extra))
                    ]
        return []
    if kind != "text":
        return []
    found = []
    for f in using.detect(payload):
        found.append(replace(f, box=corners, frame=frame, extra={**f.extra, **extra}))
    return found


def qr_findings(codes: Iterable[QrCode], using: TextDetector | None = None) -> list[Finding]:
    """One finding per decoded code (ocr.qr.decode_qr already keeps one code per payload and frame), and
    the contacts its payload carries."""
    out = []
    for c in codes:
        out.append(qr_finding(c.payload, c.box, c.frame, using))
        out.extend(payload_contacts(c.payload, c.box, c.frame, using))
    return out
