"""Workers you can watch (issue 12 item 4): one outcome line per job, a burst summary, the crawl's counts,
and the Prometheus endpoint scraped over loopback HTTP while a real `qqscan worker --burst` works through
a queue (real Redis, real OCR engine, loopback image server, SQLite store)."""

# ruff: noqa: F811  (pytest fixtures imported from tests.test_batch are parameters here)
from __future__ import annotations

import os
import re
import socket
import threading
import time
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq.job import JobStatus

from jobs.queueing import Policy, enqueue_crawls, enqueue_scans, fetch_job, job_id
from tests.helpers_http import Route
from tests.test_batch import Worker, env, images, reap_workers, sqlite_db, store_for, wait_for  # noqa: F401 (fixtures)

pytest_plugins = ("tests.redis_server",)


class _Held(dict):
    """Routes for helpers_http's server where one path answers only once the test releases it (bounded, so
    a failed test cannot wedge the worker): its scan job keeps a burst worker busy, and so alive, while the
    test scrapes the worker's metrics. The server counts the hit before it looks the route up."""

    def __init__(self, base: dict, path: str, route: Route) -> None:
        super().__init__(base)
        self.path, self.route, self.release = path, route, threading.Event()

    def get(self, key: str, default: Any = None) -> Any:
        if key == self.path:
            self.release.wait(90)
            return self.route
        return super().get(key, default)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def jobs(samples: dict, outcome: str) -> float:
    return samples.get(("qqscan_jobs_total", (("outcome", outcome),)), 0.0)


