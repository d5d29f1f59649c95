"""The OCR engine: one interface over two sets of text models, and what we build on top of them.

`TextModels` is what an engine backend provides (detect → polygons, crop, recognise crops → text + score);
`paddle` (PaddleOCR, PP-OCRv5 mobile: ocr/paddle_engine.py) and `onnx` (PP-OCRv6 small ONNX files run by
OpenVINO or ONNX Runtime: ocr/onnx_engine.py) implement it. `OcrEngine` adds what neither library does,
the same for both: keeping only the boxes a tile owns before recognition, joining the pieces of a line the
detector split (ocr/assemble.py), orientation retries for tall boxes, vertical columns, and lines the
detector cut short. Models are not thread- or fork-safe (Paddle's OpenMP/oneDNN threads, ONNX
Runtime's pools), so the engine belongs to the process that built it; `get_engine()` keeps one per process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ground.errors import UsageError
from ground.settings import DEFAULTS, SETTINGS, SettingError, Settings
from ocr import circled
from ocr.assemble import join_line_pieces
from ocr.extend import absorbed_fragments, accept_extension, extend_right, overlaps_others, wants_extension
from ocr.models import ModelPaths
from ocr.vertical import column_box, column_to_row, find_columns, rect

RawLine = tuple[str, float, np.ndarray]  # text, score, 4x2 polygon in the input array's coordinates


TALL_RETRY_SCORE = 0.85  # tall boxes read worse than this get the orientation retries
EXTEND_MIN_SCORE = 0.6  # an extended line read replaces the detector's shorter one above this
COLUMN_MIN_SCORE = 0.8  # a column read replaces its fragments only when read this confidently


def _is_tall(poly: np.ndarray) -> bool:
    w = max(np.linalg.norm(poly[0] - poly[1]), np.linalg.norm(poly[2] - poly[3]))
    h = max(np.linalg.norm(poly[0] - poly[3]), np.linalg.norm(poly[1] - poly[2]))
    return bool(h >= 1.5 * w)


class EngineError(UsageError, RuntimeError):
    """The engine cannot be built as configured (unknown name, broken model files, bad setting)."""


class TextModels(Protocol):
    """A text detector + recogniser pair. Crops of tall boxes come back turned 90 degrees (both libraries
    do this), which the orientation retries rely on."""

    name: str
    default_det_scale: float

    def detect(self, image: np.ndarray, max_side: int | None) -> list[np.ndarray]:
        """Text polygons (4x2 float32) in reading order; `max_side` caps the detector's input size."""
        ...

    def crop(self, image: np.ndarray, polys: Sequence[np.ndarray]) -> list[np.ndarray]: ...

    def recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]: ...

    version: str  # engine, runtime and model names; fixed once built (stored with every result)

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class EngineConfig:
    # Defaults, choices and the reasons for them are the settings table's (ground/settings.py).
    engine: str = SETTINGS["QQSCAN_ENGINE"].default
    cpu_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    det_scale: float | None = None  # detector input size relative to the image; None: the engine's default
    onnx_runtime: str = SETTINGS["QQSCAN_ONNX_RUNTIME"].default
    precision: str = SETTINGS["QQSCAN_OV_PRECISION"].default
    models: ModelPaths = field(default_factory=ModelPaths)
    paddle_log: str = SETTINGS["QQSCAN_PADDLE_LOG"].default

    @classmethod
    def from_settings(cls, settings: Settings = DEFAULTS) -> EngineConfig:
        try:
            return cls(
                engine=settings["QQSCAN_ENGINE"],
                cpu_threads=settings["QQSCAN_CPU_THREADS"] or (os.cpu_count() or 1),
                det_scale=settings["QQSCAN_DET_SCALE"],
                onnx_runtime=settings["QQSCAN_ONNX_RUNTIME"],
                precision=settings["QQSCAN_OV_PRECISION"],
                models=ModelPaths(
                    onnx_det=settings["QQSCAN_ONNX_DET_MODEL"],
                    onnx_rec=settings["QQSCAN_ONNX_REC_MODEL"],
                    models_dir=settings["QQSCAN_MODELS_DIR"],
                    det_dir=settings["QQSCAN_DET_MODEL_DIR"],
                    rec_dir=settings["QQSCAN_REC_MODEL_DIR"],
                ),
                paddle_log=settings["QQSCAN_PADDLE_LOG"],
            )
        except SettingError as exc:
            raise EngineError(str(exc)) from None


def build_models(config: EngineConfig) -> TextModels:
    if config.engine == "paddle":
        from ocr.paddle_engine import PaddleModels  # imports paddle: only when asked for

        return PaddleModels(threads=config.cpu_threads, paths=config.models, log_level=config.paddle_log)
    from ocr.onnx_engine import OnnxModels

    return OnnxModels(
        threads=config.cpu_threads,
        runtime=config.onnx_runtime,
        precision=config.precision,
        paths=config.models,
    )


