"""The batch system end to end, on the real things: a redis-server of our own (tests/redis_server.py), a
loopback HTTP server serving drawn PNGs, the real OCR engine, and the store on SQLite and (when reachable)
PostgreSQL. Workers run as `qqscan worker` subprocesses where process behaviour is the point (signals,
kills, the watchdog, the scheduler), and in-process (sharing the session's engine) where it is not.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont
from redis import Redis
from rq.job import JobStatus
from sqlalchemy import create_engine, text

from jobs.queueing import Policy, fetch_job, job_id, job_queue
from tests.databases import enqueue_scans
from tests.helpers_http import LoopbackServer, Route
from tests.pg import PG_URL, pg_unreachable

# Fixtures: http_server (tests/conftest.py), redis_server / redis_url (tests/redis_server.py).
pytest_plugins = ("tests.redis_server",)


REPO = Path(__file__).resolve().parent.parent
QQSCAN = str(Path(sys.executable).parent / "qqscan")
RQ = str(Path(sys.executable).parent / "rq")
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
QQ = "391287654"


# --- images, databases, environment ----------------------------------------------------------------------


def draw_png(text_: str, shade: int = 255) -> bytes:
    img = Image.new("RGB", (480, 120), (shade, shade, shade))
    ImageDraw.Draw(img).text((20, 35), text_, font=ImageFont.truetype(FONT, 36), fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    if not Path(FONT).exists():
        pytest.skip(f"Noto CJK font missing at {FONT} (./setup.sh installs fonts-noto-cjk)")
    return {
        "qq": draw_png(f"加QQ {QQ}"),
        "clean": draw_png("全新正品 包邮"),
        "qq_grey": draw_png(f"QQ {QQ}", 235),
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty store: a SQLite file, or a fresh schema in PostgreSQL (skipped with the reason if down)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        monkeypatch.setenv("QQSCAN_DATABASE_URL", url)
        yield url
        return
    reason = pg_unreachable()
    if reason:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({reason}); set QQSCAN_TEST_POSTGRES_URL")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    schema = f"qqscan_batch_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("QQSCAN_DATABASE_URL", url)
    try:
        yield url
    finally:
        from store import results as results_module

        store = results_module._stores.pop(url, None)
        if store is not None:
            store.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    monkeypatch.setenv("QQSCAN_DATABASE_URL", url)
    return url


@pytest.fixture
def env(redis_url: str, http_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loopback server is the one host the fetcher may reach; everything else stays guarded.
    Subprocesses take os.environ when they start, so the database fixture's variable reaches them too."""
    monkeypatch.setenv("QQSCAN_ALLOW_HOSTS", http_server.host)
    monkeypatch.delenv("QQSCAN_ALLOW_PRIVATE_NETWORKS", raising=False)
    monkeypatch.setenv("QQSCAN_FETCH_RATE", "0")
    monkeypatch.setenv("QQSCAN_WATCHDOG_GRACE", "1")
    monkeypatch.setenv("QQSCAN_JOB_HEARTBEAT", "1")  # a running job's entry lives 3 s past its last beat
    monkeypatch.setenv("QQSCAN_RECONCILE_INTERVAL", "0")  # no reconciler jobs among the ones counted here
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # subprocess workers import tests.batch_jobs


