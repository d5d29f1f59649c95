"""The `paddle` text models: PaddleOCR 3.7 on paddlepaddle 3.2.2, PP-OCRv5 mobile, oneDNN on.

A PaddleOCR instance is not thread-safe and Paddle's OpenMP/oneDNN threads do not survive a fork, so the
models belong to the process (and thread) that built them; ocr.engine.get_engine enforces one per process.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ocr.models import ModelPaths, find_model

# Must be set before paddleocr/paddlex are imported: skip the model-hoster reachability check.
os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")


REC_BATCH_SIZE = 6  # recognition batch, as the onnx engine's


class PaddleModels:
    """PP-OCRv5 mobile det + rec through PaddleX's model objects (PaddleOCR's own pre/post-processing)."""

    name = "paddle"
    default_det_scale = 0.8  # measured: finds 10 px text at 0.64; 0.8 saves ~12% per main image

    def __init__(self, *, threads: int, paths: ModelPaths | None = None, log_level: str = "WARNING") -> None:
        self.det, self.rec = find_model("det", paths), find_model("rec", paths)
        self.threads = threads
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No ccache found")  # paddle's build-tool nag
            from paddleocr import PaddleOCR  # heavy import, deferred until an engine is really needed

            # paddlex resets its logger to INFO on import and logs every model creation.
            logging.getLogger("paddlex").setLevel(log_level)
            self._ocr = PaddleOCR(
                text_detection_model_name=self.det.name,
                text_detection_model_dir=str(self.det.path),
                text_recognition_model_name=self.rec.name,
                text_recognition_model_dir=str(self.rec.path),
                # Each of these would load (and try to download) another model.
                use_doc_orientation_classify=False,
                use_doc_unwarping=False,
                use_textline_orientation=False,
                # Read at native resolution up to our tile size; tiling (ocr.tiles) keeps inputs small.
                text_det_limit_side_len=64,
                text_det_limit_type="min",
                text_recognition_batch_size=REC_BATCH_SIZE,
                enable_mkldnn=True,  # oneDNN: several times faster on CPU (doctor checks it took effect)
                cpu_threads=threads,
                device="cpu",
            )
            import paddleocr

        self.version = f"paddleocr {paddleocr.__version__} {self.det.name}+{self.rec.name}"

    def _pipeline(self) -> Any:
        return getattr(self._ocr.paddlex_pipeline, "_pipeline", self._ocr.paddlex_pipeline)

    def detect(self, image: np.ndarray, max_side: int | None) -> list[np.ndarray]:
        p = self._pipeline()
        params = p.get_text_det_params(max_side, "max") if max_side else p.get_text_det_params()
        det = next(iter(p.text_det_model([image], **params)))
        return [np.asarray(q, dtype=np.float32) for q in p._sort_boxes(det["dt_polys"])]

    def crop(self, image: np.ndarray, polys: Sequence[np.ndarray]) -> list[np.ndarray]:
        return list(self._pipeline()._crop_by_polys(image, list(polys))) if polys else []

    def recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        if not crops:
            return []
        return [(str(r["rec_text"]), float(r["rec_score"])) for r in self._pipeline().text_rec_model(crops)]

    def run_modes(self) -> dict[str, str]:
        """The run mode Paddle actually chose per model ("mkldnn" when oneDNN is on): PaddleX silently
        falls back to plain "paddle" for models on its blocklist, which is 5-8x slower here."""
        p = self._pipeline()
        return {
            "det": str(p.text_det_model.runner._config.get("run_mode")),
            "rec": str(p.text_rec_model.runner._config.get("run_mode")),
        }

    @property
    def onednn(self) -> bool:
        return all("mkldnn" in m for m in self.run_modes().values())

    def describe(self) -> dict[str, Any]:
        import paddle
        import paddleocr

        return {
            "backend": f"paddlepaddle {paddle.__version__} (paddleocr {paddleocr.__version__})",
            "det_model": self.det.name,
            "det_path": str(self.det.path),
            "rec_model": self.rec.name,
            "rec_path": str(self.rec.path),
            "run_modes": self.run_modes(),
            "onednn": self.onednn,
        }
