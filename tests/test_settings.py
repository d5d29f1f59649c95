"""The settings table (ground/settings.py): every `QQSCAN_*` name the code uses is declared there once,
and the typed accessor parses values or names the variable it cannot parse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ground.settings import SETTINGS, SettingError, Settings, setting
from tests.test_layers import python_files

REPO = Path(__file__).resolve().parents[1]
# A name built in an f-string (QQSCAN_ONNX_{kind}_MODEL) is not a name; its expansions are written out in
# the reader's docstring.
NAME = re.compile(r"QQSCAN_[A-Z][A-Z0-9_]*[A-Z0-9](?![A-Z0-9_{])")


def names_in_code(root: Path) -> set[str]:
    """Every QQSCAN_* name written in product code (tests read test-only variables of their own)."""
    found: set[str] = set()
    for path in python_files(root):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("tests/") or rel == "ground/settings.py":  # the table itself proves nothing
            continue
        found |= set(NAME.findall(path.read_text("utf-8")))
    return found


def test_every_name_the_code_uses_is_in_the_table_and_none_is_stale() -> None:
    used = names_in_code(REPO)
    assert len(used) > 40  # not vacuous: the walk reads the readers in ocr/, worker/, jobs/ ...
    assert sorted(used - set(SETTINGS)) == [], "declare these in ground/settings.py"
    assert sorted(set(SETTINGS) - used) == [], "the table lists settings nothing reads"


def test_the_checker_sees_a_new_name(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "x.py").write_text('os.environ.get("QQSCAN_NEW_KNOB")\n', "utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.py").write_text('"QQSCAN_TEST_ONLY"\n', "utf-8")
    assert names_in_code(tmp_path) == {"QQSCAN_NEW_KNOB"}


def test_every_row_is_complete() -> None:
    for s in SETTINGS.values():
        assert s.help and s.component and s.type, s.name
        if s.default is not None and not s.default_text:  # the default docs/settings.md shows is the one used
            assert s.parse(s.shown_default) == s.default, s.name


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("QQSCAN_MAX_BYTES", "1_000", 1000),
        ("QQSCAN_MAX_BYTES", "", 40 * 1024 * 1024),
        ("QQSCAN_FETCH_RATE", "0.5", 0.5),
        ("QQSCAN_ALLOW_PRIVATE_NETWORKS", "yes", True),
        ("QQSCAN_SOLICITATION_FLAGS", "off", False),
        ("QQSCAN_ALLOW_HOSTS", "a.test, 10.0.0.1:80", ("a.test", "10.0.0.1:80")),
        ("QQSCAN_RETRY_INTERVALS", "1,2 ,3", (1, 2, 3)),
        ("QQSCAN_ENGINE", "PADDLE", "paddle"),
        ("QQSCAN_WORKER_MAX_JOBS", "", None),
    ],
)
def test_setting_parses_its_type(name: str, raw: str, value: object) -> None:
    assert setting(name, {name: raw}) == value


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("QQSCAN_MAX_BYTES", "lots", "QQSCAN_MAX_BYTES='lots' is not a whole number"),
        ("QQSCAN_FETCH_DEADLINE", "soon", "QQSCAN_FETCH_DEADLINE='soon' is not a number"),
        ("QQSCAN_ALLOW_PRIVATE_NETWORKS", "maybe", "QQSCAN_ALLOW_PRIVATE_NETWORKS='maybe' must be 1/0"),
        ("QQSCAN_ENGINE", "tesseract", "QQSCAN_ENGINE='tesseract': choose one of onnx, paddle"),
        ("QQSCAN_JOB_HEARTBEAT", "0", "QQSCAN_JOB_HEARTBEAT='0' must be at least 1"),  # would spin
        ("QQSCAN_MAX_FRAMES", "0", "QQSCAN_MAX_FRAMES='0' must be at least 1"),
        ("QQSCAN_REDIS_RETRY_CAP", "-1", "QQSCAN_REDIS_RETRY_CAP='-1' must be at least 0.1"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, raw: str, message: str) -> None:
    with pytest.raises(SettingError, match=re.escape(message)):
        setting(name, {name: raw})


def test_an_unknown_name_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="QQSCAN_NOPE is not in the settings table"):
        setting("QQSCAN_NOPE", {})


def test_config_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "qqscan.toml"
    path.write_text(
        'QQSCAN_FETCH_RATE = 2\nQQSCAN_SCAN_QUEUE = "big"\nQQSCAN_RETRY_INTERVALS = [1, 5]\n'
        'QQSCAN_JOB_TIMEOUT = 60\n',
        "utf-8",
    )
    env = {"QQSCAN_FETCH_RATE": "", "QQSCAN_SCAN_QUEUE": "env", "QQSCAN_JOB_TIMEOUT": "90"}  # "" = unset
    settings = Settings.load(env, config_file=path, flags={"QQSCAN_JOB_TIMEOUT": 120})
    assert settings["QQSCAN_FETCH_RATE"] == 2.0  # the file fills what the environment leaves unset
    assert settings["QQSCAN_RETRY_INTERVALS"] == (1, 5)
    assert settings["QQSCAN_SCAN_QUEUE"] == "env"  # the environment wins over the file
    assert settings["QQSCAN_JOB_TIMEOUT"] == 120  # and a flag over both
    assert settings["QQSCAN_MAX_BYTES"] == 40 * 1024 * 1024 and not settings.is_set("QQSCAN_MAX_BYTES")
    # QQSCAN_CONFIG names the file when no path is given; the file is read once, here
    from_variable = Settings.load({"QQSCAN_CONFIG": str(path)})
    assert from_variable["QQSCAN_SCAN_QUEUE"] == "big"
    assert from_variable.with_flags(QQSCAN_SCAN_QUEUE="x")["QQSCAN_SCAN_QUEUE"] == "x"


def test_settings_are_read_once_and_nothing_writes_the_environment(tmp_path: Path, monkeypatch) -> None:
    import os

    path = tmp_path / "qqscan.toml"
    path.write_text("QQSCAN_FETCH_RATE = 2\n", "utf-8")
    monkeypatch.delenv("QQSCAN_FETCH_RATE", raising=False)
    monkeypatch.setenv("QQSCAN_SCAN_QUEUE", "first")
    settings = Settings.load(config_file=path)
    monkeypatch.setenv("QQSCAN_SCAN_QUEUE", "later")  # a change after the edge read is not seen below it
    assert settings["QQSCAN_SCAN_QUEUE"] == "first"
    assert "QQSCAN_FETCH_RATE" not in os.environ  # the file's values stay in the object


def test_rq_redis_url_stands_in_for_ours_when_unset() -> None:
    assert Settings.load({"RQ_REDIS_URL": "redis://rq:1/0"})["QQSCAN_REDIS_URL"] == "redis://rq:1/0"
    both = {"RQ_REDIS_URL": "redis://rq:1/0", "QQSCAN_REDIS_URL": "redis://ours:2/0"}
    assert Settings.load(both)["QQSCAN_REDIS_URL"] == "redis://ours:2/0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("QQSCAN_FETCH_RAET = 2\n", "unknown setting 'QQSCAN_FETCH_RAET'"),
        ("QQSCAN_MAX_BYTES = 'big'\n", "QQSCAN_MAX_BYTES='big' is not a whole number"),
        ("QQSCAN_MAX_BYTES = \n", "is not valid TOML"),
    ],
)
def test_a_bad_config_file_is_refused_whole(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "qqscan.toml"
    path.write_text("QQSCAN_FETCH_RATE = 2\n" + text, "utf-8")  # a good key first: nothing may apply
    with pytest.raises(SettingError, match=re.escape(message)):
        Settings.load({}, config_file=path)


def documented_settings(text: str) -> list[str]:
    """The names in the first column of the tables of docs/settings.md."""
    names = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 1:
            names += NAME.findall(cells[0])
    return names


def test_the_settings_page_documents_every_setting_once_and_nothing_else() -> None:
    documented = documented_settings((REPO / "docs" / "settings.md").read_text("utf-8"))
    assert len(documented) == len(set(documented)), "a setting has two rows"
    assert sorted(set(SETTINGS) - set(documented)) == [], "add these to the table in docs/settings.md"
    assert sorted(set(documented) - set(SETTINGS)) == [], (
        "docs/settings.md documents settings the table lacks"
    )


def test_the_settings_check_reads_the_first_column_only() -> None:
    text = "# x\n\n| v | d |\n|---|---|\n| `QQSCAN_AA` | see QQSCAN_BB |\n"
    assert documented_settings(text) == ["QQSCAN_AA"]


def test_a_setting_can_come_from_a_file_named_by_its_file_variable(tmp_path: Path) -> None:
    secret = tmp_path / "db_url"
    secret.write_text("postgresql://qqscan:s3cret@db/qqscan\n", "utf-8")  # as a secrets mount holds it
    settings = Settings.load({"QQSCAN_DATABASE_URL_FILE": str(secret)})
    assert settings["QQSCAN_DATABASE_URL"] == "postgresql://qqscan:s3cret@db/qqscan"
    both = {"QQSCAN_DATABASE_URL_FILE": str(secret), "QQSCAN_DATABASE_URL": "sqlite:///x.db"}
    assert Settings.load(both)["QQSCAN_DATABASE_URL"] == "sqlite:///x.db"  # the variable itself wins
    with pytest.raises(SettingError, match="QQSCAN_REDIS_URL_FILE=.*missing"):
        Settings.load({"QQSCAN_REDIS_URL_FILE": str(tmp_path / "missing")})