@pytest.fixture
def restore_signals() -> Iterator[None]:
    """An in-process worker installs RQ's SIGINT/SIGTERM handlers in pytest's process: put them back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def store_for(url: str) -> Any:
    from store.results import get_store

    return get_store(url)


def run_worker_inprocess(redis: str, **work: Any) -> Any:
    from worker.worker import ScanWorker

    w = ScanWorker(Policy().queues, connection=Redis.from_url(redis))
    w.work(burst=True, with_scheduler=True, **work)
    return w


class Worker:
    """`qqscan worker ...` (or another worker `command`) in a subprocess, its log in a file (a full pipe
    would block it)."""

    running: list[Worker] = []  # reaped after each test by `reap_workers`, passed or failed

    def __init__(self, tmp_path: Path, *args: str, command: tuple[str, ...] = (QQSCAN, "worker")) -> None:
        assert "QQSCAN_DATABASE_URL" in os.environ, "never let a test worker write to the default store"
        self.log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            [*command, *args], env=dict(os.environ), cwd=REPO, stdout=self._out, stderr=self._out
        )
        Worker.running.append(self)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"worker did not exit within {timeout} s; log:\n{self.text()[-3000:]}")
        finally:
            self._out.close()

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(autouse=True)
def reap_workers() -> Iterator[None]:
    """A failed test must not leave workers behind: they retry an unreachable Redis forever. SIGKILL (the
    spawned scheduler follows its worker)."""
    yield
    while Worker.running:
        w = Worker.running.pop()
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QQSCAN, *args],
        env=dict(os.environ) if env is None else env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- the whole path ---------------------------------------------------------------------------------------


def test_enqueue_worker_store_results_json(tmp_path, env, http_server, images, db_url, redis_url):
    """enqueue (CLI) -> `qqscan worker --burst` -> store -> `qqscan results --json`, with a 404 and an SSRF
    refusal among the URLs: both stored once as failed sources with their reason, neither retried."""
    http_server.route("/qq.png", body=images["qq"], content_type="image/png")
    http_server.route("/clean.png", body=images["clean"], content_type="image/png")
    http_server.route("/gone.png", status=404, body=b"no such image", content_type="text/plain")
    qq, clean, gone = (http_server.url(p) for p in ("/qq.png", "/clean.png", "/gone.png"))
    ssrf = f"http://127.0.0.1:{http_server.port + 1 if http_server.port < 65535 else 1}/secret.png"

    r = subprocess.run(
        [QQSCAN, "enqueue", "--listing-id", "L1", "--shop-id", "S1", "-"],
        input="\n".join([qq, clean, gone, ssrf, "# a comment", qq]) + "\n",
        env=dict(os.environ), cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "queued 4 image(s)" in r.stdout

    w = Worker(tmp_path, "--burst")
    assert w.wait(120) == 0, w.text()[-3000:]

    out = cli("results", "--json")
    assert out.returncode == 0, out.stderr
    rows = {row["url"]: row for row in map(json.loads, out.stdout.splitlines())}
    assert set(rows) == {qq, clean}
    assert rows[qq]["flagged"] and QQ in [f["value"] for f in rows[qq]["findings"]]
    assert {"source", "sha256", "findings", "ms", "error", "rules_version", "lines"} <= set(rows[qq])
    assert not rows[clean]["flagged"] and rows[clean]["findings"] == []

    text_out = cli("results", "--flagged").stdout
    assert text_out.startswith("FLAGGED") and QQ in text_out and clean not in text_out

    store = store_for(db_url)
    failed_out = cli("results", "--failed").stdout.splitlines()
    assert sorted(failed_out) == sorted(f"FAILED   {u}: {store.source(u)['error']}" for u in (gone, ssrf))
    assert "404" in store.source(gone)["error"] and store.source(gone)["listing_id"] == "L1"
    assert "loopback" in store.source(ssrf)["error"]
    assert store.count("sources") == 4 and store.count("scans") == 2
    assert http_server.hits["/gone.png"] == 1  # a permanent failure is not retried

    conn = Redis.from_url(redis_url)
    assert job_queue("scan", conn).failed_job_registry.count == 0
    results = {u: fetch_job(job_id("scan", u), conn).return_value() for u in (qq, clean, gone, ssrf)}
    assert results[gone]["status"] == results[ssrf]["status"] == "failed"
    assert results[qq]["status"] == results[clean]["status"] == "scanned"
    assert results[qq]["engine_builds"] == results[clean]["engine_builds"] == 1  # one engine per process
    assert results[qq]["pid"] == results[clean]["pid"] == w.proc.pid  # no forked work horse


def test_two_workers_share_the_queue_and_store_each_image_once(
    tmp_path, env, http_server, images, db_url, redis_url
):
    """Scale-out on one box: two `qqscan worker --burst` processes on the same Redis and store, eight URLs
    serving three distinct images, one worker on each engine. Whoever takes which job, the store ends with
    one scan per image."""
    bodies = [images["qq"], images["clean"], images["qq_grey"]]
    urls = []
    for i in range(8):
        http_server.route(f"/m{i}.png", body=bodies[i % 3], content_type="image/png", delay=0.3)
        urls.append(http_server.url(f"/m{i}.png"))
    conn = Redis.from_url(redis_url)
    enqueue_scans(conn, urls)
    workers = [Worker(tmp_path, "--burst", "--engine", name) for name in ("paddle", "onnx")]
    for w in workers:
        assert w.wait(120) == 0, w.text()[-3000:]
    assert "OCR engine paddleocr" in workers[0].text() and "OCR engine rapidocr" in workers[1].text()
    store = store_for(db_url)
    assert store.count("images") == 3 and store.count("scans") == 3 and store.count("sources") == 8
    rets = [fetch_job(job_id("scan", u), conn).return_value() for u in urls]
    assert all(r["status"] in ("scanned", "known") for r in rets)
    assert {r["pid"] for r in rets} <= {w.proc.pid for w in workers}


class _Flaky(dict):
    """Routes for helpers_http's server where one path answers 503 for its first `fails` requests."""

    def __init__(self, base: dict, server: LoopbackServer, path: str, fails: int, ok: Route) -> None:
        super().__init__(base)
        self.server, self.path, self.fails, self.ok = server, path, fails, ok

    def get(self, key: str, default: Any = None) -> Any:
        if key == self.path:  # the server counts the hit before it looks the route up
            if self.server.hits[key] <= self.fails:
                return Route(status=503, body=b"busy", content_type="text/plain")
            return self.ok
        return super().get(key, default)


