"""Fault tests of the batch system on the real things: redis-server processes of the test's own (killed and
restarted, with and without AOF persistence), `qqscan worker` subprocesses with the real OCR engine (at
most two at once), the loopback image server and a SQLite store. Intervals are shortened through the
environment (heartbeat 1 s, maintenance 2 s, reconciler 3 s, retries 1 s apart) so each test takes
seconds where production settings take minutes; docs/batch.md has the production arithmetic.
"""

# ruff: noqa: F811  (pytest fixtures imported from tests.test_batch are parameters here)
from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker as RQWorker
from rq.job import JobStatus

from jobs.queueing import fetch_job, job_id
from tests.helpers_http import LoopbackServer
from tests.test_batch import (  # noqa: F401  (fixtures: images, sqlite_db, reap_workers)
    REPO,
    Worker,
    cli,
    images,
    reap_workers,
    sqlite_db,
    store_for,
    wait_for,
)

pytest_plugins = ("tests.redis_server",)

FAST = {
    "QQSCAN_JOB_HEARTBEAT": "1",  # a running job's started entry lives 3 s past its last renewal
    "QQSCAN_MAINTENANCE_INTERVAL": "2",  # idle workers clean registries (abandoned jobs) every 2 s
    "QQSCAN_RECONCILE_INTERVAL": "3",
    "QQSCAN_REDIS_RETRY_CAP": "1",  # reconnect attempts at most 1 s apart
    "QQSCAN_RETRY_MAX": "4",
    "QQSCAN_RETRY_INTERVALS": "1",
    "QQSCAN_JOB_TIMEOUT": "60",
    "QQSCAN_WATCHDOG_GRACE": "1",
    "QQSCAN_FETCH_RATE": "0",
}


