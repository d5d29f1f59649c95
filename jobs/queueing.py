"""Queues, job ids and retry policy: the one place that decides how work is put on RQ.

Settings (names, defaults and help in ground/settings.py): QQSCAN_REDIS_URL (else RQ_REDIS_URL),
QQSCAN_SCAN_QUEUE, QQSCAN_CRAWL_QUEUE, QQSCAN_JOB_TIMEOUT, QQSCAN_RETRY_MAX, QQSCAN_RETRY_INTERVALS,
QQSCAN_RECONCILE_INTERVAL, QQSCAN_RECONCILE_MAX.

Job ids are derived from the URL (`scan-<sha1>`), and jobs are enqueued with RQ's `unique=True`, so a URL
already queued, scheduled for a retry or running is not queued twice when a page is crawled again. A job
that has ended (finished or failed) is replaced, so a later crawl fetches the URL again.

Redis is not the record of what was asked for: enqueue_scans / enqueue_crawls first write each URL to the
store's requested_urls (store.results), and `reconcile` re-queues the ones with no stored result and no live
job. Redis can lose its data (a restart without persistence); the store cannot, so no URL is lost.

Whoever can write to Redis must not be able to run code on the workers (issue #23 item 3). Jobs are JSON
(SERIALIZER: reading a job executes nothing, where RQ's default pickle runs whatever the bytes say), and
GuardedJob, the job class of every queue built here, lets RQ import only the functions on JOB_FUNCTIONS and
the callbacks on JOB_CALLBACKS. Build queues with job_queue() and read jobs with fetch_job(), never with
RQ's defaults.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from redis import Redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry
from rq import Callback, Queue, Retry
from rq.exceptions import DeserializationError, DuplicateJobError, NoSuchJobError, StopRequested
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from ground.errors import QqscanError, ServiceUnavailable
from ground.settings import DEFAULTS, SETTINGS, Settings

if TYPE_CHECKING:
    from store.results import Store

log = logging.getLogger("qqscan.queueing")
T = TypeVar("T")

DEFAULT_REDIS_URL = SETTINGS["QQSCAN_REDIS_URL"].default
# Statuses of a job that will still run (or is running). QUEUED only counts when the id is on its queue:
# a worker that died between popping a job and starting it leaves a QUEUED job on no queue at all.
LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
GIVE_UP_CALLBACK = "jobs.tasks.record_give_up"  # RQ on_failure: stores the last failure of the last attempt
TASKS = {"scan": "jobs.tasks.scan_url", "crawl": "jobs.tasks.crawl_page"}  # request kind -> RQ job path
RECONCILE_TASK = "jobs.tasks.reconcile_requests"

# --- what a job may name ------------------------------------------------------------------------------------

# RQ's JSON serializer for every job's data (function name and arguments), meta and result: a job's
# arguments are URLs and ids, its meta and results plain dicts, so nothing needs pickle.
SERIALIZER = JSONSerializer
# The only functions a worker runs and the only callbacks it calls: what this module enqueues (and
# jobs.cron schedules). RQ imports a job's function and callbacks by these dotted names.
JOB_FUNCTIONS = frozenset({*TASKS.values(), RECONCILE_TASK})
JOB_CALLBACKS = frozenset({GIVE_UP_CALLBACK})


class JobRefused(QqscanError):
    """A job read from Redis that no qqscan code queued: not JSON, or it names a function or callback off
    the allow-list. It is not run; the worker records it as failed and goes on."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id} refused, not run: {reason}")
        self.job_id = job_id
        self.reason = reason