def test_transient_failures_are_retried_by_rq_on_its_interval_then_succeed(
    tmp_path, env, http_server, images, sqlite_db, redis_url
):
    """503 twice, then the image: RQ's Retry(interval=[1]) with the worker's (spawned) scheduler."""
    ok = Route(body=images["qq"], content_type="image/png")
    http_server.routes = _Flaky(http_server.routes, http_server, "/busy.png", 2, ok)
    url = http_server.url("/busy.png")
    conn = Redis.from_url(redis_url)
    enqueue_scans(conn, [url], policy=Policy(retry_max=3, retry_intervals=(1,)))

    w = Worker(tmp_path, "--max-jobs", "3")  # not burst: the retries arrive later, via the scheduler
    assert w.wait(120) == 0, w.text()[-3000:]
    job = fetch_job(job_id("scan", url), conn)
    assert http_server.hits["/busy.png"] == 3
    assert job.get_status() == JobStatus.FINISHED and job.retries_left == 1
    assert job.return_value()["status"] == "scanned"
    assert store_for(sqlite_db).count("scans") == 1
    # Only RQ's scheduler moves a job from the scheduled registry back to its queue: three attempts with
    # a 1 s interval mean the worker's spawned scheduler process did its work, without a fork.
    assert "os.fork() called after the OCR engine" not in w.text()


