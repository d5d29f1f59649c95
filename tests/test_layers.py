"""The import rules of docs/architecture.md, checked by parsing every module with `ast` (nothing is imported).

- Each package imports only the layers below it (LAYERS): ocr/ knows nothing about contacts or what runs it
  (the contact keywords it needs come in as arguments from jobs/pipeline.py); fetch/ and store/ are
  libraries that know no jobs, RQ runtime or web app; jobs/ never imports worker/ (the RQ runtime sits on
  top of the jobs); review/ reads and writes only through store/. ground/ (the settings table and the
  errors) is the bottom layer: every layer may read it and it imports nothing of the project.
- detectors/ sees text and boxes, never pixels: no cv2 or PIL, and numpy only in the modules listed below.
- RQ is known only to the RQ runtime (worker/), the job functions and their queueing (jobs/tasks.py,
  jobs/cron.py, jobs/queueing), the CLI (qqscan/) and the tests.
Imports inside functions and under TYPE_CHECKING count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SKIP_DIRS = {".venv", ".git", "__pycache__", "node_modules", "build", "dist", ".pytest_cache", ".ruff_cache"}

FIRST_PARTY = ("ground", "qqscan", "ocr", "detectors", "fetch", "store", "jobs", "worker", "review", "api")
# Layer -> the first-party packages it may import besides itself (bottom to top). ground/ (settings table,
# errors) imports nothing of the project and every layer may import it; qqscan/ (the CLI) may import
# everything; tests/, benchmarks/ and fixtures/ are not layers.
LAYERS: dict[str, tuple[str, ...]] = {
    "ground": (),
    "ocr": ("ground",),
    "detectors": ("ground", "ocr"),  # text and boxes: ocr.types, the QR payload type
    "fetch": ("ground", "ocr"),  # the one image-format sniffer, ocr.decode
    "store": ("ground", "detectors"),  # findings and allow-list entries
    "jobs": ("ground", "ocr", "detectors", "fetch", "store"),
    "review": ("ground", "detectors", "store", "jobs"),  # jobs: the dashboard reads queues and workers
    "api": ("ground", "detectors", "store", "jobs", "fetch"),  # a web app over the store and the queues
    "worker": ("ground", "ocr", "detectors", "fetch", "store", "jobs"),
}
# (file, module) pairs allowed across the layers, each with its reason.
LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {}
DETECTORS_IMAGE_LIBS = ("cv2", "PIL")
# detectors/ modules allowed to import numpy, each with its reason (non-image math only). None today: the
# only user was the QR pixel decoder, which moved to ocr/qr.py.
DETECTORS_NUMPY_ALLOWED: dict[str, str] = {}
# Paths (a folder ends in "/") where `rq` may be imported.
RQ_ALLOWED = (
    "worker/",
    "jobs/tasks.py",
    "jobs/cron.py",
    "jobs/queueing.py",
    "jobs/presence.py",  # who works: worker registrations (status, health, the dashboard)
    "api/app.py",  # the API waits on RQ's result stream of the jobs it queued
    "qqscan/",
    "tests/",
    # Measures the real worker, so it enqueues through RQ like the CLI does (README, worker benchmark).
    "benchmarks/bench_worker.py",
)


def python_files(root: Path) -> list[Path]:
    """Every .py file under `root`, virtualenvs, caches and build output aside."""
    out = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).parts
        if not any(p in _SKIP_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
            out.append(path)
    return sorted(out)


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in the file, relative imports resolved against its package."""
    rel = path.relative_to(root)
    package = list(rel.parts[:-1])
    tree = ast.parse(path.read_text("utf-8"), filename=str(rel))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                if node.module:
                    found.append((node.lineno, ".".join([*base, node.module])))
                else:
                    found.extend((node.lineno, ".".join([*base, a.name])) for a in node.names)
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def _allowed(rel: str, allowed: tuple[str, ...]) -> bool:
    return any(rel.startswith(a) if a.endswith("/") else rel == a for a in allowed)


