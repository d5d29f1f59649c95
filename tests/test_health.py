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
    names = [(c["name"], c["ok"]) for c in doc["checks"]]
    assert names == [("redis", True), ("workers", True), ("database", True)]  # no job waits: no worker needed
    assert doc["checks"][0]["target"] == redis_url and "worker(s) registered" in doc["checks"][0]["detail"]
    assert doc["checks"][2]["detail"].startswith("schema ")


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


def test_jobs_waiting_without_a_worker_fail_health_and_status_warns(redis_url, tmp_path):
    db = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    env = {"QQSCAN_DATABASE_URL": db}
    queued = subprocess.run(
        [QQSCAN, "enqueue", "https://img.example.com/a.png"], env={**os.environ, **env}, capture_output=True
    )
    assert queued.returncode == 0
    r = health("--no-engine", **env)
    assert r.returncode == 1
    (line,) = [ln for ln in r.stdout.splitlines() if " workers " in ln]
    assert line.startswith("FAIL") and "1 job(s) wait and 0 worker(s) are registered" in line
    assert health("--no-engine", "--workers", "0", **env).returncode == 0  # not asked: not checked
    status = subprocess.run(
        [QQSCAN, "status", "--json"], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0 and "start `qqscan worker`" in status.stderr
    assert json.loads(status.stdout)["warnings"] == [status.stderr.strip().removeprefix("qqscan: warning: ")]


def test_local_worker_liveness_follows_the_worker_process(redis_url, tmp_path):
    """The worker container's healthcheck: ok while this host's worker runs, FAIL once its process is gone
    (its registration is still in Redis: a SIGKILL leaves it behind)."""
    import signal
    import time

    db = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    env = {**os.environ, "QQSCAN_DATABASE_URL": db}
    assert health("--no-engine", "--local-worker", QQSCAN_DATABASE_URL=db).returncode == 1  # none yet
    worker = subprocess.Popen(
        [QQSCAN, "worker", "--without-scheduler", "--engine", "onnx"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while (r := health("--no-engine", "--local-worker", QQSCAN_DATABASE_URL=db)).returncode != 0:
            assert worker.poll() is None and time.monotonic() < deadline, r.stdout
            time.sleep(1)
        assert "alive here: " in r.stdout
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    r = health("--no-engine", "--local-worker", QQSCAN_DATABASE_URL=db)
    assert r.returncode == 1 and "no live worker on this host (stale: " in r.stdout, r.stdout