def test_a_worker_killed_mid_job_leaves_the_job_to_rq_which_runs_it_again_once(
    tmp_path, env, http_server, images, sqlite_db, redis_url, restore_signals
):
    """SIGKILL while the job waits on the image: the job is abandoned in the started registry. Its entry
    was renewed by the worker's heartbeat (every 1 s here) and expires 3 beats after the last one, long
    before the job's own 60 s timeout; RQ's cleanup in the next worker requeues it (it has retries left)
    and that worker stores exactly one result."""
    http_server.route("/slow.png", body=images["qq"], content_type="image/png", delay=30)
    url = http_server.url("/slow.png")
    conn = Redis.from_url(redis_url)
    enqueue_scans(conn, [url], policy=Policy(job_timeout=60, retry_max=2, retry_intervals=(0,)))

    w = Worker(tmp_path, "--burst")
    wait_for(lambda: http_server.hits["/slow.png"] >= 1, 90, "the worker to start fetching")
    time.sleep(2.5)  # a beat or two renew the entry: it must still expire once they stop
    w.proc.kill()
    assert w.wait(10) == -signal.SIGKILL
    job = fetch_job(job_id("scan", url), conn)
    assert job.get_status() == JobStatus.STARTED  # nobody marked it: it is abandoned, not lost

    http_server.route("/slow.png", body=images["qq"], content_type="image/png")  # the server recovers
    registry = job_queue("scan", conn).started_job_registry
    wait_for(lambda: registry.get_expired_job_ids(), 3 + 5, "the started-registry entry to expire")

    run_worker_inprocess(redis_url)  # its first maintenance pass finds the abandoned job and requeues it
    job = fetch_job(job_id("scan", url), conn)
    assert job.get_status() == JobStatus.FINISHED and job.retries_left == 1
    assert http_server.hits["/slow.png"] == 2
    store = store_for(sqlite_db)
    assert store.count("scans") == 1 and store.count("sources") == 1


def test_the_watchdog_ends_a_job_stuck_where_sigalrm_cannot_reach(tmp_path, env, sqlite_db, redis_url):
    """A job blocks in a sleep with SIGALRM masked (as a native call would ignore it), far past its 2 s
    timeout. RQ's own timeout cannot fire; the watchdog exits the worker at timeout + grace (1 s) with
    its own status, the job never finishes, and RQ's started-registry cleanup then fails it as abandoned
    (no retries were asked for) instead of it being lost or running forever. The stand-in job is not a
    qqscan job: the worker runs under rq's CLI (as `rq worker-pool` would) with a job class whose
    allow-list also names it."""
    conn = Redis.from_url(redis_url)
    marker = tmp_path / "finished"
    job = job_queue("scan", conn).enqueue(
        "tests.batch_jobs.stuck_in_native_code", 120, str(marker), job_timeout=2
    )
    rq_worker = (RQ, "worker", "-w", "worker.worker.ScanWorker", "--job-class", "tests.batch_jobs.StuckJob")
    # rq's CLI passes its own heartbeat interval (30 s): the 1 s the other tests set through QQSCAN_*
    args = ("--burst", "--job-monitoring-interval", "1", "-u", redis_url, "scan")
    w = Worker(tmp_path, *args, command=rq_worker)
    code = w.wait(90)
    from worker.worker import WATCHDOG_EXIT

    assert code == WATCHDOG_EXIT, w.text()[-3000:]
    assert "overran its timeout" in w.text()
    assert not marker.exists()  # killed mid-sleep, not finished late
    assert job.get_status() == JobStatus.STARTED

    registry = job_queue("scan", conn).started_job_registry
    wait_for(lambda: registry.get_expired_job_ids(), 3 + 5, "the started-registry entry to expire")
    registry.cleanup()  # what any worker's maintenance pass runs
    assert job.get_status() == JobStatus.FAILED
    assert job.id in job_queue("scan", conn).failed_job_registry.get_job_ids()


def test_sigterm_lets_the_current_job_finish_then_exits(
    tmp_path, env, http_server, images, sqlite_db, redis_url
):
    http_server.route("/slow.png", body=images["qq"], content_type="image/png", delay=2)
    url = http_server.url("/slow.png")
    conn = Redis.from_url(redis_url)
    enqueue_scans(conn, [url, http_server.url("/next.png")])
    w = Worker(tmp_path)  # not burst: only the signal ends it
    wait_for(lambda: http_server.hits["/slow.png"] >= 1, 90, "the job to start")
    w.proc.send_signal(signal.SIGTERM)
    assert w.wait(60) == 0, w.text()[-3000:]
    assert fetch_job(job_id("scan", url), conn).get_status() == JobStatus.FINISHED
    assert store_for(sqlite_db).count("scans") == 1
    assert job_queue("scan", conn).count == 1  # the next job was left for another worker


