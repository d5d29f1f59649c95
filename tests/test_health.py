"""`qqscan health` against a real Redis and SQLite store, with Redis down and PostgreSQL unreachable (closed
loopback ports), and the review server's /healthz through Flask's test client (issue 12 item 4)."""

# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from review.app import create_app
from tests.test_review_app import store, template_db  # noqa: F401 (fixtures)

pytest_plugins = ("tests.redis_server",)

REPO = Path(__file__).resolve().parent.parent
QQSCAN = str(Path(sys.executable).parent / "qqscan")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QQSCAN, "health", *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_all_answer_exit_0_and_json(redis_url, tmp_path):
    db = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    from store.results import Store

    Store(db).close()  # a worker made it
    r = health("--json", "--no-engine", QQSCAN_DATABASE_URL=db)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is True
    assert [(c["name"], c["ok"]) for c in doc["checks"]] == [("redis", True), ("database", True)]
    assert doc["checks"][0]["target"] == redis_url and "worker(s) registered" in doc["checks"][0]["detail"]
    assert doc["checks"][1]["detail"].startswith("schema ")


def test_redis_down_and_database_unreachable_are_one_line_each_exit_1(tmp_path):
    redis = f"redis://127.0.0.1:{closed_port()}/0"
    pg = f"postgresql+psycopg://qqscan:s3cret-pw@127.0.0.1:{closed_port()}/qqscan"
    r = health(QQSCAN_REDIS_URL=redis, QQSCAN_DATABASE_URL=pg)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3, r.stdout
    assert lines[0].startswith(f"FAIL  redis     {redis}: ") and "refused" in lines[0]
    assert lines[1].startswith("FAIL  database  postgresql+psycopg://qqscan:***@127.0.0.1:")
    assert "refused" in lines[1]
    assert lines[2].startswith("ok    engine ") and "built and ran" in lines[2]
    assert "s3cret-pw" not in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_a_sqlite_file_that_does_not_exist_is_not_created(redis_url, tmp_path):
    missing = tmp_path / "typo" / "store.sqlite3"
    r = health("--no-engine", QQSCAN_DATABASE_URL=f"sqlite:///{missing}")
    assert r.returncode == 1
    assert f"FAIL  database  sqlite:///{missing}: no database file at {missing}" in r.stdout
    assert r.stdout.splitlines()[0].startswith("ok    redis")
    assert not missing.parent.exists()


def test_healthz_needs_no_login_and_says_only_ok_or_unavailable(store, tmp_path):
    client = create_app(store).test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}
    assert resp.headers["Cache-Control"] == "no-store"
    assert client.get("/").status_code == 302  # everything else still wants a login
    assert client.post("/healthz").status_code in (400, 404, 405)  # GET/HEAD only, nothing to post to

    store.db.engine.dispose()  # the database goes away (a path that cannot be opened)
    store.db.engine = create_engine(f"sqlite:///{tmp_path / 'gone' / 'x.sqlite3'}")
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.get_json() == {"status": "unavailable"}
    assert str(tmp_path) not in resp.get_data(as_text=True)