def violations(root: Path) -> list[str]:
    """One line per import that breaks a layer rule: `path:line: imports X (rule)`."""
    out = []
    for path in python_files(root):
        rel = path.relative_to(root).as_posix()
        layer = rel.split("/", 1)[0] if "/" in rel else ""
        for line, module in imported_modules(path, root):
            top = module.split(".")[0]
            where = f"{rel}:{line}: imports {module}"
            if (
                layer in LAYERS
                and top in FIRST_PARTY
                and top != layer
                and top not in LAYERS[layer]
                and (rel, module) not in LAYER_EXCEPTIONS
            ):
                out.append(f"{where} ({layer}/ may import only {', '.join(LAYERS[layer]) or 'itself'})")
            if layer == "detectors" and top in DETECTORS_IMAGE_LIBS:
                out.append(f"{where} (detectors/ sees text and boxes, never pixels)")
            if layer == "detectors" and top == "numpy" and rel not in DETECTORS_NUMPY_ALLOWED:
                out.append(f"{where} (detectors/: numpy only in DETECTORS_NUMPY_ALLOWED, with a reason)")
            if top == "rq" and not _allowed(rel, RQ_ALLOWED):
                out.append(f"{where} (only worker/, the job functions and their queueing, the CLI know RQ)")
    return out


def test_the_tree_keeps_the_layer_rules() -> None:
    files = {p.relative_to(REPO).as_posix() for p in python_files(REPO)}
    # Not vacuous: the walk sees the layers it checks.
    assert {"ocr/engine.py", "ocr/qr.py", "detectors/qrcode.py", "jobs/tasks.py", "worker/worker.py"} <= files
    assert {"fetch/client.py", "store/database.py", "store/results.py", "review/app.py"} <= files
    assert violations(REPO) == []


def test_layer_exceptions_are_not_stale() -> None:
    for rel, module in LAYER_EXCEPTIONS:
        mods = [m for _, m in imported_modules(REPO / rel, REPO)]
        assert module in mods, f"{rel} no longer imports {module}"


def test_numpy_allow_list_is_not_stale() -> None:
    for rel in DETECTORS_NUMPY_ALLOWED:
        mods = [m.split(".")[0] for _, m in imported_modules(REPO / rel, REPO)]
        assert "numpy" in mods, f"{rel} no longer imports numpy: drop it from DETECTORS_NUMPY_ALLOWED"


FORBIDDEN = [
    ("ocr/extend.py", "from detectors import EXTENSION_TRIGGERS\n"),
    ("ocr/engine.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from jobs import pipeline\n"),
    ("ocr/qr.py", "def f():\n    import store.results\n"),
    ("ocr/sub/mod.py", "from ... import qqscan\n"),
    ("detectors/qrcode.py", "import cv2\n"),
    ("detectors/layout.py", "import numpy as np\n"),
    ("detectors/qq.py", "def f():\n    from PIL import Image\n"),
    ("review/app.py", "from rq import Queue\n"),
    ("jobs/pipeline.py", "import rq.job\n"),
    ("fetch/client.py", "from rq import Queue\n"),
    ("fetch/client.py", "from store.results import Store\n"),
    ("store/results.py", "from fetch.client import fetch_image\n"),
    ("store/review.py", "def f():\n    from jobs.scanning import scan_and_store\n"),
    ("jobs/tasks.py", "from worker.worker import QqscanWorker\n"),
    ("review/views.py", "from worker import metrics\n"),
    ("detectors/qq.py", "import store.findings\n"),
]
ALLOWED = [
    ("jobs/queueing.py", "from rq import Queue\n"),
    ("jobs/tasks.py", "from rq import get_current_job\n"),
    ("qqscan/batch_cmds.py", "from rq import Worker\n"),
    ("tests/test_x.py", "import rq, cv2, detectors\n"),
    ("detectors/__init__.py", "from ocr.types import OcrLine\n"),
    ("ocr/reader.py", "from ocr.engine import OcrEngine\nfrom . import tiles\nimport numpy, cv2\n"),
    ("jobs/evidence.py", "import cv2\nimport numpy as np\n"),
    ("store/database.py", "from ground.settings import setting\n"),
    ("jobs/scanning.py", "from store.results import Store\nfrom fetch.client import fetch_image\n"),
    ("worker/worker.py", "from jobs.queueing import Policy\n"),
    ("qqscan/cli.py", "import worker.worker, review.app\n"),
]