def test_burst_worker_logs_outcomes_and_serves_metrics(
    tmp_path, env, http_server, images, sqlite_db, redis_url
):
    page = b'<html><body><img src="/c1.png"><img data-src="/c2.png"></body></html>'
    http_server.route("/list.html", body=page, content_type="text/html")
    for path, body in (("/qq.png", images["qq"]), ("/clean.png", images["clean"])):
        http_server.route(path, body=body, content_type="image/png")
    for path in ("/c1.png", "/c2.png"):  # the clean picture again: its bytes are known by then
        http_server.route(path, body=images["clean"], content_type="image/png")
    http_server.route("/gone.png", status=404, body=b"no such image", content_type="text/plain")
    http_server.route("/busy.png", status=503, body=b"busy", content_type="text/plain")
    qq, clean, gone, busy, listing = (
        http_server.url(p) for p in ("/qq.png", "/clean.png", "/gone.png", "/busy.png", "/list.html")
    )
    ssrf = f"http://127.0.0.1:{http_server.port + 1 if http_server.port < 65535 else 1}/secret.png"

    # the clean picture once more, answered when the test says so: the worker holds a "known" job meanwhile
    png = Route(body=images["clean"], content_type="image/png")
    held = http_server.routes = _Held(http_server.routes, "/hold.png", png)
    hold = http_server.url("/hold.png")

    conn = Redis.from_url(redis_url)
    store = store_for(sqlite_db)
    enqueue_crawls(conn, [listing], store=store)
    enqueue_scans(conn, [qq, clean, gone, ssrf], store=store)
    # 503 on every attempt, one retry queued at once (interval 0): "retrying", then "gave_up"
    enqueue_scans(conn, [busy], store=store, policy=Policy(retry_max=1, retry_intervals=(0,)))
    enqueue_scans(conn, [hold], store=store)

    port = free_port()
    w = Worker(tmp_path, "--burst", "--metrics-port", str(port))

    def answers() -> bool:
        try:
            scrape(port)
            return True
        except OSError:
            return w.proc.poll() is not None

    wait_for(answers, 60, "the metrics endpoint")
    before = scrape(port)  # served before the engine is built
    assert before[("qqscan_queue_depth", (("queue", "scan"),))] in (6, 7)  # minus the one a worker holds
    assert before[("qqscan_queue_depth", (("queue", "crawl"),))] in (0, 1)
    assert before[("qqscan_redis_up", ())] == 1
    assert jobs(before, "flagged") == 0
    # issue 21: the build, this worker's state, its last job and the review backlog; no _created series
    (build,) = [dict(k[1]) for k in before if k[0] == "qqscan_build_info"]
    assert build["engine"] == "onnx" and build["version"] and "+" in build["rules_version"], build
    assert before[("qqscan_last_job_timestamp_seconds", ())] == 0
    assert before[("qqscan_review_pending", (("age", "0-1h"),))] == 0
    assert before[("qqscan_database_up", ())] == 1
    assert not [k for k in before if k[0].endswith("_created")]

    wait_for(lambda: http_server.hits["/hold.png"] or w.proc.poll() is not None, 90, "the hold job to start")
    during = scrape(port)
    held.release.set()
    assert during[("qqscan_worker_busy", ())] == 1  # the hold job runs
    assert time.time() - 120 < during[("qqscan_last_job_timestamp_seconds", ())] <= time.time()
    assert during[("qqscan_review_pending", (("age", "0-1h"),))] == 1  # qq.png waits for a moderator
    assert during[("qqscan_review_pending", (("age", "24h+"),))] == 0
    assert [dict(k[1]) for k in during if k[0] == "qqscan_build_info"] == [build]
    outcomes = {o: jobs(during, o) for o in ("crawled", "flagged", "clean", "failed", "retrying")}
    assert outcomes == {"crawled": 1, "flagged": 1, "clean": 1, "failed": 2, "retrying": 1}, outcomes
    assert during[("qqscan_findings_total", (("type", "qq"),))] >= 1
    assert during[("qqscan_ocr_seconds_count", ())] == 2  # two pictures OCR'd
    assert during[("qqscan_fetch_seconds_count", ())] == 2
    assert during[("qqscan_ocr_seconds_sum", ())] > 0
    # what is left: the retry of busy.png and the crawl's two images, queued behind the hold job
    assert during[("qqscan_queue_depth", (("queue", "scan"),))] == 3
    assert during[("qqscan_queue_depth", (("queue", "crawl"),))] == 0

    assert w.wait(120) == 0, w.text()[-3000:]
    log = w.text()
    lines = [ln for ln in log.splitlines() if re.search(r" job \S+ \w+ .*\(\d+ ms\)$", ln)]
    assert len(lines) == 10, "\n".join(lines)

    def line(url: str, outcome: str) -> str:
        found = [ln for ln in lines if f" {url}: {outcome}" in ln]
        assert found, f"no '{outcome}' line for {url}:\n" + "\n".join(lines)
        return found[0]

    assert "qq" in line(qq, "flagged").split(": flagged", 1)[1]
    line(clean, "clean")
    assert line(gone, "failed (stored, no retry): HTTP 404")
    assert "loopback" in line(ssrf, "failed (stored, no retry): refused")
    assert "503" in line(busy, "retrying (RQ runs it again, 1 retry(ies) left): TransientFetchError")
    assert "503" in line(busy, "gave_up (no retry left")
    assert "Traceback" not in log  # the image host's 503 is an outcome, not a bug
    assert "2 image(s) found, 2 queued" in line(listing, "crawled")
    line(http_server.url("/c1.png"), "known")
    summary = [ln for ln in log.splitlines() if "burst done: 10 job(s) in" in ln]
    assert summary, log[-3000:]
    line(hold, "known")
    for part in ("known 3", "failed 2", "flagged 1", "clean 1", "crawled 1", "retrying 1", "gave_up 1"):
        assert part in summary[0], summary[0]

    # In RQ's terms: a permanent failure finished (stored, not retried), the transient one failed.
    assert fetch_job(job_id("scan", gone), conn).get_status() == JobStatus.FINISHED
    assert fetch_job(job_id("scan", busy), conn).get_status() == JobStatus.FAILED
    assert "404" in store.source(gone)["error"]
    assert store.source(busy)["error"].startswith("gave up after 2 attempt(s): ")
    assert http_server.hits["/gone.png"] == 1 and http_server.hits["/busy.png"] == 2


