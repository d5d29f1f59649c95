"""What a worker tells its operator about each job: the outcome (one log line, a burst summary) and the
Prometheus metrics (`qqscan worker --metrics-port PORT`).

A job's outcome is read from what RQ saw: the job's return value (jobs.tasks returns a status dict) or
the exception it raised, and whether RQ will run it again. Outcomes (the `outcome` label):

    flagged   scanned, contacts found            clean     scanned, nothing found
    known     these bytes were scanned before    error     stored as a scan with an error (undecodable)
    failed    stored as the URL's failure, no retry (404, not an image, refused by the SSRF guard)
    retrying  raised; RQ runs it again (timeout, 5xx, 429, a bug)
    gave_up   raised with no retry left: RQ's failed registry, stored by jobs.tasks.record_give_up
    crawled   a listing page's images were queued   done   any other job (the reconciler)
    refused   not run: not JSON, or it names a function or callback qqscan does not queue (forged, or
              pickled by an older qqscan); RQ's failed registry says why

Metrics live in prometheus_client's default registry (with its process collector: RSS, CPU, open files),
without the `*_created` series (a counter's creation time, which read like a count). What another
system knows is asked at scrape time, so it is never stale: queue depth and this worker's busy state
(Redis), the review backlog (the results database). A scrape never fails because one of them is down:
their series are left out and `qqscan_redis_up` / `qqscan_database_up` say 0.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics, start_http_server
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from ground.errors import UsageError
from ground.settings import DEFAULTS, Settings

log = logging.getLogger("qqscan.worker")

disable_created_metrics()  # read at every scrape: no `*_created` series in this process

# One second is typical for OCR on a 2-core box; the buckets reach the job timeout's order of magnitude.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

JOBS = Counter("qqscan_jobs", "Jobs finished by this worker, by outcome", ["outcome"])
FINDINGS = Counter(
    "qqscan_findings", "Findings (live, not allow-listed) in scanned images, by type", ["type"]
)
OCR_SECONDS = Histogram(
    "qqscan_ocr_seconds", "Decode + OCR + detectors per scanned image", buckets=LATENCY_BUCKETS
)
FETCH_SECONDS = Histogram("qqscan_fetch_seconds", "Fetching one image URL", buckets=LATENCY_BUCKETS)
JOB_SECONDS = Histogram(
    "qqscan_job_seconds",
    "Whole job, fetch to stored result, by outcome",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
LAST_JOB = Gauge(
    "qqscan_last_job_timestamp_seconds", "Unix time this worker finished its last job (0: none yet)"
)


@dataclass(frozen=True)
class Outcome:
    label: str  # one of the outcomes above
    detail: str  # the rest of the log line
    types: tuple[str, ...] = ()  # finding types (flagged scans)


def of_return(value: Any) -> Outcome:
    """The outcome of a job that returned normally (RQ: finished)."""
    if not isinstance(value, dict):
        return Outcome("done", "")
    status = value.get("status")
    if "page" in value:  # jobs.tasks.crawl
        if status == "failed":
            return Outcome("failed", f"(page stored as failed, no retry): {value.get('error')}")
        return Outcome(
            "crawled",
            f"{value.get('images', 0)} image(s) found, {value.get('enqueued', 0)} queued, "
            f"{value.get('already_queued', 0)} already queued",
        )
    if status == "failed":
        return Outcome("failed", f"(stored, no retry): {value.get('error')}")
    if status == "known":
        return Outcome("known", "(bytes scanned before; URL recorded)")
    if value.get("error"):
        return Outcome("error", f"(stored as a scan with an error): {value['error']}")
    if value.get("flagged"):
        types = tuple(sorted(value.get("finding_types") or {}))
        return Outcome("flagged", ",".join(types) or "flagged", types)
    if status == "scanned":
        return Outcome("clean", "")
    return Outcome("done", "")


def of_exception(exc: BaseException | None, retries_left: int) -> Outcome:
    """The outcome of a job that raised; `retries_left` as it was before RQ counted this attempt."""
    name = type(exc).__name__ if exc is not None else "error"
    reason = f"{name}: {exc}" if exc is not None and str(exc) else name
    reason = reason.splitlines()[0] if reason else name
    if retries_left > 0:
        return Outcome("retrying", f"(RQ runs it again, {retries_left} retry(ies) left): {reason}")
    return Outcome("gave_up", f"(no retry left: RQ's failed registry, stored as failed): {reason}")


def count(outcome: Outcome, value: Any, seconds: float) -> None:
    """Move the metrics for one finished job."""
    LAST_JOB.set(time.time())
    JOBS.labels(outcome.label).inc()
    JOB_SECONDS.labels(outcome.label).observe(seconds)
    for kind in outcome.types:
        FINDINGS.labels(kind).inc(int(value["finding_types"][kind]))
    timings = value.get("timings") if isinstance(value, dict) else None
    if timings:
        if "fetch_ms" in timings:
            FETCH_SECONDS.observe(timings["fetch_ms"] / 1000)
        if "scan_ms" in timings and timings["scan_ms"] is not None:
            OCR_SECONDS.observe(timings["scan_ms"] / 1000)


class Summary:
    """Jobs by outcome over a worker's life, for the line it logs when it ends."""

    def __init__(self) -> None:
        self.outcomes: Tally[str] = Tally()

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome.label] += 1

    def line(self, seconds: float) -> str:
        total = sum(self.outcomes.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items(), key=lambda kv: -kv[1]))
        rate = f", {total / seconds * 60:.1f} jobs/min" if seconds > 0 and total else ""
        return f"{total} job(s) in {seconds:.1f} s" + (f" ({parts})" if parts else "") + rate


