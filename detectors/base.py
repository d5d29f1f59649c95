"""Finding: what every detector yields, and the rules version it was produced under."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Box = list[list[float]]  # [[x, y]] * 4, original-image coordinates


@dataclass
class Finding:
    type: str  # "qq" | "phone" | "wechat" | "qrcode" | ...
    value: str | None  # the normalised contact (digits, id, QR payload)
    text: str  # the evidence as read (original OCR text, not normalised)
    confidence: float
    rule: str  # which rule fired, e.g. "qq.keyword"
    span: tuple[int, int] | None = None  # offsets of `text` in the joined text it came from
    box: Box | None = None
    frame: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"contact_type": "qq"} for QR codes

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.type,
            "value": self.value,
            "text": self.text,
            "box": self.box,
            "frame": self.frame,
            "confidence": round(float(self.confidence), 4),
            "rule": self.rule,
        }
        if self.span is not None:
            d["span"] = list(self.span)
        d.update(self.extra)
        return d