class GuardedJob(Job):
    """RQ's Job, whose function and callbacks are imported only when their names are on the allow-list.

    RQ reads a job's hash lazily and imports what it names on first use: the function when the job runs
    (`func`), the callbacks when it ends or is found abandoned (`*_callback`, also from registry clean-ups
    in any process that counts a registry). Each of those entry points checks `refusal()` first, which reads
    the names only (JSON, so nothing runs) and imports nothing."""

    functions: frozenset[str] = JOB_FUNCTIONS
    callbacks: frozenset[str] = JOB_CALLBACKS
    _unreadable: str | None = None

    def restore(self, raw_data: Any) -> Any:
        # A hand-made hash may hold fields RQ cannot parse (a status or date that is not one); keep what was
        # read so the job can be refused and recorded instead of the error ending the worker's loop.
        try:
            return super().restore(raw_data)
        except NoSuchJobError:
            raise
        except Exception as exc:
            self._unreadable = f"{type(exc).__name__}: {exc}"
            return None

    def refusal(self) -> str | None:
        """Why this job must not run, or None when it is one of ours."""
        if self._unreadable:
            return f"its hash cannot be read ({self._unreadable})"
        try:
            func_name, instance, args, kwargs = self.func_name, self.instance, self.args, self.kwargs
        except DeserializationError:
            return (
                "its data is not JSON (a pickled job: queued by a qqscan from before JSON jobs, which "
                "`qqscan reconcile` queues again, or forged)"
            )
        if not isinstance(func_name, str) or func_name not in self.functions:
            return f"function {func_name!r} is not one of qqscan's job functions"
        if instance is not None or not isinstance(args, list) or not isinstance(kwargs, dict):
            return "its data is not a plain function call (an instance, or arguments of the wrong shape)"
        for kind in ("success", "failure", "stopped"):
            name = getattr(self, f"_{kind}_callback_name")
            if name and name not in self.callbacks:
                return f"{kind} callback {name!r} is not one of qqscan's callbacks"
        if self.webhooks:
            return "it asks for webhooks, which qqscan never sets"
        return None

    def _check(self) -> None:
        reason = self.refusal()
        if reason is not None:
            raise JobRefused(self.id, reason)

    @property
    def func(self) -> Any:
        self._check()
        return super().func

    @property
    def success_callback(self) -> Any:
        self._check()
        return super().success_callback

    @property
    def failure_callback(self) -> Any:
        self._check()
        return super().failure_callback

    @property
    def stopped_callback(self) -> Any:
        self._check()
        return super().stopped_callback


def job_queue(name: str, conn: Redis) -> Queue:
    """The queue `name` as every qqscan process must see it: JSON jobs of the GuardedJob class."""
    return Queue(name, connection=conn, job_class=GuardedJob, serializer=SERIALIZER)


def fetch_job(jid: str, conn: Redis) -> GuardedJob:
    """The job `jid`, read as JSON (NoSuchJobError when Redis has no such job)."""
    return GuardedJob.fetch(jid, connection=conn, serializer=SERIALIZER)


class QueueUnavailable(ServiceUnavailable):
    """Redis cannot be reached; the message names the URL (password hidden) and what to do."""


def redact_redis(url: str) -> str:
    """The URL with any password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    cred, _, host = rest.rpartition("@")
    user = cred.split(":", 1)[0] if ":" in cred else ""
    return f"{scheme}://{user}:***@{host}" if user or ":" in cred else f"{scheme}://***@{host}"


def redis_url(settings: Settings = DEFAULTS) -> str:
    # RQ_REDIS_URL, rq's own variable, stands in for ours when unset: Settings.load reads it.
    return str(settings["QQSCAN_REDIS_URL"] or DEFAULT_REDIS_URL)


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


class _CappedBackoff(ExponentialWithJitterBackoff):
    """redis-py computes base * 2**failures before applying the cap: after ~1000 failed attempts (hours of
    outage at a 10 s cap) that overflows a float and the retry raises. The exponent stops growing at 32."""

    def compute(self, failures: int) -> float:
        return super().compute(min(failures, 32))


class PatientRetry(RedisRetry):
    """redis-py's own Retry, told never to give up (retries=-1) on connection errors and timeouts, with
    exponential backoff capped at `cap` seconds, and saying so in the log. Workers use it so that a Redis
    restart blocks their Redis calls until it is back instead of ending RQ's loop (which quits on a
    ConnectionError raised while it finishes a job). A MULTI/EXEC pipeline is retried whole; one with a
    WATCH raises WatchError, which RQ's callers already retry."""

    def __init__(
        self, cap: float = 10.0, base: float = 0.25, stop_requested: Callable[[], bool] | None = None
    ) -> None:
        super().__init__(_CappedBackoff(base=base, cap=cap), -1)
        # An idle worker told to stop gives up waiting: RQ's stop signal raises StopRequested wherever the
        # main thread is, but one landing inside redis-py's connect() becomes a ConnectionError that
        # would be retried forever (seen in CI: a worker SIGTERMed with Redis gone never exited).
        self.stop_requested = stop_requested

    def __getstate__(self) -> dict[str, Any]:
        # The scheduler process gets this retry pickled with the connection's arguments; the predicate
        # belongs to the worker object in this process and stays here.
        return {**self.__dict__, "stop_requested": None}

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        failures = 0

        def noted(error: Exception, *rest: Any) -> Any:
            nonlocal failures
            failures += 1
            if self.stop_requested is not None and self.stop_requested():
                raise StopRequested() from error
            if failures == 1 or failures % 30 == 0:
                log.warning("Redis unreachable (%s); retrying with backoff (attempt %d)", error, failures)
            return fail(error, *rest)

        result = super().call_with_retry(do, noted, is_retryable, with_failure_count)
        if failures:
            log.warning("Redis reachable again after %d failed attempt(s)", failures)
        return result


