"""`--engine`, shared by the commands that build an OCR engine (scan, worker)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from ocr import ENGINES
from qqscan.options import setting_option


def engine_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return setting_option(
        "--engine",
        "engine_name",
        setting="QQSCAN_ENGINE",
        type=click.Choice(list(ENGINES), case_sensitive=False),
        help="Which OCR engine to build (onnx: PP-OCRv6 on OpenVINO; paddle: PaddleOCR PP-OCRv5).",
    )(fn)


def choose_engine(engine_name: str | None) -> None:
    """The engine is built where it is used (this process or --jobs workers): it reads QQSCAN_ENGINE."""
    if engine_name:
        os.environ["QQSCAN_ENGINE"] = engine_name.lower()
