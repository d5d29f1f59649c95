"""The `onnx` text models: PP-OCRv6 det + rec as ONNX files, run on the CPU by OpenVINO or ONNX Runtime.

Pre- and post-processing (DB box extraction, perspective crops, CTC decoding with the character list stored
in the model) are RapidOCR's, the maintained port of PaddleOCR's own; only the model paths, thread counts
and detector size are ours. Model files are named explicitly, so RapidOCR's download path never runs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ocr.models import ModelDir, find_onnx_model

# `import openvino` imports its model converter, which sends a Google Analytics event from a child process
# unless a consent file says no. We run offline and send nothing: with the telemetry package unimportable,
# OpenVINO falls back to its own no-op stub (openvino/tools/ovc/telemetry_utils.py).
sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[assignment]

RUNTIMES = ("openvino", "onnxruntime")  # ocr.engine.ONNX_RUNTIMES lists the same


def _dist_version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _rapidocr_config(section: str) -> Any:
    """RapidOCR's shipped defaults for one model section (Det or Rec), so thresholds stay the library's."""
    import rapidocr
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(Path(rapidocr.__file__).parent / "config.yaml")
    return cfg[section], cfg.EngineConfig


PRECISIONS = ("auto", "f32", "bf16")


def _openvino_precision(wanted: str) -> str:
    """bf16 where the CPU computes it natively (AVX512-BF16 or AMX; OpenVINO reports it as BF16): about
    2.5x faster recognition here. "auto" picks it when available; f32 elsewhere."""
    if wanted not in PRECISIONS:
        raise ValueError(f"unknown precision {wanted!r} (choose {', '.join(PRECISIONS)})")
    if wanted != "auto":
        return wanted
    import openvino as ov

    return "bf16" if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "f32"


def _recompile(session: Any, precision: str, threads: int) -> None:
    """RapidOCR's OpenVINO session compiles with f32 and offers no precision setting: compile its model
    again with the precision hint and swap the inference request in."""
    import openvino as ov

    props = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": str(threads)}
    session.session = ov.Core().compile_model(session.model, "CPU", props).create_infer_request()


class OnnxModels:
    """PP-OCRv6 small through RapidOCR's TextDetector / TextRecognizer, on OpenVINO or ONNX Runtime."""

    name = "onnx"
    default_det_scale = 0.6  # measured: same reads as 0.8 on the hard, enhance and tall sets; 0.5 loses some

    def __init__(
        self,
        *,
        threads: int,
        det: ModelDir | None = None,
        rec: ModelDir | None = None,
        runtime: str = "openvino",
        rec_batch_size: int = 6,
        rec_min_width: int = 320,
        precision: str = "auto",
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown ONNX runtime {runtime!r} (choose {' or '.join(RUNTIMES)})")
        from rapidocr.ch_ppocr_det import TextDetector
        from rapidocr.ch_ppocr_rec import TextRecognizer
        from rapidocr.utils.typings import EngineType

        # RapidOCR's logger (set to INFO when it is imported) announces every model load.
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)

        self.det, self.rec = det or find_onnx_model("det"), rec or find_onnx_model("rec")
        self.threads, self.runtime = threads, runtime
        engine_type = EngineType(runtime)
        det_cfg, engines = _rapidocr_config("Det")
        rec_cfg, _ = _rapidocr_config("Rec")
        engine_cfg = engines[runtime]
        if runtime == "onnxruntime":
            engine_cfg.intra_op_num_threads = threads
            engine_cfg.inter_op_num_threads = 1
        else:
            engine_cfg.inference_num_threads = threads
        for cfg, model in ((det_cfg, self.det), (rec_cfg, self.rec)):
            cfg.engine_type = engine_type
            cfg.engine_cfg = engine_cfg
            cfg.model_path = str(model.path)
        det_cfg.limit_type = "max"
        rec_cfg.rec_batch_num = rec_batch_size
        rec_cfg.rec_img_shape = [3, 48, rec_min_width]  # a batch is padded to its widest crop, or this
        rec_cfg.font_path = None
        self._det = TextDetector(det_cfg)
        self._rec = TextRecognizer(rec_cfg)
        self.precision = "f32"
        if runtime == "openvino":
            self.precision = _openvino_precision(precision)
            if self.precision != "f32":
                for session in (self._det.session, self._rec.session):
                    _recompile(session, self.precision, threads)

    def detect(self, image: np.ndarray, max_side: int | None) -> list[np.ndarray]:
        h, w = image.shape[:2]
        self._det.limit_side_len = max_side or max(h, w)
        out = self._det(image)
        if out.boxes is None:
            return []
        return [np.asarray(b, dtype=np.float32) for b in out.boxes]

    def crop(self, image: np.ndarray, polys: Sequence[np.ndarray]) -> list[np.ndarray]:
        from rapidocr.utils.process_img import get_rotate_crop_image

        return [get_rotate_crop_image(image, np.asarray(q, dtype=np.float32)) for q in polys]

    def recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        if not crops:
            return []
        from rapidocr.ch_ppocr_rec import TextRecInput

        out = self._rec(TextRecInput(img=list(crops)))
        return [(str(t), float(s)) for t, s in zip(out.txts, out.scores, strict=True)]

    @property
    def version(self) -> str:
        runtime = self.runtime if self.precision == "f32" else f"{self.runtime}-{self.precision}"
        return f"rapidocr {_dist_version('rapidocr')} {runtime} {self.det.name}+{self.rec.name}"

    def describe(self) -> dict[str, Any]:
        return {
            "backend": f"{self.runtime} {_dist_version(self.runtime)} (rapidocr {_dist_version('rapidocr')})",
            "det_model": self.det.name,
            "det_path": str(self.det.path),
            "rec_model": self.rec.name,
            "rec_path": str(self.rec.path),
            "precision": self.precision,
        }