def patient(conn: Redis, cap: float = 10.0, stop_requested: Callable[[], bool] | None = None) -> Redis:
    """Make `conn` (and every connection its pool hands out, also to RQ's scheduler process, which
    rebuilds it from the pool's arguments) retry Redis outages forever, or until `stop_requested()`.
    Returns conn."""
    conn.set_retry(PatientRetry(cap=cap, stop_requested=stop_requested))
    return conn


def _default(name: str) -> Any:
    return SETTINGS[name].default


@dataclass(frozen=True)
class Policy:
    """How URL jobs are queued (from_settings); a field left out takes the table's default."""

    scan_queue: str = _default("QQSCAN_SCAN_QUEUE")
    crawl_queue: str = _default("QQSCAN_CRAWL_QUEUE")
    job_timeout: int = _default("QQSCAN_JOB_TIMEOUT")
    retry_max: int = _default("QQSCAN_RETRY_MAX")
    retry_intervals: tuple[int, ...] = _default("QQSCAN_RETRY_INTERVALS")
    reconcile_interval: int = _default("QQSCAN_RECONCILE_INTERVAL")
    reconcile_max: int = _default("QQSCAN_RECONCILE_MAX")

    @classmethod
    def from_settings(cls, settings: Settings = DEFAULTS) -> Policy:
        return cls(
            scan_queue=settings["QQSCAN_SCAN_QUEUE"],
            crawl_queue=settings["QQSCAN_CRAWL_QUEUE"],
            job_timeout=settings["QQSCAN_JOB_TIMEOUT"],
            retry_max=settings["QQSCAN_RETRY_MAX"],
            # An empty list (",") falls back to the default intervals.
            retry_intervals=settings["QQSCAN_RETRY_INTERVALS"] or _default("QQSCAN_RETRY_INTERVALS"),
            reconcile_interval=settings["QQSCAN_RECONCILE_INTERVAL"],
            reconcile_max=settings["QQSCAN_RECONCILE_MAX"],
        )

    def retry(self) -> Retry | None:
        return Retry(max=self.retry_max, interval=list(self.retry_intervals)) if self.retry_max > 0 else None

    @property
    def queues(self) -> list[str]:
        """What a worker listens on, in priority order: crawls are cheap and feed the scans."""
        return [self.crawl_queue, self.scan_queue]


def job_id(kind: str, url: str) -> str:
    return f"{kind}-{hashlib.sha1(url.encode('utf-8')).hexdigest()}"


def will_run(status: str | None, on_queue: Callable[[], bool]) -> bool:
    """The rule for a job with this status: it will still run when started, scheduled, deferred, or queued
    *and* on its queue (`on_queue` is asked only for a queued job). status None: no such job."""
    if status == JobStatus.QUEUED:
        return on_queue()
    return status in LIVE


def is_live(job: Job, queue: Queue) -> bool:
    """The job will still run (will_run), its queue asked about this one id."""
    conn = queue.connection
    return will_run(
        job.get_status(refresh=False),
        lambda: (
            conn.lpos(queue.key, job.id) is not None
            or conn.lpos(queue.intermediate_queue_key, job.id) is not None
        ),
    )


