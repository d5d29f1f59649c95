"""`--engine`, shared by the commands that build an OCR engine (scan, worker)."""

from __future__ import annotations

from qqscan.options import setting_option

# The engine is built where it is used (this process, --jobs workers, RQ work horses): each reads
# QQSCAN_ENGINE, which the flag sets. Choices and default are the settings table's.
engine_option = setting_option(
    "--engine",
    setting="QQSCAN_ENGINE",
    export=True,
    help="Which OCR engine to build (onnx: PP-OCRv6 on OpenVINO; paddle: PaddleOCR PP-OCRv5).",
)
