"""QR codes in pixels: payload + corners. zxing-cpp first, OpenCV (headless build) only where zxing located
a code it could not read. Payload meaning: detectors/qrcode.py.

zxing-cpp is 5-13x faster than the OpenCV-only decoder here (benchmarks/bench_qr.py, docs/benchmarks.md)
and reads what OpenCV does not: round/dotted modules and rounded finder patterns (contact cards, QR
beautifiers), small codes in a corner of a big image, light-on-dark codes. Its wrapper releases the GIL
while it reads, so the QR thread in jobs/pipeline.py still runs beside OCR, and for far less time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import zxingcpp

# The Aruco-based detector is 3-10x slower than the classic one and, on a 750x20000 page, peaks at >1.5 GB; it
# runs only as a fallback, and only on images up to this many pixels (measured: classic 35 ms on 800x800 gray,
# Aruco 125 ms; on 15 MPix classic 1.5 s, Aruco 3-11 s).
_ARUCO_MAX_PIXELS = 2_500_000
# Tall pages are also tried downscaled to this long side when full size finds nothing (big codes, heavy JPEG).
_DOWNSCALE_TO = 2000
# QR Model 1/2 only: no contact card uses Micro QR or rMQR, and the smallest Micro QR symbols (M1) only
# detect errors, so on busy product images they could be read out of noise, and every code is a finding.
_FORMATS = (zxingcpp.BarcodeFormat.QRCode,)
# Located-but-unread symbols are looked at again in at most this many regions (spurious finder-pattern
# triples on busy images come in groups; more regions than this are looked at as one, their union).
_MAX_RETRIES = 4
# A located symbol is re-read from a crop grown by this fraction of its size on every side. A crop of at
# most _UPSCALE_MAX_SIDE px is first read by zxing upscaled 2x (~10 ms): dotted modules of 2-3 px come out
# as blurred dots zxing cannot sample until they are 4-6 px, and a covered finder pattern is sometimes
# found at the larger scale.
_CROP_MARGIN = 1.0
_UPSCALE_MAX_SIDE = 800


@dataclass(frozen=True)
class QrCode:
    """One decoded code: its payload and its corners in the original image's pixel coordinates."""

    payload: str
    box: list[list[float]]  # 4 corners [x, y]: the code's top-left, top-right, bottom-right, bottom-left
    frame: int = 0


def _payload(r: Any) -> str:
    """The code's text. zxing transcodes by the code's ECI, its Kanji mode or a charset guess (UTF-8 among
    them). Binary content (a binary ECI, or bytes with control characters) is kept as UTF-8 when it is
    UTF-8 without control characters other than line breaks and tabs, else in zxing's human-readable form
    (Latin-1, control bytes as <NUL>, <GS> ...): a string, never an exception, no NUL from a binary code."""
    if r.content_type == zxingcpp.ContentType.Binary:
        try:
            text = r.bytes.decode("utf-8")
        except UnicodeDecodeError:
            return r.text
        return text if all(ch.isprintable() or ch in "\t\r\n" for ch in text) else r.text
    return r.text


def _corners(r: Any) -> np.ndarray:
    p = r.position
    return np.array([[q.x, q.y] for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)], float)


def _zxing(img: np.ndarray) -> tuple[list[tuple[str, np.ndarray]], list[np.ndarray]]:
    """(decoded payloads with their corners, corners of symbols zxing located but could not decode)."""
    # try_rotate only matters to linear codes (QR finder patterns are found at any angle); try_invert reads
    # light-on-dark codes (dark contact cards) and costs a second pass only when nothing was found.
    results = zxingcpp.read_barcodes(
        img, formats=_FORMATS, try_rotate=False, try_downscale=True, try_invert=True, return_errors=True
    )
    decoded = [(_payload(r), _corners(r)) for r in results if r.valid]
    return [(p, c) for p, c in decoded if p], [_corners(r) for r in results if not r.valid]


def _decode(det: Any, img: np.ndarray) -> tuple[bool, list[tuple[str, np.ndarray]]]:
    """OpenCV: (something QR-like was located, the decoded payloads with their corners)."""
    try:
        ok, payloads, points, _ = det.detectAndDecodeMulti(img)
    except (cv2.error, UnicodeDecodeError):  # the binding decodes payload bytes as UTF-8 (a GBK code raises)
        return False, []
    if not ok or points is None:
        return False, []
    return True, [(p, pts) for p, pts in zip(payloads, points, strict=False) if p]