class OcrEngine:
    """Detection + recognition on one image array. Boxes come back in that array's coordinates."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.pid = os.getpid()
        t0 = time.perf_counter()
        self.models = build_models(self.config)
        self.det_scale = self.config.det_scale or self.models.default_det_scale
        self.build_seconds = time.perf_counter() - t0
        self._warm_up()

    @property
    def name(self) -> str:
        return self.models.name

    @property
    def onednn(self) -> bool | None:
        """oneDNN state of the paddle engine; None for engines that do not use it."""
        return getattr(self.models, "onednn", None)

    def _warm_up(self) -> None:
        # Kernels are compiled/allocated per input shape on first use; one small image pays the fixed part.
        img = np.full((96, 320, 3), 255, np.uint8)
        img[30:66, 20:300] = 0
        self.read(img)

    def read(
        self,
        image: np.ndarray,
        keep: Callable[[np.ndarray], bool] | None = None,
        extension_triggers: frozenset[str] = frozenset(),
    ) -> list[RawLine]:
        """Detect, then recognise the boxes `keep` accepts (all by default). Tiling passes a `keep` that
        drops boxes another tile owns *before* recognition, which is most of the cost: on a 750x20000
        page about a fifth of the detected boxes lie in tile overlaps. `extension_triggers`: line endings
        (beyond digits, symbols, colons) after which a cut line is followed (ocr/extend.py); the caller's
        vocabulary, since ocr/ knows nothing about contacts."""
        if os.getpid() != self.pid:
            raise EngineError("OCR engine used in a forked child; build one per process (get_engine)")
        polys = self._detect(image)
        if keep is not None:
            polys = [q for q in polys if keep(q)]
        polys = join_line_pieces(polys)
        crops = self.models.crop(image, polys)
        pairs = [(q, c) for q, c in zip(polys, crops, strict=True) if c.size and min(c.shape[:2]) > 0]
        polys = [q for q, _ in pairs]
        texts, scores = [""] * len(pairs), [0.0] * len(pairs)
        # Recognition pads every crop of a batch to the widest: batch crops of similar aspect ratio.
        order = sorted(range(len(pairs)), key=lambda i: pairs[i][1].shape[1] / pairs[i][1].shape[0])
        for i, (text, score) in zip(order, self.models.recognise([pairs[i][1] for i in order]), strict=True):
            texts[i], scores[i] = text, score
        self._reread_circled([c for _, c in pairs], texts)
        self._reread_tall(image, texts, scores, polys)
        self._read_columns(image, texts, scores, polys)
        self._extend_lines(image, texts, scores, polys, extension_triggers)
        return [(t, s, q) for t, s, q in zip(texts, scores, polys, strict=True) if t.strip()]

    def _reread_circled(self, crops: list[np.ndarray], texts: list[str]) -> None:
        """Lines of circled digits decoded again from the step probabilities, with the circled zeros the
        model has no class for put back (ocr/circled.py); engines that do not expose them are left as read."""
        probabilities = getattr(self.models, "step_probabilities", None)
        if probabilities is None:
            return
        for i, text in enumerate(texts):
            if circled.wants_second_look(text):
                characters = self.models.characters  # type: ignore[attr-defined]
                texts[i] = circled.decode(probabilities(crops[i]), characters)

    def _detect(self, image: np.ndarray) -> list[np.ndarray]:
        h, w = image.shape[:2]
        # Detection at reduced size; recognition still reads crops from the full-resolution image.
        max_side = max(64, int(max(h, w) * self.det_scale)) if self.det_scale < 1.0 else None
        return self.models.detect(image, max_side)

    def _extend_lines(
        self, image: np.ndarray, texts: list[str], scores: list[float], polys: list, triggers: frozenset[str]
    ) -> None:
        todo = []
        for i, text in enumerate(texts):
            if wants_extension(text, triggers):
                region = extend_right(image, polys[i])
                # Ink that the detector already boxed as another line is that line, not our tail.
                if region is not None and not overlaps_others(region, polys[i], polys, texts):
                    todo.append((i, region))
        if not todo:
            return
        crops = [np.ascontiguousarray(image[y0:y1, x0:x1]) for _, (x0, y0, x1, y1) in todo]
        for (i, (x0, y0, x1, y1)), (text, score) in zip(todo, self.models.recognise(crops), strict=True):
            if not texts[i]:  # absorbed into a longer line a moment ago
                continue
            if score >= EXTEND_MIN_SCORE and accept_extension(texts[i], text):
                for j in absorbed_fragments((x0, y0, x1, y1), polys[i], polys, texts):
                    texts[j] = ""  # the tail piece the detector boxed apart is now part of this line
                texts[i], scores[i] = text, score
                polys[i] = rect(x0, y0, x1, y1)

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
        recs = self.models.recognise([r for _, r in rows])
        for (group, _), box, (text, score) in zip(rows, boxes, recs, strict=True):
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
        weak = [i for i, poly in enumerate(polys) if scores[i] < TALL_RETRY_SCORE and _is_tall(poly)]
        if not weak:
            return
        candidates: list[tuple[int, np.ndarray]] = []
        for i in weak:
            crop = self.models.crop(image, [polys[i]])[0]  # already turned 90 degrees by the library
            candidates.append((i, np.ascontiguousarray(np.rot90(crop, 2))))
            column = np.ascontiguousarray(np.rot90(crop, -1))  # back to upright: a tall column
            row = column_to_row(column)
            if row is not None:
                candidates.append((i, row))
        recs = self.models.recognise([c for _, c in candidates])
        for (i, _), (text, score) in zip(candidates, recs, strict=True):
            if text.strip() and score > scores[i]:
                texts[i], scores[i] = text, score

    @property
    def version(self) -> str:
        """What produced a result, stored with it: OCR library, runtime and the two model names."""
        return self.models.version

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.models.name,
            **self.models.describe(),
            "cpu_threads": self.config.cpu_threads,
            "det_scale": self.det_scale,
            "build_seconds": round(self.build_seconds, 2),
        }


_engines: dict[EngineConfig, OcrEngine] = {}
_lock = threading.Lock()
builds = 0  # engines built in this process; the worker benchmark reports it


def get_engine(config: EngineConfig | None = None) -> OcrEngine:
    """The process's engine for `config` (default: the table's defaults), built on first use. A fork
    inherits the parent's object but not its threads, so a child builds its own."""
    global builds
    config = config or EngineConfig()
    with _lock:
        engine = _engines.get(config)
        if engine is None or engine.pid != os.getpid():
            engine = _engines[config] = OcrEngine(config)
            builds += 1
        return engine
