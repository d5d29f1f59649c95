"""Contact detectors: text (+ line geometry) -> findings. Knows nothing about images except boxes.

Public API: detect_text, detect_lines, explain, RULES_VERSION, EXTENSION_TRIGGERS; QR payloads in
detectors.qrcode (decoded from pixels by ocr.qr).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from detectors.base import Finding
from detectors.engine import DetectionTimeout, Excluded, TextDetector
from ground.settings import setting

if TYPE_CHECKING:
    from ocr.types import OcrLine

__all__ = [
    "Finding",
    "Excluded",
    "DetectionTimeout",
    "RULES_VERSION",
    "EXTENSION_TRIGGERS",
    "detect_text",
    "detect_lines",
    "explain",
    "detector",
    "TextDetector",
]


@cache
def detector() -> TextDetector:
    """The detector of this process, built on first use from the rules (vocab.toml and QQSCAN_RULES): its
    tables take about a second, so importing the package builds nothing."""
    from detectors.rules import load_rules

    return TextDetector(load_rules())


@cache
def _extension_triggers() -> frozenset[str]:
    return frozenset(detector().rules["keywords"].get("line_extension_endings", ""))


def __getattr__(name: str) -> Any:
    """RULES_VERSION (the rules version every finding carries) and EXTENSION_TRIGGERS (line endings after
    which OCR follows a cut line to the right: contact keywords; ocr/ gets them from jobs/) are the
    detector's, read when first asked for."""
    if name == "RULES_VERSION":
        return detector().version
    if name == "EXTENSION_TRIGGERS":
        return _extension_triggers()
    raise AttributeError(f"module 'detectors' has no attribute {name!r}")


def detect_text(text: str) -> list[Finding]:
    """Findings in one piece of text (no geometry: box is None)."""
    return detector().detect(text)


def explain(text: str) -> list[Excluded]:
    """Candidate numbers in `text` that were rejected, each with the exclusion rule that rejected it."""
    return detector().explain(text)


def detect_lines(lines: Sequence[OcrLine], seconds: float | None = None) -> list[Finding]:
    """Findings in the OCR lines of one image: lines joined in reading order per frame, boxes carried.
    Past `seconds` (default QQSCAN_DETECT_SECONDS) it raises DetectionTimeout, the image's error."""
    import time

    from detectors.layout import detect_in_lines

    limit = setting("QQSCAN_DETECT_SECONDS") if seconds is None else seconds
    return detect_in_lines(lines, detector(), time.monotonic() + limit)