def _code(payload: str, pts: np.ndarray, scale: float, frame: int, at: tuple[int, int] = (0, 0)) -> QrCode:
    """Corners found in a copy scaled by `scale` (and cropped at `at`) -> the original image's pixels."""
    xy = np.asarray(pts, float).reshape(-1, 2) / scale + at
    return QrCode(payload, [[float(x), float(y)] for x, y in xy], frame)


def _regions(shape: tuple[int, ...], located: Iterable[np.ndarray]) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) to look at again around the located symbols: each grown by its own size on every
    side (a symbol located from a damaged finder pattern can be a fraction of the code, or a triple of
    finder-like marks elsewhere), overlapping boxes merged; more than _MAX_RETRIES become their union."""
    h, w = shape[:2]
    boxes: list[list[int]] = []
    for pts in located:
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        side = max(x1 - x0, y1 - y0)
        if min(x1 - x0, y1 - y0) < 8:  # degenerate corners (zxing reports some as a point)
            continue
        m = _CROP_MARGIN * side + 8
        box = [max(0, int(x0 - m)), max(0, int(y0 - m)), min(w, int(x1 + m) + 1), min(h, int(y1 + m) + 1)]
        boxes.append(box)
    merged: list[list[int]] = []
    for b in boxes:
        for m in merged:
            if b[0] < m[2] and m[0] < b[2] and b[1] < m[3] and m[1] < b[3]:
                m[:] = [min(b[0], m[0]), min(b[1], m[1]), max(b[2], m[2]), max(b[3], m[3])]
                break
        else:
            merged.append(b)
    if len(merged) > _MAX_RETRIES:
        a = np.array(merged)
        merged = [[*a[:, :2].min(0).tolist(), *a[:, 2:].max(0).tolist()]]
    return [(a, b, c, d) for a, b, c, d in merged]


def _retry(x0: int, y0: int, crop: np.ndarray, frame: int) -> list[QrCode]:
    """A located symbol zxing could not decode: zxing again on the crop 2x upscaled (unless big), then
    OpenCV's classic detector, then Aruco (a damaged finder pattern, a grid zxing sampled wrong). zxing's
    location stands in for the classic detector's as Aruco's gate: on partly covered finder patterns Aruco
    reads codes the classic detector does not even locate."""
    ch, cw = crop.shape[:2]
    if max(ch, cw) <= _UPSCALE_MAX_SIDE:
        up = cv2.resize(crop, (cw * 2, ch * 2), interpolation=cv2.INTER_CUBIC)
        found = _zxing(up)[0]
        if found:
            return [_code(p, pts, 2.0, frame, (x0, y0)) for p, pts in found]
    scale = min(1.0, _DOWNSCALE_TO / max(ch, cw))
    img = crop if scale == 1.0 else cv2.resize(crop, (max(1, int(cw * scale)), max(1, int(ch * scale))))
    found = _decode(cv2.QRCodeDetector(), img)[1]
    if not found and img.size <= _ARUCO_MAX_PIXELS and hasattr(cv2, "QRCodeDetectorAruco"):
        found = _decode(cv2.QRCodeDetectorAruco(), img)[1]
    return [_code(p, pts, scale, frame, (x0, y0)) for p, pts in found]


def _gray(pixels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if pixels.ndim == 3 else pixels


def decode_qr(pixels: np.ndarray, frame: int = 0) -> list[QrCode]:
    """Every QR code in a BGR (or gray) uint8 image; one per distinct payload, box = its corners.

    zxing-cpp on the whole image; only where it decoded nothing but located a symbol (a finder-pattern
    triple with a grid it could not read), that symbol's neighbourhood is tried again: zxing upscaled,
    then OpenCV's detectors. An image where zxing locates nothing costs one zxing pass."""
    if pixels is None or pixels.size == 0:
        return []
    gray = _gray(pixels)
    found: dict[str, QrCode] = {}
    decoded, located = _zxing(gray)
    for payload, pts in decoded:
        found.setdefault(payload, _code(payload, pts, 1.0, frame))
    if not found:
        for x0, y0, x1, y1 in _regions(gray.shape, located):
            for code in _retry(x0, y0, gray[y0:y1, x0:x1], frame):
                found.setdefault(code.payload, code)
    return list(found.values())


def _decode_opencv(pixels: np.ndarray, frame: int = 0) -> list[QrCode]:
    """The OpenCV-only decoder decode_qr replaced (issue #22 item 5), kept for benchmarks/bench_qr.py.

    Cheapest first: the classic detector on grayscale; then, only if that decoded nothing, a downscaled copy
    of a big image, and the Aruco detector where a code was located but not decoded."""
    if pixels is None or pixels.size == 0:
        return []
    gray = _gray(pixels)
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