def test_a_crawl_job_queues_the_pages_images_and_the_same_worker_scans_them(
    env, http_server, images, sqlite_db, redis_url, restore_signals
):
    from tests.databases import enqueue_crawls

    page = (
        '<html><body><img src="/blank.gif" data-ks-lazyload="/qq.png">'
        '<div style="background-image:url(/clean.png)"></div></body></html>'
    )
    http_server.route("/item/7.html", body=page.encode(), content_type="text/html; charset=utf-8")
    http_server.route("/blank.gif", body=b"GIF89a" + bytes(40), content_type="image/gif")
    http_server.route("/qq.png", body=images["qq"], content_type="image/png")
    http_server.route("/clean.png", body=images["clean"], content_type="image/png")
    conn = Redis.from_url(redis_url)
    assert enqueue_crawls(conn, [http_server.url("/item/7.html")], shop_id="S7") == (1, 0)

    run_worker_inprocess(redis_url)  # crawl queue first, then the scans it queued, in one burst
    store = store_for(sqlite_db)
    qq = store.source(http_server.url("/qq.png"))
    assert qq["shop_id"] == "S7" and qq["page_url"] == http_server.url("/item/7.html")
    rows = {r["url"]: r for r in store.results()}
    assert set(rows) == {http_server.url(p) for p in ("/blank.gif", "/qq.png", "/clean.png")}
    assert rows[http_server.url("/blank.gif")]["error"]  # the 46-byte "GIF" is a scan with a decode error
    flagged = list(store.results(flagged=True))
    assert [r["url"] for r in flagged] == [http_server.url("/qq.png")]


# --- in-process: store semantics, recycling ----------------------------------------------------------------


def test_same_bytes_at_two_urls_make_one_image_two_sources_and_one_ocr(
    env, http_server, images, db_url, redis_url, restore_signals
):
    for p in ("/a.png", "/copy-of-a.png"):
        http_server.route(p, body=images["qq_grey"], content_type="image/png")
    urls = [http_server.url("/a.png"), http_server.url("/copy-of-a.png")]
    conn = Redis.from_url(redis_url)
    enqueue_scans(conn, urls, listing_id="L9")
    run_worker_inprocess(redis_url)

    statuses = [fetch_job(job_id("scan", u), conn).return_value()["status"] for u in urls]
    assert statuses == ["scanned", "known"]  # the second URL was recognised by sha256: no OCR
    store = store_for(db_url)
    assert store.count("images") == 1 and store.count("scans") == 1 and store.count("sources") == 2
    (row,) = store.results()
    assert row["urls"] == urls and QQ in [f["value"] for f in row["findings"]]

    # Running the same job again (a retry, a second crawl) changes nothing.
    from jobs.tasks import scan_url

    assert scan_url(urls[0])["status"] == "known"
    assert store.count("scans") == 1 and store.count("sources") == 2


