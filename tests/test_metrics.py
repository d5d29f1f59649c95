"""Workers you can watch (issue 12 item 4): one outcome line per job, a burst summary, the crawl's counts,
and the Prometheus endpoint scraped over loopback HTTP while a real `qqscan worker --burst` works through
a queue (real Redis, real OCR engine, loopback image server, SQLite store)."""

# ruff: noqa: F811  (pytest fixtures imported from tests.test_batch are parameters here)
from __future__ import annotations

import re
import socket
import threading
import urllib.request
from typing import Any

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

    wait_for(lambda: http_server.hits["/hold.png"] or w.proc.poll() is not None, 90, "the hold job to start")
    during = scrape(port)
    held.release.set()
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
