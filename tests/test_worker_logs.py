"""A worker's log (issue #21): ISO-8601 time and level on every line, one INFO line per job (RQ's own lines
only at DEBUG), `-q` keeps the outcome lines, `--log-format json` is one object per line. A real worker
process against a real Redis; the jobs are URLs the network guard refuses (no OCR needed to end them)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

pytest_plugins = ("tests.redis_server",)

REPO = Path(__file__).resolve().parents[1]
URLS = ["http://127.0.0.1:1/a.png", "http://127.0.0.1:1/b.png"]  # loopback: refused, stored as failed
ISO_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+ ")


def qqscan(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QQSCAN_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}"}
    cmd = [sys.executable, "-c", "from qqscan.cli import main; main()", *args]
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


def burst(tmp_path: Path, *flags: str) -> list[str]:
    assert qqscan(tmp_path, "enqueue", *URLS).returncode == 0
    r = qqscan(tmp_path, "worker", "--burst", "--without-scheduler", *flags)
    assert r.returncode == 0, r.stderr
    return [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]


def test_every_line_has_a_date_and_a_level_and_each_job_one_line(tmp_path: Path, redis_url: str) -> None:
    lines = burst(tmp_path)
    assert lines and all(ISO_LINE.match(ln) for ln in lines), lines
    for url in URLS:
        assert len([ln for ln in lines if url in ln]) == 1, lines  # the outcome line, nothing of RQ's
    assert any("burst done: 2 job(s)" in ln for ln in lines)
    debug = burst(tmp_path, "-l", "DEBUG")  # RQ's own lines are there at DEBUG
    assert any(" DEBUG rq.worker " in ln for ln in debug)


def test_quiet_keeps_the_outcome_lines_only(tmp_path: Path, redis_url: str) -> None:
    lines = burst(tmp_path, "-q")
    assert sorted(url for ln in lines for url in URLS if url in ln) == URLS
    assert not [ln for ln in lines if "OCR engine" in ln or "burst done" in ln], lines


def test_json_lines_carry_the_job_fields(tmp_path: Path, redis_url: str) -> None:
    docs = [json.loads(ln) for ln in burst(tmp_path, "--log-format", "json")]
    jobs = [d for d in docs if "outcome" in d]
    assert sorted(d["target"] for d in jobs) == URLS
    assert {d["outcome"] for d in jobs} == {"failed"} and all(d["level"] == "WARNING" for d in jobs)
    assert all(re.match(r"\d{4}-\d\d-\d\dT", d["time"]) for d in docs)
