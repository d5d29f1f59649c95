"""Shared fixtures: one real OCR engine per test session, and the generated fixture images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser import chromium, chromium_page  # noqa: F401  (one Playwright per session)
from tests.databases import db_url, pg_admin  # noqa: F401  (fixtures every test module may use)
from tests.helpers_http import http_server  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_job_settings():
    """RQ jobs run in-process by a test read the settings of that test: the Scanner a worker (or a first job)
    handed to jobs.tasks is dropped afterwards, as a new worker process would start without it."""
    yield
    import sys

    tasks = sys.modules.get("jobs.tasks")
    if tasks is not None:
        tasks.use(None)


@pytest.fixture(scope="session")
def engine():
    from ocr.engine import get_engine

    return get_engine()


@pytest.fixture(scope="session")
def paddle_engine(engine):
    """The `paddle` engine (PP-OCRv5 mobile), built beside the default one for the tests both must pass."""
    from ocr.engine import EngineConfig, OcrEngine

    return engine if engine.name == "paddle" else OcrEngine(EngineConfig(engine="paddle"))


@pytest.fixture(scope="session")
def onnx_engine(engine):
    from ocr.engine import EngineConfig, OcrEngine

    return engine if engine.name == "onnx" else OcrEngine(EngineConfig(engine="onnx"))


@pytest.fixture(scope="session", params=["onnx", "paddle"])
def each_engine(request):
    """Both engines, for the engine-level tests (tiling, orientation, columns, line extension)."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    """The generated fixtures (fixtures/generate.py), made once and reused across runs."""
    from fixtures.generate import generate

    out = REPO / "fixtures" / "generated"
    generate(out)
    return out


@pytest.fixture(scope="session")
def manifest(fixture_dir: Path) -> list[dict]:
    return json.loads((fixture_dir / "manifest.json").read_text(encoding="utf-8"))
