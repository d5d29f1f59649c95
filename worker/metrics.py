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

Metrics live in prometheus_client's default registry (with its process collector: RSS, CPU, open files);
queue depth is a collector that asks Redis at scrape time, so it is never stale.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ground.errors import UsageError

log = logging.getLogger("qqscan.worker")

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

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from redis.exceptions import RedisError

        from jobs.queueing import job_queue

        depth = GaugeMetricFamily("qqscan_queue_depth", "Jobs waiting on the queue", labels=["queue"])
        jobs = GaugeMetricFamily(
            "qqscan_queue_jobs", "Jobs in the queue's RQ registries", labels=["queue", "registry"]
        )
        up = GaugeMetricFamily("qqscan_redis_up", "1 when Redis answered this scrape")
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


class MetricsPortError(UsageError):
    """The metrics port cannot be bound (in use, not allowed)."""


_served: tuple[int, Any] | None = None


def serve(port: int, host: str, connection: Any, queue_names: list[str]) -> int:
    """Start the /metrics HTTP server on a thread of this process (once); returns the bound port."""
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
    depth = QueueDepth(own, queue_names)
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as exc:
        raise MetricsPortError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc} "
            "(one port per worker: --metrics-port / QQSCAN_METRICS_PORT)"
        ) from exc
    REGISTRY.register(depth)
    bound = int(server.server_address[1])
    _served = (bound, server)
    log.info("qqscan worker: metrics on http://%s:%d/metrics", host, bound)
    return bound