def _enqueue_once(queue: Queue, func: str, jid: str, kwargs: dict, **opts: Any) -> Job | None:
    """Enqueue under id `jid` unless a live job has it; replace an ended (or lost) one. None when skipped."""
    for _ in range(3):
        try:
            return queue.enqueue(
                func,
                kwargs=kwargs,
                job_id=jid,
                unique=True,
                description=f"{func}({kwargs.get('url', '')})",
                **opts,
            )
        except DuplicateJobError:
            try:
                old = fetch_job(jid, queue.connection)
            except NoSuchJobError:
                continue  # it expired between the two calls
            if is_live(old, queue):
                return None
            old.delete()  # ended: a new crawl asks for a fresh fetch of the URL
    return None


def _enqueue_unique(queue: Queue, func: str, jid: str, kwargs: dict, policy: Policy) -> Job | None:
    """A URL's job: the policy's timeout and retries, and the give-up callback for its last failure."""
    return _enqueue_once(
        queue,
        func,
        jid,
        kwargs,
        job_timeout=policy.job_timeout,
        retry=policy.retry(),
        on_failure=Callback(GIVE_UP_CALLBACK),
        meta={"max_attempts": policy.retry_max + 1},  # for the give-up message
    )


def _scan_kwargs(url: str, listing_id: Any, shop_id: Any, page_url: Any, rescan: bool) -> dict[str, Any]:
    kwargs = {"url": url, "listing_id": listing_id, "shop_id": shop_id, "page_url": page_url}
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if rescan:
        kwargs["rescan"] = True
    return kwargs


def crawl_kwargs(url: str, listing_id: Any, shop_id: Any) -> dict[str, Any]:
    """A crawl_page job's kwargs, None values left out (also used by jobs.cron)."""
    kwargs = {"url": url, "listing_id": listing_id, "shop_id": shop_id}
    return {k: v for k, v in kwargs.items() if v is not None}


def _enqueue_each(
    queue: Queue, kind: str, urls: list[str], kwargs_for: Callable[[str], dict[str, Any]], policy: Policy
) -> tuple[int, int]:
    """One `kind` job per URL under its stable id; returns (enqueued, already queued)."""
    done = skipped = 0
    for url in urls:
        if _enqueue_unique(queue, TASKS[kind], job_id(kind, url), kwargs_for(url), policy):
            done += 1
        else:
            skipped += 1
    return done, skipped


def enqueue_scans(
    conn: Redis,
    urls: Iterable[str],
    *,
    listing_id: str | None = None,
    shop_id: str | None = None,
    page_url: str | None = None,
    rescan: bool = False,
    policy: Policy | None = None,
    store: Store,
) -> tuple[int, int]:
    """Record each URL as requested in the store, then queue one `jobs.tasks.scan_url` job per URL.
    Returns (enqueued, already queued). rescan: scan bytes already stored again and replace their result
    (after an allow-list change). store: where the requests are recorded (the results store)."""
    policy = policy or Policy()
    items = list(dict.fromkeys(urls))
    store.record_requests(
        "scan", items, listing_id=listing_id, shop_id=shop_id, page_url=page_url, rescan=rescan
    )
    queue = job_queue(policy.scan_queue, conn)
    return _enqueue_each(
        queue, "scan", items, lambda url: _scan_kwargs(url, listing_id, shop_id, page_url, rescan), policy
    )


def enqueue_crawls(
    conn: Redis,
    urls: Iterable[str],
    *,
    listing_id: str | None = None,
    shop_id: str | None = None,
    policy: Policy | None = None,
    store: Store,
) -> tuple[int, int]:
    """Record each listing page as requested, then queue one `jobs.tasks.crawl_page` job per page.
    Returns (enqueued, already queued)."""
    policy = policy or Policy()
    items = list(dict.fromkeys(urls))
    store.record_requests("crawl", items, listing_id=listing_id, shop_id=shop_id)
    queue = job_queue(policy.crawl_queue, conn)
    return _enqueue_each(queue, "crawl", items, lambda url: crawl_kwargs(url, listing_id, shop_id), policy)


