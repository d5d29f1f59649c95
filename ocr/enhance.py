"""Optional OpenCV passes for text the plain pass misses, at the cost of one more OCR pass each.

Measured on generated hard cases (benchmarks/bench_enhance.py): PP-OCRv5 already reads light grey text down to
#e6e6e6 on white, 7 px text and text turned ±20° without help, so no step runs by default. Two steps recover
what it misses and are offered as opt-in passes (`qqscan scan --enhance`, QQSCAN_ENHANCE=tophat,clahe):
- tophat: semi-transparent light text over a busy photo (white top-hat on luminance, inverted);
- clahe: near-white text (#f8f8f8 on white) via local contrast equalisation.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from ground.settings import DEFAULTS, Settings

Step = Callable[[np.ndarray], np.ndarray]


def tophat(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # the structuring element must be wider than a stroke, narrower than the busy texture's blobs
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (25, 25))
    hat = cv2.normalize(cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, kernel), None, 0, 255, cv2.NORM_MINMAX)
    return cv2.cvtColor(255 - hat, cv2.COLOR_GRAY2BGR)


def clahe(image: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


STEPS: dict[str, Step] = {"tophat": tophat, "clahe": clahe}


def enhance_steps(settings: Settings = DEFAULTS) -> list[str]:
    """The QQSCAN_ENHANCE steps (a comma/space list); ValueError names an unknown one."""
    names = list(settings["QQSCAN_ENHANCE"])
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise ValueError(f"unknown enhancement step(s) {', '.join(unknown)}; known: {', '.join(STEPS)}")
    return names
