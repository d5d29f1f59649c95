"""Contact detectors: text (+ line geometry) -> findings. Knows nothing about images except boxes.

Public API: detect_text, detect_lines, explain, RULES_VERSION, EXTENSION_TRIGGERS; QR payloads in
detectors.qrcode (decoded from pixels by ocr.qr).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from detectors.base import Finding
from detectors.engine import DetectionTimeout, Excluded, TextDetector
from detectors.rules import load_rules
from ground.settings import setting

if TYPE_CHECKING:
    from ocr.types import OcrLine

_DETECTOR = TextDetector(load_rules())
RULES_VERSION: str = _DETECTOR.version
# Line endings after which OCR follows a cut line to the right (contact keywords); ocr/ gets them from jobs/.
EXTENSION_TRIGGERS: frozenset[str] = frozenset(_DETECTOR.rules["keywords"].get("line_extension_endings", ""))

__all__ = [
    "Finding",
    "Excluded",
    "DetectionTimeout",
    "RULES_VERSION",
    "EXTENSION_TRIGGERS",
    "detect_text",
    "detect_lines",
    "explain",
    "TextDetector",
]


def detect_text(text: str) -> list[Finding]:
    """Findings in one piece of text (no geometry: box is None)."""
    return _DETECTOR.detect(text)


def explain(text: str) -> list[Excluded]:
    """Candidate numbers in `text` that were rejected, each with the exclusion rule that rejected it."""
    return _DETECTOR.explain(text)


def detect_lines(lines: Sequence[OcrLine], seconds: float | None = None) -> list[Finding]:
    """Findings in the OCR lines of one image: lines joined in reading order per frame, boxes carried.
    Past `seconds` (default QQSCAN_DETECT_SECONDS) it raises DetectionTimeout, the image's error."""
    import time

    from detectors.layout import detect_in_lines

    limit = setting("QQSCAN_DETECT_SECONDS") if seconds is None else seconds
    return detect_in_lines(lines, _DETECTOR, time.monotonic() + limit)