# --- the reconciler -----------------------------------------------------------------------------------------

RECONCILE_JOB_ID = "qqscan-reconcile"
RECONCILE_DUE_KEY = "qqscan:reconcile:due"  # exists while the next run is not yet due (SET NX EX)


def reconcile(conn: Redis, store: Store, policy: Policy | None = None) -> dict[str, int]:
    """Re-queue every request with no stored result and no live job (Redis lost it, a worker died
    between popping and starting it, its last failure could not be stored). A request re-queued
    `policy.reconcile_max` times is stored as a failed source instead, so each one ends with a result.
    Idempotent and safe next to running workers: enqueueing is unique per URL."""
    policy = policy or Policy()
    queues = {
        "scan": job_queue(policy.scan_queue, conn),
        "crawl": job_queue(policy.crawl_queue, conn),
    }
    on_queue: dict[str, set[str]] = {}  # job ids on each queue, read once per run when needed

    def queued_ids(queue: Queue) -> set[str]:
        if queue.name not in on_queue:
            ids = conn.lrange(queue.key, 0, -1) + conn.lrange(queue.intermediate_queue_key, 0, -1)
            on_queue[queue.name] = {i.decode() for i in ids}
        return on_queue[queue.name]

    counts = {"open": 0, "live": 0, "requeued": 0, "failed": 0}
    after = 0
    while page := store.open_requests(after):
        after = page[-1]["id"]
        counts["open"] += len(page)
        jids = [job_id(r["kind"], r["url"]) for r in page]
        with conn.pipeline(transaction=False) as pipe:
            for jid in jids:
                pipe.hget(Job.key_for(jid), "status")
            statuses = [s.decode() if isinstance(s, bytes) else s for s in pipe.execute()]
        candidates = []
        for r, jid, status in zip(page, jids, statuses, strict=True):
            queue = queues[r["kind"]]
            live = will_run(status, lambda jid=jid, queue=queue: jid in queued_ids(queue))
            if live:
                counts["live"] += 1
            else:
                candidates.append((r, jid))
        still = store.still_open([r["id"] for r, _ in candidates])  # some may have finished meanwhile
        requeued = []
        for r, jid in candidates:
            if r["id"] not in still:
                continue
            meta = {"listing_id": r["listing_id"], "shop_id": r["shop_id"]}
            if r["requeues"] >= policy.reconcile_max:
                store.record_source(
                    r["url"],
                    error=f"no result after {r['requeues']} re-queues by the reconciler (see worker logs)",
                    page_url=r["page_url"] if r["kind"] == "scan" else None,
                    **meta,
                )
                counts["failed"] += 1
                continue
            if r["kind"] == "scan":
                kwargs = _scan_kwargs(
                    r["url"], r["listing_id"], r["shop_id"], r["page_url"], bool(r["rescan"])
                )
            else:
                kwargs = crawl_kwargs(r["url"], r["listing_id"], r["shop_id"])
            if _enqueue_unique(queues[r["kind"]], TASKS[r["kind"]], jid, kwargs, policy):
                requeued.append(r["id"])
            else:
                counts["live"] += 1
        store.note_requeued(requeued)
        counts["requeued"] += len(requeued)
    if counts["requeued"] or counts["failed"]:
        log.warning("reconcile: %s", counts)
    return counts


def reconcile_due(conn: Redis, policy: Policy) -> bool:
    """True at most once per reconcile interval across every scheduler on this Redis (a key with a TTL),
    and at once after Redis lost its data (the key went with it)."""
    if policy.reconcile_interval <= 0:  # 0: off (run `qqscan reconcile` from cron instead)
        return False
    return bool(conn.set(RECONCILE_DUE_KEY, 1, nx=True, ex=policy.reconcile_interval))


def enqueue_reconcile(conn: Redis, policy: Policy | None = None) -> Job | None:
    """Queue one reconciler run on the crawl queue (cheap, taken before scans); None if one is pending."""
    policy = policy or Policy()
    queue = job_queue(policy.crawl_queue, conn)
    return _enqueue_once(queue, RECONCILE_TASK, RECONCILE_JOB_ID, {}, job_timeout=policy.job_timeout)