class QueueDepth(Collector):
    """`qqscan_queue_depth{queue}`: jobs waiting on each queue, read from Redis at scrape time (plus the
    started/scheduled/failed registries, which say what the queues alone do not)."""

    def __init__(self, connection: Any, queue_names: list[str]) -> None:
        self.connection = connection
        self.queue_names = queue_names

    @staticmethod
    def describe() -> list[GaugeMetricFamily]:
        """The families, empty: registering needs their names, not a scrape."""
        return [
            GaugeMetricFamily("qqscan_queue_depth", "Jobs waiting on the queue", labels=["queue"]),
            GaugeMetricFamily(
                "qqscan_queue_jobs", "Jobs in the queue's RQ registries", labels=["queue", "registry"]
            ),
            GaugeMetricFamily("qqscan_redis_up", "1 when Redis answered this scrape"),
        ]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from redis.exceptions import RedisError

        from jobs.queueing import job_queue

        depth, jobs, up = self.describe()
        try:
            with self.connection.pipeline(transaction=False) as pipe:
                for name in self.queue_names:
                    q = job_queue(name, self.connection)
                    pipe.llen(q.key)
                    for reg in (q.started_job_registry, q.scheduled_job_registry, q.failed_job_registry):
                        pipe.zcard(reg.key)
                counts = pipe.execute()
        except RedisError as exc:  # a scrape must not hang or fail while Redis restarts
            log.debug("queue depth scrape: Redis unreachable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        for i, name in enumerate(self.queue_names):
            queued, started, scheduled, failed = counts[4 * i : 4 * i + 4]
            depth.add_metric([name], queued)
            for reg, n in (("started", started), ("scheduled", scheduled), ("failed", failed)):
                jobs.add_metric([name, reg], n)
        up.add_metric([], 1)
        yield depth
        yield jobs
        yield up


class WorkerBusy(Collector):
    """`qqscan_worker_busy`: 1 while this process's worker runs a job, from its own registration in Redis
    (the state RQ writes when a job starts and ScanWorker when it ends, which `qqscan status` counts too).
    The registration is the one whose pid and host are this process's, the newest if a dead one of the
    same pid lingers (a restarted container); 0 before the worker has registered."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.pid, self.host = os.getpid(), socket.gethostname()
        self._key: bytes | None = None  # found once, checked at every scrape

    def _fields(self, keys: list[Any]) -> list[list[str | None]]:
        """(pid, hostname, birth, death, state) of each worker key, as text."""
        with self.connection.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, "pid", "hostname", "birth", "death", "state")
            rows = pipe.execute()
        return [[v.decode() if isinstance(v, bytes) else v for v in row] for row in rows]

    def _ours(self, fields: list[str | None]) -> bool:
        pid, host, _birth, death, _state = fields
        return death is None and pid == str(self.pid) and host == self.host

    def state(self) -> str | None:
        """This worker's state in Redis (idle, busy, ...), None when it is not registered."""
        from rq.worker_registration import REDIS_WORKER_KEYS

        if self._key is not None:
            (fields,) = self._fields([self._key])
            if self._ours(fields):
                return fields[4]
        keys = sorted(self.connection.smembers(REDIS_WORKER_KEYS))
        ours = [(f[2] or "", k, f) for k, f in zip(keys, self._fields(keys), strict=True) if self._ours(f)]
        if not ours:
            self._key = None
            return None
        _birth, self._key, fields = max(ours)
        return fields[4]

    @staticmethod
    def describe() -> list[Metric]:
        return [GaugeMetricFamily("qqscan_worker_busy", "1 while this worker runs a job")]

    def collect(self) -> Iterator[Metric]:
        from redis.exceptions import RedisError

        (busy,) = self.describe()
        try:
            state = self.state()
        except RedisError as exc:  # QueueDepth's qqscan_redis_up says 0 for the same scrape
            log.debug("worker state scrape: Redis unreachable: %s", exc)
            return
        busy.add_metric([], 1 if state == "busy" else 0)
        yield busy


class BuildInfo(Collector):
    """`qqscan_build_info{version,engine,rules_version}` = 1. version: the installed package's; engine and
    rules_version as given, else from the settings: QQSCAN_ENGINE, and the version of the rules the
    detector is built from (the shipped vocab.toml with the QQSCAN_RULES override), derived the way the
    detector derives it (detectors.rules.rules_version over load_rules): a few milliseconds, so it is known
    while the engine still loads and no detector is built for it. Kept once read; "unknown" only while a
    value cannot be read (a bad setting or rules file, which also stops the worker's warm-up)."""

    def __init__(
        self, engine: str | None = None, rules_version: str | None = None, settings: Settings = DEFAULTS
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            self.version = version("qqscan")
        except PackageNotFoundError:  # run from a checkout that was never installed
            self.version = "unknown"
        self.engine = engine
        self.rules_version = rules_version
        self.settings = settings

    def _engine(self) -> str:
        if self.engine is None:
            try:
                self.engine = str(self.settings["QQSCAN_ENGINE"])
            except Exception as exc:
                log.debug("build info: engine setting unreadable: %s", exc)
                return "unknown"
        return self.engine

    def _rules_version(self) -> str:
        if self.rules_version is None:
            try:
                from detectors.rules import load_rules, rules_version

                self.rules_version = rules_version(load_rules(self.settings["QQSCAN_RULES"]))
            except Exception as exc:
                log.debug("build info: rules unreadable: %s", exc)
                return "unknown"
        return self.rules_version

    @staticmethod
    def describe() -> list[Metric]:
        return [InfoMetricFamily("qqscan_build", "The qqscan version, OCR engine and detector rules version")]

    def collect(self) -> Iterator[Metric]:
        (info,) = self.describe()
        info.add_metric(
            [], {"version": self.version, "engine": self._engine(), "rules_version": self._rules_version()}
        )
        yield info


# Review backlog age buckets: (label, upper bound in seconds); the last is open-ended.
REVIEW_AGES: tuple[tuple[str, float | None], ...] = (
    ("0-1h", 3600),
    ("1-6h", 6 * 3600),
    ("6-24h", 24 * 3600),
    ("24h+", None),
)


class ReviewBacklog(Collector):
    """`qqscan_review_pending{age}`: images waiting for a moderator (store.review.pending_by_age) by how
    long since the scan that flagged them, and `qqscan_review_pending_oldest_seconds`; read from the
    results database at scrape time. The database is opened at the first scrape (a PostgreSQL URL gets a
    3 s connect timeout unless it sets one) and opened again after a failure; while it fails the two are
    left out and `qqscan_database_up` is 0. Every worker reports the same backlog: take `max`."""

    def __init__(self, url: str | None = None, settings: Settings = DEFAULTS) -> None:
        self.url = url
        self.settings = settings
        self._db: Any = None
        self._lock = threading.Lock()  # concurrent scrapes open one Database

    def _database(self) -> Any:
        from sqlalchemy.engine import make_url

        from store.database import Database, database_url

        with self._lock:
            if self._db is None:
                url = self.url or database_url(self.settings)
                u = make_url(url)
                if u.get_backend_name() == "postgresql" and "connect_timeout" not in u.query:
                    url = u.update_query_dict({"connect_timeout": "3"}).render_as_string(hide_password=False)
                self._db = Database(url)
            return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @staticmethod
    def describe() -> list[Metric]:
        return [
            GaugeMetricFamily(
                "qqscan_review_pending",
                "Images waiting for a moderator, by time since the scan that flagged them",
                labels=["age"],
            ),
            GaugeMetricFamily(
                "qqscan_review_pending_oldest_seconds",
                "How long the longest-waiting image has waited (0: none)",
            ),
            GaugeMetricFamily("qqscan_database_up", "1 when the results database answered this scrape"),
        ]

    def collect(self) -> Iterator[Metric]:
        from store.review import pending_by_age

        pending, longest, up = self.describe()
        try:
            counts, oldest = pending_by_age(
                self._database(), tuple(float(s) for _, s in REVIEW_AGES if s is not None)
            )
        except Exception as exc:  # unreachable, refused, migrating, a schema from a newer qqscan
            log.debug("review backlog scrape: database failed: %s", exc)
            self.close()  # opened again by the next scrape
            up.add_metric([], 0)
            yield up
            return
        for (label, _), n in zip(REVIEW_AGES, counts, strict=True):
            pending.add_metric([label], n)
        longest.add_metric([], oldest)
        up.add_metric([], 1)
        yield pending
        yield longest
        yield up


class MetricsPortError(UsageError):
    """The metrics port cannot be bound (in use, not allowed)."""


_served: tuple[int, Any] | None = None


def serve(
    port: int,
    host: str,
    connection: Any,
    queue_names: list[str],
    *,
    engine: str | None = None,
    rules_version: str | None = None,
    database_url: str | None = None,
    settings: Settings = DEFAULTS,
) -> int:
    """Start the /metrics HTTP server on a thread of this process (once); returns the bound port.
    `engine`, `rules_version`: the build info's labels; `database_url`: where the review backlog is read.
    Each one not given is read from `settings` (the worker's; default the table's defaults) when first
    scraped: QQSCAN_ENGINE, QQSCAN_RULES (BuildInfo), QQSCAN_DATABASE_URL or the default file."""
    global _served
    if _served is not None:
        return _served[0]
    from redis import ConnectionPool, Redis

    # Its own connection with short timeouts and no retries: the worker's retries forever, which would
    # hang a scrape while Redis restarts.
    pool = connection.connection_pool
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if k not in ("retry", "retry_on_error")}
    kwargs.update(socket_connect_timeout=2, socket_timeout=2)
    own = Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))
    collectors = [
        QueueDepth(own, queue_names),
        WorkerBusy(own),
        BuildInfo(engine, rules_version, settings),
        ReviewBacklog(database_url, settings),
    ]
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as exc:
        raise MetricsPortError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc} "
            "(one port per worker: --metrics-port / QQSCAN_METRICS_PORT)"
        ) from exc
    for collector in collectors:
        REGISTRY.register(collector)
    bound = int(server.server_address[1])
    _served = (bound, server)
    log.info("qqscan worker: metrics on http://%s:%d/metrics", host, bound)
    return bound