@pytest.fixture
def fault_env(http_server: LoopbackServer, sqlite_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in FAST.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("QQSCAN_ALLOW_HOSTS", http_server.host)
    monkeypatch.delenv("QQSCAN_ALLOW_PRIVATE_NETWORKS", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(REPO))


# --- processes ------------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed child not yet reaped by its parent)."""
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            parents[int(entry)] = int(st[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Tree:
    """Every process ever seen below the workers: none may outlive them (no orphan under PID 1)."""

    def __init__(self, *workers: Worker) -> None:
        self.workers = list(workers)
        self.seen: set[int] = set()

    def look(self) -> None:
        for w in self.workers:
            self.seen |= descendants(w.proc.pid)

    def assert_all_gone(self) -> None:
        wait_for(lambda: not [p for p in self.seen if alive(p)], 15, "every child of the workers to exit")


def wait_or_show(cond: Callable[[], bool], timeout: float, what: str, workers: list[Worker]) -> None:
    """wait_for, failing with the workers' log tails (what a fault test needs to be diagnosed)."""
    try:
        wait_for(cond, timeout, what)
    except pytest.fail.Exception:
        logs = "\n".join(f"--- {w.log.name}\n{w.text()[-4000:]}" for w in workers)
        pytest.fail(f"timed out after {timeout} s waiting for {what}\n{logs}")


def stop(*workers: Worker) -> None:
    for w in workers:
        w.proc.send_signal(signal.SIGTERM)
    for w in workers:
        assert w.wait(60) == 0, w.text()[-3000:]


# --- Redis restarted mid-run ----------------------------------------------------------------------------


@pytest.mark.parametrize("persistent", [True, False], ids=["aof", "no-persistence"])
def test_a_redis_restart_mid_run_loses_no_url_and_the_workers_keep_running(
    persistent, tmp_path, fault_env, http_server, images, sqlite_db, redis_factory, monkeypatch
):
    """Two workers busy on 14 URLs (12 images, a 404, a URL that always answers 503) when Redis is killed
    and restarted: with AOF (up to a second of writes lost) or with no persistence (everything lost).
    Both workers keep running (the busy ones finish their job), and every URL ends with exactly one
    stored result: a scan of its image or a failure (the 503 one after its retries, which need the
    scheduler after the restart). Without persistence the store's requests are what is left: the
    reconciler, queued by the scheduler as soon as its due-key vanished with the data, queues them again."""
    server = redis_factory(persistent=persistent)
    monkeypatch.setenv("QQSCAN_REDIS_URL", server.url)
    bodies = [images["qq"], images["clean"], images["qq_grey"]]
    paths = [f"/p{i}.png" for i in range(12)]
    for i, p in enumerate(paths):
        http_server.route(p, body=bodies[i % 3], content_type="image/png", delay=0.4)
    http_server.route("/down.png", status=503, body=b"busy", content_type="text/plain")
    http_server.route("/gone.png", status=404, body=b"no such image", content_type="text/plain")
    urls = [http_server.url(p) for p in [*paths, "/down.png", "/gone.png"]]

    conn = Redis.from_url(server.url)
    workers = [Worker(tmp_path), Worker(tmp_path)]
    tree = Tree(*workers)
    wait_for(
        lambda: len(RQWorker.all(connection=conn)) == 2, 180, "both workers to build engines and register"
    )
    r = cli("enqueue", *urls)
    assert r.returncode == 0, r.stderr

    store = store_for(sqlite_db)

    def busy() -> bool:
        tree.look()
        return any(http_server.hits[p] > http_server.finished[p] for p in paths)

    wait_or_show(lambda: store.count("sources") >= 2 and busy(), 60, "results and a fetch in flight", workers)
    server.restart(down_for=1.5)  # SIGKILL: no clean shutdown, no last fsync

    def settled() -> bool:
        tree.look()
        rows = [store.source(u) for u in urls]
        return all(row is not None and (row["sha256"] or row["error"]) for row in rows)

    wait_or_show(settled, 120, "every URL to have a stored result", workers)
    wait_or_show(lambda: "gave up" in (store.source(urls[12])["error"] or ""), 60, "the 503 give-up", workers)

    logs = "\n".join(w.text()[-2000:] for w in workers)
    assert all(w.proc.poll() is None for w in workers), logs
    # Registered (again, if Redis forgot them): `qqscan status` and RQ see both workers.
    wait_or_show(lambda: len(RQWorker.all(connection=conn)) == 2, 30, "both workers registered", workers)
    for u in urls[:12]:
        row = store.source(u)
        assert row["sha256"] and row["error"] is None, row
    assert "404" in store.source(urls[13])["error"]
    assert "gave up after 5 attempt(s)" in store.source(urls[12])["error"]
    assert "503" in store.source(urls[12])["error"]
    assert http_server.hits["/down.png"] >= 5
    assert store.count("sources") == 14 and store.count("scans") == 3 and store.count("images") == 3
    assert store.stats()["open_requests"] == 0
    full = "\n".join(w.text() for w in workers)
    assert "quitting" not in full
    assert "Redis reachable again" in full, full[-5000:]  # the restart was ridden out, not slept through

    stop(*workers)
    tree.assert_all_gone()


# --- a worker killed mid-job -----------------------------------------------------------------------------


def test_a_sigkilled_workers_job_runs_again_and_its_name_can_restart_at_once(
    tmp_path, fault_env, http_server, images, sqlite_db, redis_factory, monkeypatch
):
    """SIGKILL a worker (fixed --name) while its job waits on a slow image. Restarted at once under the
    same name, the worker takes the dead registration over instead of refusing to start, and the
    abandoned job runs again: its entry expires 3 beats after the last renewal, the next maintenance
    pass retries it. Meanwhile a URL that answers 503 five times is stored as failed after its last
    retry, with the reason: those retries need a scheduler, and the killed one (SIGKILLed with its worker)
    left its lock behind, which the new worker's scheduler takes over at once instead of waiting 61 s for
    it to expire. The second worker, stopped while Redis is down, still exits."""
    server = redis_factory()
    monkeypatch.setenv("QQSCAN_REDIS_URL", server.url)
    http_server.route("/slow.png", body=images["qq"], content_type="image/png", delay=30)
    http_server.route("/down.png", status=503, body=b"busy", content_type="text/plain")
    slow, down = http_server.url("/slow.png"), http_server.url("/down.png")
    conn = Redis.from_url(server.url)
    assert cli("enqueue", slow).returncode == 0

    first = Worker(tmp_path, "--name", "box1-w1")
    tree = Tree(first)
    wait_for(lambda: http_server.hits["/slow.png"] >= 1, 180, "the worker to start the job")
    wait_for(lambda: any("spawn_main" in cmdline(p) for p in descendants(first.proc.pid)), 30, "scheduler")
    (scheduler,) = [p for p in descendants(first.proc.pid) if "spawn_main" in cmdline(p)]
    wait_for(lambda: conn.get("rq:scheduler-lock:scan") is not None, 30, "the scheduler lock")
    # A renewal has run (it sets the registration's TTL to 61 s): the name is still taken after the kill.
    wait_for(lambda: conn.ttl("rq:worker:box1-w1") > 10, 30, "a job heartbeat")
    tree.look()
    os.kill(scheduler, signal.SIGKILL)  # killed together (OOM killer, a cgroup kill): its lock stays behind
    first.proc.kill()
    assert first.wait(10) == -signal.SIGKILL
    assert conn.get("rq:scheduler-lock:scan") is not None  # stale for up to 61 s unless taken over
    assert fetch_job(job_id("scan", slow), conn).get_status() == JobStatus.STARTED

    http_server.route("/slow.png", body=images["qq"], content_type="image/png")  # the server recovers
    second = Worker(tmp_path, "--name", "box1-w1")
    tree.workers.append(second)
    assert cli("enqueue", down).returncode == 0
    store = store_for(sqlite_db)
    # Within 3 minutes, the done-when of issue 11; with these intervals it takes seconds once the lock is
    # taken over, and over a minute while the stale lock blocks the retries (so the bound is tighter).
    wait_for(lambda: (store.source(slow) or {}).get("sha256") is not None, 45, "the killed job to run again")
    wait_for(lambda: (store.source(down) or {}).get("error") is not None, 40, "the 503 URL's give-up")
    tree.look()

    assert second.proc.poll() is None, second.text()[-3000:]
    assert (
        "registration of dead pid" in second.text() and "scheduler lock for scan taken over" in second.text()
    )
    job = fetch_job(job_id("scan", slow), conn)
    assert job.get_status() == JobStatus.FINISHED and job.retries_left == 3  # the kill cost one retry
    assert http_server.hits["/slow.png"] == 2
    assert store.count("scans") == 1

    assert http_server.hits["/down.png"] == 5  # 1 + 4 retries
    error = store.source(down)["error"]
    assert error.startswith("gave up after 5 attempt(s): ") and "503" in error, error
    failed = cli("results", "--failed").stdout
    assert f"FAILED   {down}: gave up after 5 attempt(s)" in failed

    server.stop(kill=True)  # Redis gone for good: a worker told to stop still exits, scheduler and all
    stop(second)
    tree.assert_all_gone()  # the first worker's scheduler too: it died with its worker


def test_a_worker_killed_while_its_scheduler_starts_leaves_no_process_behind(
    tmp_path, fault_env, sqlite_db, redis_factory, monkeypatch
):
    """The race of issue 11.12: the scheduler is a spawned interpreter that asks the kernel to end it
    when its worker dies; a worker killed before the child got that far left it running under PID 1,
    renewing the scheduler lock. Kill the worker the moment the child exists."""
    server = redis_factory()
    monkeypatch.setenv("QQSCAN_REDIS_URL", server.url)
    w = Worker(tmp_path)
    tree = Tree(w)

    def child_started() -> bool:
        tree.look()
        return any("spawn_main" in cmdline(p) for p in tree.seen)

    wait_for(child_started, 180, "the worker to spawn its scheduler")
    w.proc.kill()
    w.wait(10)
    tree.assert_all_gone()


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("QQSCAN_TEST_PRODUCTION_TIMINGS") != "1",
    reason="about 2.5 minutes; set QQSCAN_TEST_PRODUCTION_TIMINGS=1 to measure the shipped intervals",
)
def test_with_the_shipped_intervals_a_killed_workers_job_runs_again_within_3_minutes(
    tmp_path, http_server, images, sqlite_db, redis_factory, monkeypatch, capsys
):
    """The arithmetic in docs/batch.md, measured: default heartbeat (15 s), maintenance (30 s) and first
    retry interval (30 s). The image drips 64 bytes every 5 s, so the job is busy (not timed out) when
    its worker is killed 20 s in; the worker comes back under the same name at once."""
    import time

    server = redis_factory()
    for k in (
        "QQSCAN_JOB_HEARTBEAT",
        "QQSCAN_MAINTENANCE_INTERVAL",
        "QQSCAN_RETRY_INTERVALS",
        "QQSCAN_RETRY_MAX",
    ):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("QQSCAN_REDIS_URL", server.url)
    monkeypatch.setenv("QQSCAN_ALLOW_HOSTS", http_server.host)
    monkeypatch.setenv("QQSCAN_FETCH_RATE", "0")
    http_server.route("/slow.png", body=images["qq"], content_type="image/png", chunk_size=64, drip=5)
    url = http_server.url("/slow.png")
    assert cli("enqueue", url).returncode == 0
    first = Worker(tmp_path, "--name", "prod-w1")
    wait_for(lambda: http_server.hits["/slow.png"] >= 1, 180, "the job to start")
    time.sleep(20)
    first.proc.kill()
    first.wait(10)
    killed_at = time.monotonic()
    http_server.route("/slow.png", body=images["qq"], content_type="image/png")
    second = Worker(tmp_path, "--name", "prod-w1")
    store = store_for(sqlite_db)
    wait_for(lambda: (store.source(url) or {}).get("sha256") is not None, 180, "the job to run again")
    with capsys.disabled():
        print(f"\nre-run stored {time.monotonic() - killed_at:.1f} s after the SIGKILL (shipped intervals)")
    stop(second)
