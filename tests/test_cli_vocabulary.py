"""One vocabulary across the CLI: the config file, settings shown in --help, exit codes, the SQLite-folder
check, option names and --since formats."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qqscan.cli import cli
from worker.store import Store, StoreError


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """--config writes the file's values into os.environ (for ocr/ and child processes): undo it after."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None):  # noqa: ANN201
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def test_a_sqlite_url_whose_folder_is_missing_is_an_error_not_a_new_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'qqscan.sqlite3'}"
    with pytest.raises(StoreError, match="no folder .*typo for the SQLite database"):
        Store(url)
    assert not (tmp_path / "typo").exists()
    with Store(f"sqlite:///{tmp_path / 'qqscan.sqlite3'}"):  # an existing folder: a new database, as before
        pass


def test_config_file_is_refused_with_its_problem_named(tmp_path: Path) -> None:
    path = tmp_path / "qqscan.toml"
    path.write_text("QQSCAN_FETCH_RAET = 2\n", "utf-8")
    r = run("--config", str(path), "results")
    assert r.exit_code == 2 and "unknown setting 'QQSCAN_FETCH_RAET'" in r.output
    r = run("results", env={"QQSCAN_CONFIG": str(tmp_path / "missing.toml")})
    assert r.exit_code == 2 and "QQSCAN_CONFIG" in r.output and "missing.toml" in r.output


def test_config_file_values_reach_the_commands_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    path = tmp_path / "qqscan.toml"
    path.write_text(f'QQSCAN_DATABASE_URL = "sqlite:///{tmp_path / "nofolder" / "x.db"}"\n', "utf-8")
    r = run("--config", str(path), "results", env={"QQSCAN_DATABASE_URL": ""})
    assert r.exit_code != 0 and "nofolder" in r.output  # the file's URL was used (and its folder checked)
    good = f"sqlite:///{tmp_path / 'a' / 'x.db'}"
    r = run("--config", str(path), "results", env={"QQSCAN_DATABASE_URL": good})
    assert r.exit_code == 0, r.output  # the environment's URL won