def test_metrics_port_in_use_is_one_line(tmp_path, env, sqlite_db, redis_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        w = Worker(tmp_path, "--burst", "--metrics-port", str(taken.getsockname()[1]))
        assert w.wait(60) == 2
    out = w.text()
    assert "qqscan worker: cannot serve metrics on 127.0.0.1:" in out and "Traceback" not in out, out


# --- the series asked at scrape time, each on a registry of its own (issue 21 item 2) -------------------


def scrape_registry(*collectors: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A fresh registry with `collectors`, scraped in the exposition format, as `scrape` returns it."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=True)
    for c in collectors:
        registry.register(c)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }


FLAGGED = {
    "rules_version": "2026.11.1",
    "findings": [
        {"type": "qq", "value": "391287654", "text": "QQ 391287654", "rule": "qq.keyword", "confidence": 0.95}
    ],
    "lines": [],
    "width": 750,
    "height": 1200,
    "format": "JPEG",
    "frames": 1,
    "bytes": 1000,
    "ms": 400,
}


def seed_backlog(url: str, ages: dict[str, float | None]) -> None:
    """One image per entry, scanned `age` hours ago: flagged and pending; None = flagged and decided;
    the key "clean..." = a clean scan. Scan times are set in the database afterwards."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from store.models import Scan
    from store.results import Store
    from store.review import ReviewStore

    now = datetime.now(UTC)
    with Store(url) as store:
        review = ReviewStore(store.db)
        for i, (name, hours) in enumerate(ages.items()):
            sha = f"{i:x}" * 64
            doc = {**FLAGGED, "sha256": sha, "source": f"https://img.example.com/{name}.jpg"}
            if name.startswith("clean"):
                doc["findings"] = []
            assert store.save_scan(doc)
            when = now - timedelta(hours=hours if hours is not None else 50)
            with store.db.write() as conn:
                conn.execute(update(Scan).where(Scan.image_sha256 == sha).values(created_at=when))
            if hours is None:
                review.decisions.record(sha, "violation", reviewer="alice")


def test_review_backlog_by_age_on_both_databases(db_url):
    from worker.metrics import ReviewBacklog

    ages = {"a": 0.1, "b": 0.5, "c": 2.0, "d": 7.0, "e": 30.0, "f": 49.0, "decided": None, "clean": 70.0}
    seed_backlog(db_url, ages)
    backlog = ReviewBacklog(db_url)
    try:
        samples = scrape_registry(backlog)
    finally:
        backlog.close()
    pending = {labels[0][1]: v for (name, labels), v in samples.items() if name == "qqscan_review_pending"}
    assert pending == {"0-1h": 2, "1-6h": 1, "6-24h": 1, "24h+": 2}, pending
    oldest = samples[("qqscan_review_pending_oldest_seconds", ())]
    assert 49 * 3600 - 60 < oldest < 49 * 3600 + 60  # the decided (50 h) and the clean (70 h) do not wait
    assert samples[("qqscan_database_up", ())] == 1


def test_review_backlog_of_an_empty_store_is_zeros(db_url):
    from worker.metrics import ReviewBacklog

    backlog = ReviewBacklog(db_url)
    try:
        samples = scrape_registry(backlog)
    finally:
        backlog.close()
    assert {k: v for k, v in samples.items() if k[0].startswith("qqscan_review")} == {
        ("qqscan_review_pending", (("age", a),)): 0 for a in ("0-1h", "1-6h", "6-24h", "24h+")
    } | {("qqscan_review_pending_oldest_seconds", ()): 0}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://qqscan:secret@127.0.0.1:1/qqscan",  # nothing listens on port 1
        "sqlite:////nonexistent-folder/qqscan.sqlite3",
    ],
)
def test_a_failing_database_leaves_the_backlog_out_and_the_scrape_whole(url, redis_url):
    """The rest of the scrape still comes, database_up says 0; the next scrape tries again."""
    from worker.metrics import QueueDepth, ReviewBacklog

    backlog = ReviewBacklog(url)
    t0 = time.monotonic()
    samples = scrape_registry(QueueDepth(Redis.from_url(redis_url), ["scan"]), backlog)
    assert time.monotonic() - t0 < 10
    assert samples[("qqscan_database_up", ())] == 0
    assert not [k for k in samples if k[0].startswith("qqscan_review")]
    assert samples[("qqscan_queue_depth", (("queue", "scan"),))] == 0
    assert samples[("qqscan_redis_up", ())] == 1
    assert backlog._db is None  # opened again at the next scrape


def test_build_info_reads_the_package_version_and_the_rules_version(tmp_path):
    """Read from the worker's settings when not given: the rules version is the one the worker's detector
    carries (the shipped rules with the QQSCAN_RULES override), known without building a detector."""
    from importlib.metadata import version

    from detectors.engine import TextDetector
    from detectors.rules import load_rules, rules_version
    from ground.settings import Settings
    from worker.metrics import BuildInfo

    override = tmp_path / "rules.toml"
    override.write_text('[keywords]\nwechat = ["绿信"]\n', "utf-8")
    settings = Settings.load({"QQSCAN_RULES": str(override), "QQSCAN_ENGINE": "paddle"})
    samples = scrape_registry(BuildInfo(settings=settings))
    (key,) = [k for k in samples if k[0] == "qqscan_build_info"]
    assert samples[key] == 1
    labels = dict(key[1])
    assert set(labels) == {"version", "engine", "rules_version"}
    assert (labels["version"], labels["engine"]) == (version("qqscan"), "paddle")
    assert labels["rules_version"] == TextDetector(load_rules(str(override))).version  # the detector's
    assert labels["rules_version"] != rules_version(load_rules(None))  # not the shipped rules alone
    given = scrape_registry(BuildInfo(engine="onnx", rules_version="9+abc"))
    assert [dict(k[1]) for k in given if k[0] == "qqscan_build_info"] == [
        {"version": version("qqscan"), "engine": "onnx", "rules_version": "9+abc"}
    ]


def test_worker_busy_follows_this_process_registration(redis_url):
    """Busy from this process's own worker registration (pid and host), not another worker's."""
    from rq.worker import WorkerStatus

    from worker.metrics import WorkerBusy
    from worker.worker import ScanWorker

    conn = Redis.from_url(redis_url)
    busy = WorkerBusy(Redis.from_url(redis_url))
    assert scrape_registry(busy)[("qqscan_worker_busy", ())] == 0  # not registered yet
    others = {  # busy, but another box's worker, and a dead registration of this very pid
        "rq:worker:elsewhere": {"pid": os.getpid(), "hostname": "another-box", "state": "busy"},
        "rq:worker:dead": {"pid": os.getpid(), "hostname": socket.gethostname(), "state": "busy",
                           "death": "2026-01-01T00:00:00.000000Z"},
    }  # fmt: skip
    for key, fields in others.items():
        conn.hset(key, mapping=fields)
        conn.sadd("rq:workers", key)
    w = ScanWorker(["scan"], connection=conn, name="metrics-test")
    w.register_birth()
    try:
        w.set_state(WorkerStatus.IDLE)
        assert scrape_registry(busy)[("qqscan_worker_busy", ())] == 0
        w.set_state(WorkerStatus.BUSY)
        assert scrape_registry(busy)[("qqscan_worker_busy", ())] == 1
        w.set_state(WorkerStatus.IDLE)
        assert scrape_registry(busy)[("qqscan_worker_busy", ())] == 0
    finally:
        w.register_death()
    assert scrape_registry(busy)[("qqscan_worker_busy", ())] == 0


def test_last_job_time_moves_with_each_counted_job_and_no_created_series():
    from prometheus_client import REGISTRY, generate_latest

    from worker import metrics

    t0 = time.time()
    metrics.count(metrics.Outcome("clean", ""), {"status": "scanned"}, 0.1)
    text = generate_latest(REGISTRY).decode()
    stamp = [s.value for f in text_string_to_metric_families(text) for s in f.samples
             if s.name == "qqscan_last_job_timestamp_seconds"]  # fmt: skip
    assert stamp and t0 <= stamp[0] <= time.time()
    assert "_created" not in text
