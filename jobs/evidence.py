"""What a flagged scan keeps for review, made while the decoded frames are still in memory: each frame that
has a finding, rendered as a bounded JPEG (the image itself may be gone from its URL by review time), and a
zoomed PNG crop around each finding. Boxes stay in decoded-image pixels (EXIF orientation already applied),
so the web app draws them on these renderings, never on the original bytes.

Bounds, chosen so one flagged 750x20000 detail page costs a few MB, not the 40 MiB a worker may fetch:
- frames: at most FRAME_MAX_PIXELS and FRAME_MAX_SIDE (scaled down with INTER_AREA otherwise), JPEG q85;
- crops: the box plus a margin, zoomed so text is about CROP_TEXT_PX tall (1x-4x), at most CROP_MAX_W x
  CROP_MAX_H, PNG (text edges stay sharp); at most MAX_CROPS per scan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from detectors.base import Finding
from ocr.types import Frame
from store.results import EvidenceBlob

FRAME_MAX_PIXELS = 12_000_000
FRAME_MAX_SIDE = 16_000
FRAME_JPEG_QUALITY = 85
CROP_TEXT_PX = 48
CROP_MAX_W, CROP_MAX_H = 1600, 800
MAX_CROPS = 24


def frame_scale(width: int, height: int) -> float:
    """Rendering scale for a frame: 1.0 unless it is above the pixel or side bound."""
    return min(1.0, math.sqrt(FRAME_MAX_PIXELS / max(1, width * height)), FRAME_MAX_SIDE / max(width, height))


def _resize(pixels: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return pixels
    h, w = pixels.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def _encode(pixels: np.ndarray, ext: str, params: list[int]) -> bytes:
    ok, buf = cv2.imencode(ext, pixels, params)
    if not ok:  # only on an impossible size; the caller's bounds prevent it
        raise ValueError(f"could not encode a {pixels.shape} evidence picture as {ext}")
    return buf.tobytes()


def render_frame(frame: Frame) -> EvidenceBlob:
    pixels: np.ndarray = frame.pixels  # type: ignore[assignment]
    h, w = pixels.shape[:2]
    scale = frame_scale(w, h)
    out = _resize(pixels, scale)
    data = _encode(out, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, FRAME_JPEG_QUALITY])
    # scale as actually rendered (rounding to whole pixels), so boxes land where the pixels are
    real = out.shape[1] / w
    return EvidenceBlob("frame", frame.index, -1, "image/jpeg", data, out.shape[1], out.shape[0], real)


def render_crop(frame: Frame, box: Sequence[Sequence[float]], index: int) -> EvidenceBlob | None:
    pixels: np.ndarray = frame.pixels  # type: ignore[assignment]
    h, w = pixels.shape[:2]
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    bw, bh = max(xs) - min(xs), max(ys) - min(ys)
    text_h = max(1.0, min(bw, bh))  # vertical text: the narrow side is the character size
    margin = max(16, int(text_h * 0.6))
    x0, y0 = max(0, int(min(xs)) - margin), max(0, int(min(ys)) - margin)
    x1, y1 = min(w, int(math.ceil(max(xs))) + margin), min(h, int(math.ceil(max(ys))) + margin)
    if x1 <= x0 or y1 <= y0:
        return None
    region = pixels[y0:y1, x0:x1]
    zoom = min(4.0, max(1.0, CROP_TEXT_PX / text_h))
    zoom = min(zoom, CROP_MAX_W / (x1 - x0), CROP_MAX_H / (y1 - y0))  # may go below 1 for huge boxes
    size = (max(1, round((x1 - x0) * zoom)), max(1, round((y1 - y0) * zoom)))
    interp = cv2.INTER_CUBIC if zoom > 1 else cv2.INTER_AREA
    out = cv2.resize(region, size, interpolation=interp) if zoom != 1 else region
    data = _encode(np.ascontiguousarray(out), ".png", [cv2.IMWRITE_PNG_COMPRESSION, 6])
    real = out.shape[1] / (x1 - x0)
    height, width = out.shape[:2]
    return EvidenceBlob("crop", frame.index, index, "image/png", data, width, height, real, x0, y0)


def keep_evidence(frames: Sequence[Frame], findings: Sequence[Finding]) -> list[EvidenceBlob]:
    """Renderings of the frames the findings are on, and a crop per finding (the first MAX_CROPS)."""
    by_index = {f.index: f for f in frames}
    wanted = sorted({f.frame for f in findings if f.frame in by_index}) or [frames[0].index]
    kept = [render_frame(by_index[i]) for i in wanted]
    for i, finding in enumerate(findings[:MAX_CROPS]):
        frame = by_index.get(finding.frame)
        if frame is not None and finding.box:
            crop = render_crop(frame, finding.box, i)
            if crop is not None:
                kept.append(crop)
    return kept
