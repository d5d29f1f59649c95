"""QR codes in pixels (OpenCV, headless build) and what kind of contact their payload is."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from detectors.base import Finding

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
# Decode a downscaled copy too when the long side is above this (OpenCV's detector likes ~1-2k px).
_DOWNSCALE_OVER = 2000


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


def _detectors() -> list[Any]:
    dets: list[Any] = [cv2.QRCodeDetector()]
    if hasattr(cv2, "QRCodeDetectorAruco"):
        dets.append(cv2.QRCodeDetectorAruco())
    return dets


def _decode(det: Any, img: np.ndarray) -> list[tuple[str, np.ndarray]]:
    try:
        ok, payloads, points, _ = det.detectAndDecodeMulti(img)
    except cv2.error:
        return []
    if not ok or points is None:
        return []
    return [(p, pts) for p, pts in zip(payloads, points, strict=False) if p]


def scan_qr(pixels: np.ndarray, frame: int = 0) -> list[Finding]:
    """Decode every QR code in a BGR uint8 image; one finding per distinct payload, box = its corners."""
    from detectors import RULES_VERSION

    if pixels is None or pixels.size == 0:
        return []
    tries: list[tuple[np.ndarray, float]] = [(pixels, 1.0)]
    h, w = pixels.shape[:2]
    if max(h, w) > _DOWNSCALE_OVER:
        f = _DOWNSCALE_OVER / max(h, w)
        tries.append(
            (cv2.resize(pixels, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA), f)
        )
    found: dict[str, Finding] = {}
    for img, scale in tries:
        for det in _detectors():
            for payload, pts in _decode(det, img):
                if payload in found:
                    continue
                box = [[float(x) / scale, float(y) / scale] for x, y in np.asarray(pts).reshape(-1, 2)]
                kind = classify_qr_payload(payload)
                found[payload] = Finding(
                    "qrcode",
                    payload,
                    payload,
                    0.99,
                    f"qrcode.{kind}",
                    None,
                    box=box,
                    frame=frame,
                    extra={"contact_type": kind, "rules_version": RULES_VERSION},
                )
    return list(found.values())