def _tree(tmp_path: Path, rel: str, source: str) -> Path:
    path = (tmp_path / rel).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, "utf-8")
    return tmp_path


@pytest.mark.parametrize(("rel", "source"), FORBIDDEN)
def test_the_checker_catches_a_forbidden_import(tmp_path: Path, rel: str, source: str) -> None:
    found = violations(_tree(tmp_path, rel, source))
    assert len(found) == 1, found


@pytest.mark.parametrize(("rel", "source"), ALLOWED)
def test_the_checker_lets_allowed_imports_pass(tmp_path: Path, rel: str, source: str) -> None:
    assert violations(_tree(tmp_path, rel, source)) == []


# Where the settings are read: only at a process's edge. Each entry says which edge it is; everything else
# is handed a Settings object (ground.settings) or one of the configs built from it.
SETTINGS_EDGES: dict[str, str] = {
    "ground/settings.py": "Settings.load itself",
    "qqscan/cli.py": "the CLI's root group reads them once (config file, environment)",
    "qqscan/options.py": "a CLI command invoked without the root group (a test calling it alone)",
    "worker/worker.py": "a worker built by `rq worker-pool` reads its own",
    "jobs/tasks.py": "job functions run by a worker that did not hand its Scanner over (plain `rq worker`)",
    "jobs/cron.py": "`python -m jobs.cron`",
    "store/database.py": "`python -m store.database` (maintainers' migration command)",
    "store/migrations/env.py": "Alembic's own CLI",
}
# os.environ outside ground/settings.py: not a qqscan setting, each with its reason.
ENVIRON_ALLOWED: dict[str, str] = {
    "ocr/paddle_engine.py": "PaddleX's own switch (no model-hoster check), set before PaddleX is imported",
}
_READS = ("Settings.load(", "setting(")


def settings_reads(root: Path) -> list[str]:
    """`path:line: what` for every read of the environment or of the settings outside the edges."""
    out = []
    for path in python_files(root):
        rel = path.relative_to(root).as_posix()
        if rel.split("/", 1)[0] not in LAYERS or "/" not in rel:
            continue  # tests/, benchmarks/ and fixtures/ are edges of their own
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            environ = "os.environ" in code or "os.getenv" in code
            if environ and rel not in (*ENVIRON_ALLOWED, "ground/settings.py"):
                out.append(f"{rel}:{n}: reads os.environ")
            if any(r in code and f"def {r}" not in code for r in _READS) and rel not in SETTINGS_EDGES:
                out.append(f"{rel}:{n}: reads the settings below an edge (take a Settings object instead)")
    return out


def test_settings_are_read_only_at_the_edges() -> None:
    assert settings_reads(REPO) == []


def test_settings_edges_are_not_stale() -> None:
    for rel in [*SETTINGS_EDGES, *ENVIRON_ALLOWED]:
        text = (REPO / rel).read_text("utf-8")
        assert any(r in text for r in (*_READS, "os.environ")), f"{rel} no longer reads settings: drop it"


def test_the_settings_check_catches_a_library_read(tmp_path: Path) -> None:
    (tmp_path / "fetch").mkdir()
    (tmp_path / "fetch" / "x.py").write_text("import os\nTIMEOUT = os.environ.get('QQSCAN_FETCH_DEADLINE')\n")
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "y.py").write_text("from ground.settings import Settings\nS = Settings.load()\n")
    assert settings_reads(tmp_path) == [
        "fetch/x.py:2: reads os.environ",
        "jobs/y.py:2: reads the settings below an edge (take a Settings object instead)",
    ]
