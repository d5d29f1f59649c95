"""The store as the record of intent, and the reconciler that holds Redis to it: real redis-server (ours,
tests/redis_server.py), real SQLite store; no worker (nothing here runs a job), so these take milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq.job import JobStatus

from jobs.queueing import (
    Policy,
    enqueue_crawls,
    enqueue_reconcile,
    enqueue_scans,
    fetch_job,
    job_id,
    job_queue,
    reconcile,
)
from store.results import Store

pytest_plugins = ("tests.redis_server",)

REPO = Path(__file__).resolve().parent.parent
QQSCAN = str(Path(sys.executable).parent / "qqscan")
URLS = [f"https://img.test/{i}.png" for i in range(3)]


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The store on SQLite and on PostgreSQL (tests/databases.py; skipped with the reason if it is down)."""
    monkeypatch.setenv("QQSCAN_DATABASE_URL", db_url)
    s = Store(db_url)
    yield s
    s.close()
    from store import results as results_module

    cached = results_module._stores.pop(db_url, None)  # `qqscan` subprocesses have their own; this is ours
    if cached is not None:
        cached.close()


def queued(conn: Redis, name: str = "scan") -> list[str]:
    return job_queue(name, conn).get_job_ids()


def test_a_redis_that_lost_everything_loses_no_url(redis_url, store):
    conn = Redis.from_url(redis_url)
    assert enqueue_scans(conn, URLS, shop_id="S1", page_url="https://shop.test/p", store=store) == (3, 0)
    assert store.request("scan", URLS[0])["done_at"] is None
    store.record_source(URLS[0], sha256="a" * 64)  # a worker stored its result

    conn.flushall()  # Redis restarted without persistence: queue, jobs, registries gone
    counts = reconcile(conn, store)
    assert counts == {"open": 2, "live": 0, "requeued": 2, "failed": 0}
    assert sorted(queued(conn)) == sorted(job_id("scan", u) for u in URLS[1:])
    job = fetch_job(job_id("scan", URLS[1]), conn)
    assert job.kwargs == {"url": URLS[1], "shop_id": "S1", "page_url": "https://shop.test/p"}
    assert job.retries_left == Policy().retry_max  # a fresh job: full retries, give-up callback
    assert job.failure_callback is not None

    assert reconcile(conn, store) == {"open": 2, "live": 2, "requeued": 0, "failed": 0}  # queued: left alone
    assert len(queued(conn)) == 2


def test_a_job_popped_by_a_worker_that_died_is_queued_again(redis_url, store):
    """A worker that dies between taking a job off the queue and starting it leaves the job QUEUED on no
    queue: neither enqueue nor the reconciler may take that for 'already queued'."""
    conn = Redis.from_url(redis_url)
    enqueue_scans(conn, URLS[:1], store=store)
    conn.lpop(job_queue("scan", conn).key)  # what BLPOP did for the dead worker
    assert fetch_job(job_id("scan", URLS[0]), conn).get_status() == JobStatus.QUEUED
    assert reconcile(conn, store)["requeued"] == 1
    assert queued(conn) == [job_id("scan", URLS[0])]

    conn.lpop(job_queue("scan", conn).key)
    assert enqueue_scans(conn, URLS[:1], store=store) == (1, 0)  # enqueue sees through it as well
    assert enqueue_scans(conn, URLS[:1], store=store) == (0, 1)  # and a really queued one is skipped


def test_requests_reopen_when_asked_again_and_crawls_count_too(redis_url, store):
    conn = Redis.from_url(redis_url)
    page = "https://shop.test/list?page=1"
    enqueue_crawls(conn, [page], shop_id="S9", store=store)
    store.finish_request("crawl", page)  # the crawl ran and queued its images
    store.record_source(URLS[0], error="HTTP 404")
    enqueue_scans(conn, URLS[:1], store=store)
    assert store.request("scan", URLS[0])["done_at"] is None  # asked again: open again
    conn.flushall()
    assert reconcile(conn, store)["requeued"] == 1
    assert queued(conn, "crawl") == []  # the finished crawl is not run again

    enqueue_crawls(conn, [page], store=store)
    conn.flushall()
    assert reconcile(conn, store)["requeued"] == 2  # the page asked for again, and the image still open
    (crawl,) = [fetch_job(i, conn) for i in queued(conn, "crawl")]
    assert crawl.func_name == "jobs.tasks.crawl_page" and crawl.kwargs == {"url": page, "shop_id": "S9"}


def test_a_request_requeued_too_often_is_stored_as_failed(redis_url, store):
    policy = Policy(reconcile_max=1)  # QQSCAN_RECONCILE_MAX=1
    conn = Redis.from_url(redis_url)
    enqueue_scans(conn, URLS[:1], listing_id="L1", store=store)
    conn.flushall()
    assert reconcile(conn, store, policy)["requeued"] == 1
    conn.flushall()
    assert reconcile(conn, store, policy) == {"open": 1, "live": 0, "requeued": 0, "failed": 1}
    source = store.source(URLS[0])
    assert source["error"].startswith("no result after 1 re-queues") and source["listing_id"] == "L1"
    assert store.request("scan", URLS[0])["done_at"] is not None
    assert reconcile(conn, store)["open"] == 0


def test_the_reconciler_job_is_queued_once_and_the_command_runs_it(redis_url, store):
    conn = Redis.from_url(redis_url)
    assert enqueue_reconcile(conn) is not None
    assert enqueue_reconcile(conn) is None  # one pending run is enough
    assert queued(conn, "crawl") == ["qqscan-reconcile"]

    enqueue_scans(conn, URLS, store=store)
    conn.flushall()
    r = subprocess.run(
        [QQSCAN, "reconcile"], env=dict(os.environ), cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "3 queued again" in r.stdout
    assert len(queued(conn)) == 3


def test_enqueue_with_the_store_down_queues_nothing_and_says_so(redis_url, tmp_path):
    env = dict(os.environ, QQSCAN_DATABASE_URL="postgresql+psycopg://qq:pw@127.0.0.1:1/x?connect_timeout=2")
    r = subprocess.run(
        [QQSCAN, "enqueue", URLS[0]], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 3 and "QQSCAN_DATABASE_URL" in r.stderr and ":pw@" not in r.stderr
    assert queued(Redis.from_url(redis_url)) == []  # nothing on Redis that the store does not know of
