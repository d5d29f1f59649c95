"""What kind of contact a QR payload is. Pixels are decoded in ocr/qr.py; here only text + corners."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from detectors.base import Finding

if TYPE_CHECKING:
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


def qr_finding(payload: str, box: Sequence[Sequence[float]], frame: int = 0) -> Finding:
    """The finding for one decoded code: its payload classified, its corners as the box."""
    from detectors import RULES_VERSION

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
        extra={"contact_type": kind, "rules_version": RULES_VERSION},
    )


def qr_findings(codes: Iterable[QrCode]) -> list[Finding]:
    """One finding per decoded code (ocr.qr.decode_qr already keeps one code per payload and frame)."""
    return [qr_finding(c.payload, c.box, c.frame) for c in codes]
