"""The PaddleOCR engine: local PP-OCRv5 models, oneDNN on, built once per process and warmed up.

A PaddleOCR instance is not thread-safe and Paddle's OpenMP/oneDNN threads do not survive a fork, so
the engine belongs to the process (and thread) that built it; `get_engine()` enforces one per process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ocr.extend import absorbed_fragments, accept_extension, extend_right, overlaps_others, wants_extension
from ocr.models import ModelDir, find_model
from ocr.vertical import column_box, column_to_row, find_columns

# Must be set before paddleocr/paddlex are imported: skip the model-hoster reachability check.
os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")

log = logging.getLogger(__name__)

RawLine = tuple[str, float, np.ndarray]  # text, score, 4x2 polygon in the input array's coordinates


TALL_RETRY_SCORE = 0.85  # tall boxes read worse than this get the orientation retries
EXTEND_MIN_SCORE = 0.6  # an extended line read replaces the detector's shorter one above this
COLUMN_MIN_SCORE = 0.8  # a column read replaces its fragments only when read this confidently


def _is_tall(poly: np.ndarray) -> bool:
    w = max(np.linalg.norm(poly[0] - poly[1]), np.linalg.norm(poly[2] - poly[3]))
    h = max(np.linalg.norm(poly[0] - poly[3]), np.linalg.norm(poly[1] - poly[2]))
    return bool(h >= 1.5 * w)


class EngineError(RuntimeError):
    pass


@dataclass(frozen=True)
class EngineConfig:
    det: ModelDir
    rec: ModelDir
    cpu_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    enable_mkldnn: bool = True
    rec_batch_size: int = 6
    det_scale: float = 0.8  # measured: finds 10 px text at 0.64; 0.8 saves ~12% per main image

    @classmethod
    def from_env(cls) -> EngineConfig:
        threads = int(os.environ.get("QQSCAN_CPU_THREADS", "0")) or (os.cpu_count() or 1)
        scale = float(os.environ.get("QQSCAN_DET_SCALE", "0.8"))
        return cls(det=find_model("det"), rec=find_model("rec"), cpu_threads=threads, det_scale=scale)


class OcrEngine:
    """Detection + recognition on one image array. Boxes come back in that array's coordinates."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig.from_env()
        self.pid = os.getpid()
        self.thread = threading.get_ident()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No ccache found")  # paddle's build-tool nag
            from paddleocr import PaddleOCR  # heavy import, deferred until an engine is really needed

            # paddlex resets its logger to INFO on import and logs every model creation.
            logging.getLogger("paddlex").setLevel(os.environ.get("QQSCAN_PADDLE_LOG", "WARNING"))

            c = self.config
            self._ocr = PaddleOCR(
                text_detection_model_name=c.det.name,
                text_detection_model_dir=str(c.det.path),
                text_recognition_model_name=c.rec.name,
                text_recognition_model_dir=str(c.rec.path),
                # Each of these would load (and try to download) another model.
                use_doc_orientation_classify=False,
                use_doc_unwarping=False,
                use_textline_orientation=False,
                # Read at native resolution up to our tile size; tiling (ocr.tiles) keeps inputs small.
                text_det_limit_side_len=64,
                text_det_limit_type="min",
                text_recognition_batch_size=c.rec_batch_size,
                enable_mkldnn=c.enable_mkldnn,
                cpu_threads=c.cpu_threads,
                device="cpu",
            )
        self.build_seconds = time.perf_counter() - t0
        self._warm_up()

    def _pipeline(self) -> Any:
        return getattr(self._ocr.paddlex_pipeline, "_pipeline", self._ocr.paddlex_pipeline)

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

    def _warm_up(self) -> None:
        # oneDNN compiles kernels per input shape on first use; one small image pays the fixed part.
        img = np.full((96, 320, 3), 255, np.uint8)
        img[30:66, 20:300] = 0
        self.read(img)

    def read(self, image: np.ndarray, keep: Callable[[np.ndarray], bool] | None = None) -> list[RawLine]:
        """Detect, then recognise the boxes `keep` accepts (all by default). Tiling passes a `keep` that
        drops boxes another tile owns *before* recognition, which is most of the cost: on a 750x20000
        page about a fifth of the detected boxes lie in tile overlaps."""
        if os.getpid() != self.pid:
            raise EngineError("OCR engine used in a forked child; build one per process (get_engine)")
        p = self._pipeline()
        polys = self._detect(image)
        if keep is not None:
            polys = [q for q in polys if keep(q)]
        crops = list(p._crop_by_polys(image, polys)) if polys else []
        pairs = [(q, c) for q, c in zip(polys, crops, strict=True) if c.size and min(c.shape[:2]) > 0]
        polys = [q for q, _ in pairs]
        texts, scores = [""] * len(pairs), [0.0] * len(pairs)
        # Recognition pads every crop of a batch to the widest: batch crops of similar aspect ratio.
        order = sorted(range(len(pairs)), key=lambda i: pairs[i][1].shape[1] / pairs[i][1].shape[0])
        if order:
            for i, rec in zip(order, p.text_rec_model([pairs[i][1] for i in order]), strict=True):
                texts[i], scores[i] = str(rec["rec_text"]), float(rec["rec_score"])
        self._reread_tall(image, texts, scores, polys)
        self._read_columns(image, texts, scores, polys)
        self._extend_lines(image, texts, scores, polys)
        return [(t, s, q) for t, s, q in zip(texts, scores, polys, strict=True) if t.strip()]

    def _detect(self, image: np.ndarray) -> list[np.ndarray]:
        p = self._pipeline()
        h, w = image.shape[:2]
        if self.config.det_scale < 1.0:
            # Detection at reduced size; recognition still reads crops from the full-resolution image.
            params = p.get_text_det_params(max(64, int(max(h, w) * self.config.det_scale)), "max")
        else:
            params = p.get_text_det_params()
        det = next(iter(p.text_det_model([image], **params)))
        return [np.asarray(q, dtype=np.float32) for q in p._sort_boxes(det["dt_polys"])]

    def _extend_lines(self, image: np.ndarray, texts: list[str], scores: list[float], polys: list) -> None:
        todo = []
        for i, text in enumerate(texts):
            if wants_extension(text):
                region = extend_right(image, polys[i])
                # Ink that the detector already boxed as another line is that line, not our tail.
                if region is not None and not overlaps_others(region, polys[i], polys, texts):
                    todo.append((i, region))
        if not todo:
            return
        crops = [np.ascontiguousarray(image[y0:y1, x0:x1]) for _, (x0, y0, x1, y1) in todo]
        for (i, (x0, y0, x1, y1)), rec in zip(todo, self._pipeline().text_rec_model(crops), strict=True):
            text, score = str(rec["rec_text"]), float(rec["rec_score"])
            if not texts[i]:  # absorbed into a longer line a moment ago
                continue
            if score >= EXTEND_MIN_SCORE and accept_extension(texts[i], text):
                for j in absorbed_fragments((x0, y0, x1, y1), polys[i], polys, texts):
                    texts[j] = ""  # the tail piece the detector boxed apart is now part of this line
                texts[i], scores[i] = text, score
                polys[i] = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)

    def _read_columns(self, image: np.ndarray, texts: list[str], scores: list[float], polys: list) -> None:
        """Stacked upright characters: read each column as one row; it replaces its fragments when the
        recogniser is confident about the whole column."""
        groups = find_columns(polys)
        if not groups:
            return
        rows, boxes = [], []
        for group in groups:
            box = column_box(polys, group)
            x0, y0 = np.floor(box[0]).astype(int)
            x1, y1 = np.ceil(box[2]).astype(int)
            row = column_to_row(np.ascontiguousarray(image[max(y0, 0) : y1, max(x0, 0) : x1]))
            if row is not None:
                rows.append((group, row))
                boxes.append(box)
        if not rows:
            return
        drop: set[int] = set()
        recs = self._pipeline().text_rec_model([r for _, r in rows])
        for (group, _), box, rec in zip(rows, boxes, recs, strict=True):
            text, score = str(rec["rec_text"]), float(rec["rec_score"])
            if text.strip() and score >= COLUMN_MIN_SCORE:
                drop.update(group)
                texts.append(text)
                scores.append(score)
                polys.append(box)
        for i in sorted(drop, reverse=True):
            del texts[i], scores[i], polys[i]

    def _reread_tall(self, image: np.ndarray, texts: list[str], scores: list[float], polys: list) -> None:
        """Tall boxes are either a line turned 90 degrees or upright characters stacked vertically. The stock
        pipeline (without the orientation model, which we do not ship) always turns tall crops one way, so
        text turned the other way, and stacked text, come back empty or garbled. For weak tall reads only,
        try the opposite turn and the column cut into character cells laid side by side; keep the best."""
        p = self._pipeline()
        weak = [i for i, poly in enumerate(polys) if scores[i] < TALL_RETRY_SCORE and _is_tall(poly)]
        if not weak:
            return
        candidates: list[tuple[int, np.ndarray]] = []
        for i in weak:
            crop = next(iter(p._crop_by_polys(image, [polys[i]])))  # already turned 90 degrees by paddlex
            candidates.append((i, np.ascontiguousarray(np.rot90(crop, 2))))
            column = np.ascontiguousarray(np.rot90(crop, -1))  # back to upright: a tall column
            row = column_to_row(column)
            if row is not None:
                candidates.append((i, row))
        for (i, _), rec in zip(candidates, p.text_rec_model([c for _, c in candidates]), strict=True):
            text, score = str(rec["rec_text"]), float(rec["rec_score"])
            if text.strip() and score > scores[i]:
                texts[i], scores[i] = text, score

    @property
    def version(self) -> str:
        """What produced a result, stored with it: OCR library and the two model names."""
        import paddleocr

        return f"paddleocr {paddleocr.__version__} {self.config.det.name}+{self.config.rec.name}"

    def describe(self) -> dict[str, Any]:
        import paddle
        import paddleocr

        return {
            "paddleocr": paddleocr.__version__,
            "paddlepaddle": paddle.__version__,
            "det_model": self.config.det.name,
            "det_dir": str(self.config.det.path),
            "rec_model": self.config.rec.name,
            "rec_dir": str(self.config.rec.path),
            "cpu_threads": self.config.cpu_threads,
            "run_modes": self.run_modes(),
            "onednn": self.onednn,
            "build_seconds": round(self.build_seconds, 2),
        }


_engine: OcrEngine | None = None
_lock = threading.Lock()
builds = 0  # engines built in this process; the worker benchmark reports it


def get_engine() -> OcrEngine:
    """The process's engine, built on first use. A fork inherits the parent's object but not its threads,
    so a child builds its own."""
    global _engine, builds
    with _lock:
        if _engine is None or _engine.pid != os.getpid():
            _engine = OcrEngine()
            builds += 1
        return _engine