def test_a_worker_keeps_review_evidence_and_honours_the_allowlist_from_the_next_job(
    env, http_server, images, sqlite_db, redis_url, restore_signals
):
    from store.results import Store
    from store.review import ReviewStore

    http_server.route("/s1/a.png", body=images["qq"], content_type="image/png")
    http_server.route("/s1/b.png", body=images["qq_grey"], content_type="image/png")
    http_server.route("/s2/b.png", body=draw_png(f"QQ: {QQ}", 245), content_type="image/png")
    conn = Redis.from_url(redis_url)
    enqueue_scans(conn, [http_server.url("/s1/a.png")], shop_id="S1")
    run_worker_inprocess(redis_url)
    review = ReviewStore(sqlite_db)
    results = Store(review.db)
    (first,) = review.queue.page().items
    item = review.queue.item(first["sha256"])
    assert [f["frame"] for f in item["frames"]] == [0] and item["findings"][0]["crop"] is not None
    content_type, data = review.queue.blob(item["frames"][0]["blob"])
    assert content_type == "image/jpeg" and data[:3] == b"\xff\xd8\xff"

    # A moderator dismisses the number as shop S1's own: the next S1 image with it is not flagged,
    # another shop's still is.
    review.allowlist.add("value", QQ, created_by="mod", contact_type="qq", shop_id="S1")
    enqueue_scans(conn, [http_server.url("/s1/b.png")], shop_id="S1")
    enqueue_scans(conn, [http_server.url("/s2/b.png")], shop_id="S2")
    run_worker_inprocess(redis_url)
    s1 = results.result(hashlib.sha256(images["qq_grey"]).hexdigest())
    assert not s1["flagged"] and s1["findings"][0]["allowed_by"] >= 1
    flagged = {r["url"] for r in results.results(flagged=True)}
    assert flagged == {http_server.url("/s1/a.png"), http_server.url("/s2/b.png")}
    assert results.count("evidence") == 4  # frame + crop for each flagged image, nothing for the allowed one

    # An entry for S2 reaches its stored result when the URL is queued again with rescan.
    review.allowlist.add("value", QQ, created_by="mod", shop_id="S2")
    enqueue_scans(conn, [http_server.url("/s2/b.png")], shop_id="S2")
    run_worker_inprocess(redis_url)
    assert results.result(hashlib.sha256(draw_png(f"QQ: {QQ}", 245)).hexdigest())["flagged"]  # known: skipped
    assert cli("enqueue", "--rescan", "--shop-id", "S2", http_server.url("/s2/b.png")).returncode == 0
    run_worker_inprocess(redis_url)
    assert {r["url"] for r in results.results(flagged=True)} == {http_server.url("/s1/a.png")}
    assert results.count("scans") == 3 and results.count("evidence") == 2
    review.close()


def test_recycling_after_max_jobs_and_above_the_memory_ceiling(
    env, http_server, images, sqlite_db, redis_url, restore_signals
):
    from worker.worker import ScanWorker

    for i in range(3):
        http_server.route(f"/{i}.png", body=images["clean"], content_type="image/png")
    conn = Redis.from_url(redis_url)
    enqueue_scans(conn, [http_server.url(f"/{i}.png") for i in range(3)])
    q = job_queue("scan", conn)

    w = ScanWorker(["scan"], connection=conn)
    w.work(burst=True, max_jobs=1)  # RQ's own max_jobs
    assert q.count == 2 and w.recycle_reason is None

    w = ScanWorker(["scan"], connection=conn, max_rss_mb=1)  # any real process is above 1 MiB
    w.work(burst=True)
    assert q.count == 1 and "ceiling" in (w.recycle_reason or "")


# --- scheduling ------------------------------------------------------------------------------------------


