"""Queues, job ids and retry policy: the one place that decides how work is put on RQ.

QQSCAN_REDIS_URL          Redis for the queues; default redis://localhost:6379/0
QQSCAN_SCAN_QUEUE         queue for image scans; default "scan"
QQSCAN_CRAWL_QUEUE        queue for listing-page crawls; default "crawl"
QQSCAN_JOB_TIMEOUT        seconds a scan job may run before RQ times it out; default 300
QQSCAN_RETRY_MAX          retries of a transient fetch failure (timeout, 5xx, 429); default 4
QQSCAN_RETRY_INTERVALS    seconds between those retries, comma list; default 30,120,600,1800

Job ids are derived from the URL (`scan-<sha1>`), and jobs are enqueued with RQ's `unique=True`, so a URL
already queued, scheduled for a retry or running is not queued twice when a page is crawled again. A job
that has ended (finished or failed) is replaced, so a later crawl fetches the URL again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class QueueUnavailable(Exception):
    """Redis cannot be reached; the message names the URL (password hidden) and what to do."""


def redact_redis(url: str) -> str:
    """The URL with any password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    cred, _, host = rest.rpartition("@")
    user = cred.split(":", 1)[0] if ":" in cred else ""
    return f"{scheme}://{user}:***@{host}" if user or ":" in cred else f"{scheme}://***@{host}"


def redis_url(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("QQSCAN_REDIS_URL") or DEFAULT_REDIS_URL


def connect(url: str | None = None, *, check: bool = True) -> Redis:
    """A Redis connection for the queues; with `check`, ping it now so a bad URL fails here, clearly."""
    url = url or redis_url()
    try:
        conn = Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
        if check:
            conn.ping()
    except (RedisError, ValueError, OSError) as exc:
        raise QueueUnavailable(
            f"cannot reach Redis at {redact_redis(url)}: {exc}. Start redis-server there or point "
            "QQSCAN_REDIS_URL at a running one (redis://host:6379/0)."
        ) from exc
    return conn


@dataclass(frozen=True)
class Policy:
    scan_queue: str = "scan"
    crawl_queue: str = "crawl"
    job_timeout: int = 300
    retry_max: int = 4
    retry_intervals: tuple[int, ...] = (30, 120, 600, 1800)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Policy:
        env = os.environ if env is None else env
        raw = env.get("QQSCAN_RETRY_INTERVALS", "")
        intervals = tuple(int(x) for x in raw.split(",") if x.strip()) or cls.retry_intervals
        return cls(
            scan_queue=env.get("QQSCAN_SCAN_QUEUE") or cls.scan_queue,
            crawl_queue=env.get("QQSCAN_CRAWL_QUEUE") or cls.crawl_queue,
            job_timeout=int(env.get("QQSCAN_JOB_TIMEOUT") or cls.job_timeout),
            retry_max=int(env.get("QQSCAN_RETRY_MAX") or cls.retry_max),
            retry_intervals=intervals,
        )

    def retry(self) -> Retry | None:
        return Retry(max=self.retry_max, interval=list(self.retry_intervals)) if self.retry_max > 0 else None

    @property
    def queues(self) -> list[str]:
        """What a worker listens on, in priority order: crawls are cheap and feed the scans."""
        return [self.crawl_queue, self.scan_queue]


def job_id(kind: str, url: str) -> str:
    return f"{kind}-{hashlib.sha1(url.encode('utf-8')).hexdigest()}"


def _enqueue_unique(queue: Queue, func: str, jid: str, kwargs: dict, policy: Policy) -> Job | None:
    """Enqueue unless a live job with this id exists; replace an ended one. None when skipped."""
    opts = {"job_id": jid, "job_timeout": policy.job_timeout, "retry": policy.retry(), "unique": True}
    for _ in range(2):
        try:
            return queue.enqueue(func, kwargs=kwargs, description=f"{func}({kwargs.get('url')})", **opts)
        except DuplicateJobError:
            try:
                old = Job.fetch(jid, connection=queue.connection)
            except NoSuchJobError:
                continue  # it expired between the two calls
            if old.get_status() in LIVE:
                return None
            old.delete()  # ended: a new crawl asks for a fresh fetch of the URL
    return None


def enqueue_scans(
    conn: Redis,
    urls: Iterable[str],
    *,
    listing_id: str | None = None,
    shop_id: str | None = None,
    page_url: str | None = None,
    rescan: bool = False,
    policy: Policy | None = None,
) -> tuple[int, int]:
    """Queue one `jobs.tasks.scan_url` job per URL. Returns (enqueued, already queued). rescan: scan bytes
    already stored again and replace their result (after an allow-list change)."""
    policy = policy or Policy.from_env()
    queue = Queue(policy.scan_queue, connection=conn)
    done = skipped = 0
    for url in dict.fromkeys(urls):
        kwargs = {"url": url, "listing_id": listing_id, "shop_id": shop_id, "page_url": page_url}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if rescan:
            kwargs["rescan"] = True
        if _enqueue_unique(queue, "jobs.tasks.scan_url", job_id("scan", url), kwargs, policy):
            done += 1
        else:
            skipped += 1
    return done, skipped


def enqueue_crawls(
    conn: Redis,
    urls: Iterable[str],
    *,
    listing_id: str | None = None,
    shop_id: str | None = None,
    policy: Policy | None = None,
) -> tuple[int, int]:
    """Queue one `jobs.tasks.crawl_page` job per listing page. Returns (enqueued, already queued)."""
    policy = policy or Policy.from_env()
    queue = Queue(policy.crawl_queue, connection=conn)
    done = skipped = 0
    for url in dict.fromkeys(urls):
        kwargs = {"url": url, "listing_id": listing_id, "shop_id": shop_id}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if _enqueue_unique(queue, "jobs.tasks.crawl_page", job_id("crawl", url), kwargs, policy):
            done += 1
        else:
            skipped += 1
    return done, skipped
