"""QR codes in pixels (OpenCV, headless build): payload + corners. Payload meaning: detectors/qrcode.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# The Aruco-based detector is 3-10x slower than the classic one and, on a 750x20000 page, peaks at >1.5 GB; it
# runs only as a fallback, and only on images up to this many pixels (measured: classic 35 ms on 800x800 gray,
# Aruco 125 ms; on 15 MPix classic 1.5 s, Aruco 3-11 s).
_ARUCO_MAX_PIXELS = 2_500_000
# Tall pages are also tried downscaled to this long side when full size finds nothing (big codes, heavy JPEG).
_DOWNSCALE_TO = 2000


@dataclass(frozen=True)
class QrCode:
    """One decoded code: its payload and its corners in the original image's pixel coordinates."""

    payload: str
    box: list[list[float]]  # 4 corners [x, y] as OpenCV returns them
    frame: int = 0


def _decode(det: Any, img: np.ndarray) -> tuple[bool, list[tuple[str, np.ndarray]]]:
    """(something QR-like was located, the decoded payloads with their corners)."""
    try:
        ok, payloads, points, _ = det.detectAndDecodeMulti(img)
    except cv2.error:
        return False, []
    if not ok or points is None:
        return False, []
    return True, [(p, pts) for p, pts in zip(payloads, points, strict=False) if p]


def _code(payload: str, pts: np.ndarray, scale: float, frame: int) -> QrCode:
    box = [[float(x) / scale, float(y) / scale] for x, y in np.asarray(pts).reshape(-1, 2)]
    return QrCode(payload, box, frame)


def decode_qr(pixels: np.ndarray, frame: int = 0) -> list[QrCode]:
    """Every QR code in a BGR (or gray) uint8 image; one per distinct payload, box = its corners.

    Cheapest first: the classic detector on grayscale; then, only if that decoded nothing, a downscaled copy
    of a big image, and the Aruco detector where a code was located but not decoded."""
    if pixels is None or pixels.size == 0:
        return []
    gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if pixels.ndim == 3 else pixels
    h, w = gray.shape[:2]
    found: dict[str, QrCode] = {}
    located, decoded = _decode(cv2.QRCodeDetector(), gray)
    for payload, pts in decoded:
        found.setdefault(payload, _code(payload, pts, 1.0, frame))
    if not found and max(h, w) > _DOWNSCALE_TO:
        f = _DOWNSCALE_TO / max(h, w)
        small = cv2.resize(gray, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
        seen, decoded = _decode(cv2.QRCodeDetector(), small)
        located |= seen
        for payload, pts in decoded:
            found.setdefault(payload, _code(payload, pts, f, frame))
    # Aruco only where a code was located but not read: most product images have no code at all.
    if not found and located and h * w <= _ARUCO_MAX_PIXELS and hasattr(cv2, "QRCodeDetectorAruco"):
        for payload, pts in _decode(cv2.QRCodeDetectorAruco(), gray)[1]:
            found.setdefault(payload, _code(payload, pts, 1.0, frame))
    return list(found.values())