def test_cron_config_registers_a_crawl_per_target_and_enqueues_due_ones(tmp_path, redis_url, monkeypatch):
    from ground.settings import Settings
    from jobs.cron import CrawlCron, load_targets, register_all

    targets = tmp_path / "crawl.toml"
    targets.write_text(
        '[[target]]\nurl = "https://shop.test/list?page=1"\nshop_id = "S1"\ncron = "0 */6 * * *"\n\n'
        '[[target]]\nurl = "https://shop.test/list?page=2"\ninterval = 600\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("QQSCAN_CRAWL_FILE", str(targets))
    monkeypatch.setenv("QQSCAN_CRAWL_URLS", "https://other.test/a, https://other.test/b")
    conn = Redis.from_url(redis_url)
    sched = CrawlCron(connection=conn)
    register_all(load_targets(Settings.load()), sched)  # what `python -m jobs.cron` does before its loop

    jobs = {j.kwargs["url"]: j for j in sched.get_jobs()}
    assert set(jobs) == {
        "https://shop.test/list?page=1",
        "https://shop.test/list?page=2",
        "https://other.test/a",
        "https://other.test/b",
    }
    assert all(j.func_name == "jobs.tasks.crawl_page" and j.queue_name == "crawl" for j in jobs.values())
    assert jobs["https://shop.test/list?page=1"].cron == "0 */6 * * *"
    assert jobs["https://shop.test/list?page=1"].kwargs["shop_id"] == "S1"
    assert jobs["https://shop.test/list?page=2"].interval == 600
    assert jobs["https://other.test/a"].interval == 3600

    due = sched.enqueue_jobs()  # interval jobs are due at once; the cron one waits for its time
    assert len(due) == 3
    queued = [fetch_job(i, conn) for i in job_queue("crawl", conn).get_job_ids()]
    assert sorted(j.kwargs["url"] for j in queued) == sorted(u for u in jobs if "page=1" not in u)
    assert [j.refusal() for j in queued] == [None] * 3  # JSON jobs a worker runs (rq cron's were pickles)


def test_python_m_jobs_cron_queues_json_crawls_and_rq_cron_says_to_run_it(tmp_path, redis_url, sqlite_db):
    """The command compose and the systemd unit run, for real: an interval target is queued at start. RQ's
    own `rq cron jobs.cron` would queue pickles the workers refuse: it stops with one line instead. So
    does a run with no targets."""
    env = {k: v for k, v in os.environ.items() if k not in ("QQSCAN_CRAWL_FILE", "QQSCAN_CRAWL_URLS")}
    run = {"env": env, "cwd": REPO, "capture_output": True, "text": True, "timeout": 60}
    r = subprocess.run([sys.executable, "-m", "jobs.cron"], **run)
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout, r.stderr
    assert r.stderr.startswith("qqscan cron: no crawl targets: set QQSCAN_CRAWL_URLS"), r.stderr

    r = subprocess.run([RQ, "cron", "-u", redis_url, "jobs.cron"], **run)
    assert r.returncode != 0 and "Traceback" not in r.stderr + r.stdout, r.stderr
    assert "run `python -m jobs.cron` instead" in r.stderr, r.stderr

    log = (tmp_path / "cron.log").open("wb")
    cron = subprocess.Popen(
        [sys.executable, "-m", "jobs.cron", "--url", redis_url],
        env={**env, "QQSCAN_CRAWL_URLS": "https://shop.test/list"}, cwd=REPO, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        crawl = job_queue("crawl", Redis.from_url(redis_url))
        wait_for(lambda: crawl.count == 1 or cron.poll() is not None, 30, "the crawl to be queued")
    finally:
        cron.terminate()
        cron.wait(30)
        log.close()
    (job,) = [fetch_job(i, crawl.connection) for i in crawl.get_job_ids()]
    assert job.func_name == "jobs.tasks.crawl_page" and job.kwargs == {"url": "https://shop.test/list"}
    assert job.refusal() is None, (tmp_path / "cron.log").read_text()


# --- clear errors -----------------------------------------------------------------------------------------


def test_unreachable_redis_is_named_redacted_and_exits_nonzero(sqlite_db):
    env = dict(os.environ, QQSCAN_REDIS_URL="redis://:s3cret@127.0.0.1:1/0")
    for args in (["status"], ["enqueue", "https://x.test/a.png"], ["worker", "--burst"]):
        r = cli(*args, env=env)
        assert r.returncode == 3, (args, r.stderr)
        assert "127.0.0.1:1" in r.stderr and "QQSCAN_REDIS_URL" in r.stderr and "s3cret" not in r.stderr


def test_unreachable_database_is_named_redacted_and_exits_nonzero(redis_url):
    env = dict(
        os.environ, QQSCAN_DATABASE_URL="postgresql+psycopg://qq:pw-s3cret@127.0.0.1:1/x?connect_timeout=2"
    )
    for args in (["results"], ["status"]):
        r = cli(*args, env=env)
        assert r.returncode == 3, (args, r.stderr)
        assert "127.0.0.1:1" in r.stderr and "QQSCAN_DATABASE_URL" in r.stderr and "pw-s3cret" not in r.stderr


def test_since_accepts_ages_and_iso_times():
    from datetime import UTC, datetime

    import click

    from qqscan.options import parse_since

    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_since("1h", now) == datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    assert parse_since("2d", now) == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert parse_since("2026-11-24T08:00", now) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    with pytest.raises(click.BadParameter):
        parse_since("yesterday", now)
