"""The `onnx` text models: PP-OCRv6 det + rec as ONNX files, run on the CPU by OpenVINO or ONNX Runtime.

Pre- and post-processing (DB box extraction, perspective crops, CTC decoding with the character list stored
in the model) are RapidOCR's, the maintained port of PaddleOCR's own; only the model paths, thread counts
and detector size are ours. Model files are named explicitly, so RapidOCR's download path never runs.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ocr.models import ModelPaths, find_onnx_model

# `import openvino` imports its model converter, which sends a Google Analytics event from a child process
# unless a consent file says no. We run offline and send nothing: with the telemetry package unimportable,
# OpenVINO falls back to its own no-op stub (openvino/tools/ovc/telemetry_utils.py).
sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[assignment]


def _dist_version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


# Measured (docs/benchmarks.md): batches of 6 crops, padded to at least 320 px wide; 1-32 and smaller
# padding showed nothing but noise, and padding changed some reads.
REC_BATCH_SIZE = 6
REC_MIN_WIDTH = 320


def _rapidocr_config() -> Any:
    """RapidOCR's shipped defaults (Det, Rec, EngineConfig sections), so thresholds stay the library's."""
    import rapidocr
    from omegaconf import OmegaConf

    return OmegaConf.load(Path(rapidocr.__file__).parent / "config.yaml")


def _openvino_precision(wanted: str) -> str:
    """bf16 where the CPU computes it natively (AVX512-BF16 or AMX; OpenVINO reports it as BF16): about
    2.5x faster recognition here. "auto" picks it when available; f32 elsewhere. `wanted` was checked
    against the setting's choices (ground/settings.py)."""
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
        self, *, threads: int, runtime: str, precision: str, paths: ModelPaths | None = None
    ) -> None:
        """`runtime` and `precision` as checked by the settings table (ocr.engine.EngineConfig)."""
        from rapidocr.ch_ppocr_det import TextDetector
        from rapidocr.ch_ppocr_rec import TextRecognizer
        from rapidocr.utils.typings import EngineType

        # RapidOCR's logger (set to INFO when it is imported) announces every model load.
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)

        self.det, self.rec = find_onnx_model("det", paths), find_onnx_model("rec", paths)
        self.threads, self.runtime = threads, runtime
        engine_type = EngineType(runtime)
        cfg = _rapidocr_config()
        det_cfg, rec_cfg, engine_cfg = cfg.Det, cfg.Rec, cfg.EngineConfig[runtime]
        if runtime == "onnxruntime":
            engine_cfg.intra_op_num_threads = threads
            engine_cfg.inter_op_num_threads = 1
        else:
            engine_cfg.inference_num_threads = threads
        for section, model in ((det_cfg, self.det), (rec_cfg, self.rec)):
            section.engine_type = engine_type
            section.engine_cfg = engine_cfg
            section.model_path = str(model.path)
        det_cfg.limit_type = "max"
        rec_cfg.rec_batch_num = REC_BATCH_SIZE
        rec_cfg.rec_img_shape = [3, 48, REC_MIN_WIDTH]  # a batch is padded to its widest crop, or this
        rec_cfg.font_path = None
        self._det = TextDetector(det_cfg)
        self._rec = TextRecognizer(rec_cfg)
        self.precision = "f32"
        if runtime == "openvino":
            self.precision = _openvino_precision(precision)
            if self.precision != "f32":
                for session in (self._det.session, self._rec.session):
                    _recompile(session, self.precision, threads)
        # Stored with every result: built once, not per image (a package-metadata lookup costs ~1 ms).
        shown = runtime if self.precision == "f32" else f"{runtime}-{self.precision}"
        self.version = f"rapidocr {_dist_version('rapidocr')} {shown} {self.det.name}+{self.rec.name}"

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

    @functools.cached_property
    def characters(self) -> list[str]:
        """The recogniser's classes, index 0 the CTC blank (the model's own character list, 18,708 of them:
        copied once)."""
        return list(self._rec.postprocess_op.character)

    def step_probabilities(self, crop: np.ndarray) -> np.ndarray:
        """The recogniser's per-step class probabilities for one crop (T x classes), as RapidOCR feeds it."""
        h, w = crop.shape[:2]
        _, rec_h, rec_w = self._rec.rec_image_shape
        norm = self._rec.resize_norm_img(crop, max(rec_w / rec_h, w / max(h, 1)))
        return np.asarray(self._rec.session(norm[np.newaxis].astype(np.float32))[0])

    def describe(self) -> dict[str, Any]:
        return {
            "backend": f"{self.runtime} {_dist_version(self.runtime)} (rapidocr {_dist_version('rapidocr')})",
            "det_model": self.det.name,
            "det_path": str(self.det.path),
            "rec_model": self.rec.name,
            "rec_path": str(self.rec.path),
            "precision": self.precision,
        }
