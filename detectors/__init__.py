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
from ground.settings import SETTINGS

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
def detector(rules: str | None = None) -> TextDetector:
    """The detector for the shipped rules with the override file `rules` (QQSCAN_RULES's value; None: none),
    built on first use and kept for the process: its tables take about a second, so importing the package
    builds nothing."""
    from detectors.rules import load_rules

    return TextDetector(load_rules(rules))


def __getattr__(name: str) -> Any:
    """RULES_VERSION (the rules version every finding carries) and EXTENSION_TRIGGERS (line endings after
    which OCR follows a cut line to the right: contact keywords; ocr/ gets them from jobs/) are the
    detector's, read when first asked for."""
    if name == "RULES_VERSION":
        return detector().version
    if name == "EXTENSION_TRIGGERS":
        return detector().extension_triggers
    raise AttributeError(f"module 'detectors' has no attribute {name!r}")


def detect_text(text: str) -> list[Finding]:
    """Findings in one piece of text (no geometry: box is None)."""
    return detector().detect(text)


def explain(text: str) -> list[Excluded]:
    """Candidate numbers in `text` that were rejected, each with the exclusion rule that rejected it."""
    return detector().explain(text)


def detect_lines(
    lines: Sequence[OcrLine], seconds: float | None = None, using: TextDetector | None = None
) -> list[Finding]:
    """Findings in the OCR lines of one image by `using` (default: the shipped rules): lines joined in
    reading order per frame, boxes carried. Past `seconds` (default: QQSCAN_DETECT_SECONDS's default) it
    raises DetectionTimeout, the image's error."""
    import time

    from detectors.layout import detect_in_lines

    limit = SETTINGS["QQSCAN_DETECT_SECONDS"].default if seconds is None else seconds
    return detect_in_lines(lines, using or detector(), time.monotonic() + limit)
