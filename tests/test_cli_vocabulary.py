"""One vocabulary across the CLI: the config file, settings shown in --help, exit codes, the SQLite-folder
check, option names and --since formats."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qqscan.cli import cli
from store.database import StoreError
from store.results import Store

pytest_plugins = ("tests.redis_server",)  # redis_url: a redis-server of the test's own


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


# --- exit codes -------------------------------------------------------------------------------------------


def test_exit_codes_are_the_documented_numbers() -> None:
    from ground.errors import ExitCode

    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 130]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    section = readme.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")]
    assert rows[1:] == [str(int(c)) for c in ExitCode]  # one row each, in order, after the header


def test_review_commands_exit_3_when_the_database_is_unreachable_and_2_on_a_bad_url(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = f"postgresql+psycopg://u:pw@127.0.0.1:{port}/db?connect_timeout=2"
    for args in (["review", "list"], ["users", "list"]):
        r = run(*args, env={"QQSCAN_DATABASE_URL": down})
        assert r.exit_code == 3 and "unavailable" in r.output, (args, r.output)
    r = run("review", "list", env={"QQSCAN_DATABASE_URL": f"sqlite:///{tmp_path / 'typo' / 'x.db'}"})
    assert r.exit_code == 2 and "no folder" in r.output
    r = run("results", env={"QQSCAN_DATABASE_URL": f"sqlite:///{tmp_path / 'typo' / 'x.db'}"})
    assert r.exit_code == 2 and "no folder" in r.output


# --- one option vocabulary --------------------------------------------------------------------------------


def test_shop_and_listing_are_the_names_and_the_old_ones_are_hidden_aliases() -> None:
    for cmd in ("enqueue", "crawl", "scan"):
        out = run(cmd, "--help").output
        assert "--shop " in out and "--listing " in out, cmd
        assert "--shop-id" not in out and "--listing-id" not in out, cmd

    import click

    from qqscan.options import shop_option

    @click.command()
    @shop_option("Shop.", dest="shop_id")
    def probe(shop_id: str | None) -> None:
        click.echo(f"shop={shop_id}")

    runner = CliRunner()
    assert runner.invoke(probe, ["--shop", "S1"]).output == "shop=S1\n"
    assert runner.invoke(probe, ["--shop-id", "S2"]).output == "shop=S2\n"
    assert runner.invoke(probe, []).output == "shop=None\n"
    clash = runner.invoke(probe, ["--shop", "S1", "--shop-id", "S2"])
    assert clash.exit_code == 2 and "say different things" in clash.output


def test_since_takes_ages_and_iso_dates_in_every_command_that_has_it(tmp_path: Path) -> None:
    env = {"QQSCAN_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
    for args in (["results"], ["review", "list"], ["review", "export", "--format", "jsonl"]):
        for since in ("1h", "2d", "2026-11-24", "2026-11-24T08:00+08:00"):
            r = run(*args, "--since", since, env=env)
            assert r.exit_code == 0, (args, since, r.output)
        bad = run(*args, "--since", "yesterday", env=env)
        assert bad.exit_code == 2 and "an age like 1h, 2d" in bad.output, (args, bad.output)


def test_redis_url_comes_from_url_or_rqs_variable_like_rq(tmp_path: Path) -> None:
    env = {"QQSCAN_REDIS_URL": None, "QQSCAN_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the error names the URL that was used
    r = run("status", "--url", dead, env=env)
    assert r.exit_code == 3 and "127.0.0.1:1" in r.output
    r = run("status", env={**env, "RQ_REDIS_URL": dead})
    assert r.exit_code == 3 and "127.0.0.1:1" in r.output
    r = run("status", "-u", "redis://127.0.0.1:2/0", env={**env, "RQ_REDIS_URL": dead})
    assert r.exit_code == 3 and "127.0.0.1:2" in r.output  # the flag wins over the environment


@pytest.mark.parametrize(
    ("args", "variables"),
    [
        ((), ["QQSCAN_CONFIG"]),
        (("scan",), ["QQSCAN_ENGINE", "QQSCAN_ENHANCE"]),
        (("enqueue",), ["QQSCAN_REDIS_URL", "RQ_REDIS_URL"]),
        (
            ("worker",),
            ["QQSCAN_REDIS_URL", "QQSCAN_ENGINE", "QQSCAN_WORKER_MAX_JOBS", "QQSCAN_WORKER_MAX_RSS_MB"]
            + ["QQSCAN_METRICS_PORT", "QQSCAN_METRICS_HOST"],
        ),
        (("status",), ["QQSCAN_REDIS_URL", "QQSCAN_DATABASE_URL"]),
        (("health",), ["QQSCAN_REDIS_URL", "QQSCAN_DATABASE_URL"]),
        (("results",), ["QQSCAN_DATABASE_URL"]),
        (("review",), ["QQSCAN_DATABASE_URL"]),
        (("users",), ["QQSCAN_DATABASE_URL"]),
        (("review", "decide"), ["QQSCAN_REVIEWER"]),
    ],
)
def test_help_shows_the_environment_variable_of_options_that_have_a_setting(
    args: tuple[str, ...], variables: list[str]
) -> None:
    out = " ".join(run(*args, "--help").output.split())  # help text wraps
    for name in variables:
        assert name in out, (args, name)


def test_worker_takes_queue_names_as_arguments_and_q_means_quiet_like_rq(
    redis_url: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    env = dict(os.environ, QQSCAN_DATABASE_URL=f"sqlite:///{tmp_path / 'q.db'}")
    qqscan = str(Path(sys.executable).parent / "qqscan")
    base = [qqscan, "worker", "--burst", "--without-scheduler", "--engine", "onnx"]
    debug = [*base, "-l", "DEBUG", "nightly"]
    loud = subprocess.run(debug, env=env, capture_output=True, text=True, timeout=120)
    assert loud.returncode == 0, loud.stderr
    assert "Listening on nightly" in loud.stderr, loud.stderr  # RQ's line (DEBUG): only the queue named
    quiet = subprocess.run([*base, "-q", "nightly"], env=env, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "nightly" not in quiet.stderr, quiet.stderr  # INFO lines are gone


def test_the_database_url_is_also_a_flag_and_the_flag_wins(tmp_path: Path) -> None:
    typo = f"sqlite:///{tmp_path / 'typo' / 'x.db'}"
    good = f"sqlite:///{tmp_path / 'q.db'}"
    assert run("results", "--db", typo, env={"QQSCAN_DATABASE_URL": good}).exit_code == 2
    assert run("review", "--database-url", typo, "list", env={"QQSCAN_DATABASE_URL": good}).exit_code == 2
    r = run("users", "--db", good, "list", env={"QQSCAN_DATABASE_URL": typo})
    assert r.exit_code == 0, r.output
    assert (tmp_path / "q.db").exists()
