"""One root for qqscan's errors (ground/errors.py): every exception class the product defines derives from
QqscanError and so carries the exit code a command ends with. Checked by parsing the product packages with
`ast` (nothing is imported): a class is an exception when its bases reach a built-in exception, and rooted
when they reach QqscanError."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.test_layers import REPO, python_files

PRODUCT = ("ground", "qqscan", "ocr", "detectors", "fetch", "store", "jobs", "worker", "review")
BUILTIN_EXCEPTIONS = {
    n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)
}
# Exception classes allowed outside the root, each with its reason (none today).
OUTSIDE_ROOT: dict[str, str] = {}


def exception_classes(root: Path) -> dict[str, tuple[str, list[str]]]:
    """class name -> (path, base names) for every class in the product packages."""
    found: dict[str, tuple[str, list[str]]] = {}
    for pkg in PRODUCT:
        for path in python_files(root / pkg) if (root / pkg).is_dir() else []:
            tree = ast.parse(path.read_text("utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                    found[node.name] = (f"{pkg}/{path.relative_to(root / pkg).as_posix()}", bases)
    return found


def unrooted(root: Path) -> list[str]:
    classes = exception_classes(root)

    def reaches(name: str, targets: set[str], seen: frozenset[str] = frozenset()) -> bool:
        if name in targets:
            return True
        if name in seen or name not in classes:
            return False
        return any(reaches(b, targets, seen | {name}) for b in classes[name][1])

    out = []
    for name, (path, _bases) in sorted(classes.items()):
        is_exception = name not in BUILTIN_EXCEPTIONS and reaches(name, BUILTIN_EXCEPTIONS)
        if is_exception and not reaches(name, {"QqscanError"}) and name not in OUTSIDE_ROOT:
            out.append(f"{path}: {name} does not derive from ground.errors.QqscanError")
    return out


def test_every_product_exception_has_the_root() -> None:
    names = exception_classes(REPO)
    # Not vacuous: the walk sees the errors it checks.
    assert {"StoreUnavailable", "FetchError", "RulesError", "EngineError", "QueueUnavailable"} <= set(names)
    assert unrooted(REPO) == []


def test_the_allow_list_is_not_stale() -> None:
    names = exception_classes(REPO)
    for name in OUTSIDE_ROOT:
        assert name in names, f"{name} is gone: drop it from OUTSIDE_ROOT"


def test_the_checker_catches_an_unrooted_error(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "ground").mkdir()
    (tmp_path / "ground" / "errors.py").write_text(
        "class QqscanError(Exception):\n    pass\nclass UsageError(QqscanError):\n    pass\n", "utf-8"
    )
    (tmp_path / "store" / "x.py").write_text(
        "class Base(ValueError):\n    pass\nclass Sub(Base):\n    pass\n"
        "from ground.errors import UsageError\nclass Good(UsageError, ValueError):\n    pass\n",
        "utf-8",
    )
    assert unrooted(tmp_path) == [
        "store/x.py: Base does not derive from ground.errors.QqscanError",
        "store/x.py: Sub does not derive from ground.errors.QqscanError",
    ]


@pytest.mark.parametrize(
    ("module", "cls", "code"),
    [
        ("store.database", "StoreUnavailable", 3),
        ("store.database", "SchemaTooNew", 2),
        ("store.database", "StoreError", 2),
        ("ground.settings", "SettingError", 2),
        ("jobs.queueing", "QueueUnavailable", 3),
        ("detectors.rules", "RulesError", 2),
        ("ocr.engine", "EngineError", 2),
        ("fetch.client", "FetchError", 2),
        ("worker.metrics", "MetricsPortError", 2),
    ],
)
def test_each_error_ends_a_command_with_its_exit_code(module: str, cls: str, code: int) -> None:
    import importlib

    from ground.errors import ExitCode, QqscanError, exit_code_for

    error_class = getattr(importlib.import_module(module), cls)
    assert issubclass(error_class, QqscanError)
    exc = error_class("x", url="http://e.com/") if cls == "FetchError" else error_class("x")
    assert exit_code_for(exc, ExitCode.FOUND) == code


def test_third_party_failures_are_mapped_by_name() -> None:
    from ground.errors import ExitCode, exit_code_for

    assert exit_code_for(RedisConnectionError("down")) == ExitCode.UNAVAILABLE
    assert exit_code_for(KeyboardInterrupt()) == ExitCode.INTERRUPTED
    assert exit_code_for(RuntimeError("?"), ExitCode.FOUND) == ExitCode.FOUND  # unknown: the caller's default
