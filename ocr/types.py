"""Plain data passed between the OCR stages."""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float]
Box = tuple[Point, Point, Point, Point]


@dataclass(frozen=True)
class OcrLine:
    """One recognised text line, its box in original-image pixel coordinates."""

    text: str
    score: float
    box: Box  # 4 points clockwise from top-left, in the original image
    frame: int = 0  # frame index for animated images, 0 otherwise

    @property
    def x0(self) -> float:
        return min(p[0] for p in self.box)

    @property
    def y0(self) -> float:
        return min(p[1] for p in self.box)

    @property
    def x1(self) -> float:
        return max(p[0] for p in self.box)

    @property
    def y1(self) -> float:
        return max(p[1] for p in self.box)


@dataclass
class Frame:
    """One decoded still image: BGR uint8 pixels (numpy array, H x W x 3)."""

    index: int
    pixels: object  # numpy.ndarray; typed loosely to keep this module numpy-free
    meta: dict = field(default_factory=dict)
