"""RQ job functions: what a `qqscan worker` runs. Plain functions of plain arguments, so RQ can name them
by import path ("jobs.tasks.scan_url") and a test can call them directly. Jobs are JSON (arguments,
meta, return values: jobs.queueing.SERIALIZER), and workers run only the names on
jobs.queueing.JOB_FUNCTIONS / JOB_CALLBACKS: a new job function goes on that list.

Failure policy, decided here once:
- transient fetch failures (timeouts, 5xx, 429) are re-raised: RQ's Retry, set at enqueue
  (jobs.queueing.Policy), runs the job again after an interval;
- permanent ones (404, not an image, too large, refused by the SSRF guard) are stored as the URL's error
  and the job returns normally: running it again cannot help;
- anything else (a bug, the database going away) raises, so RQ retries it and finally keeps it in the
  failed registry where `rq info` / `qqscan status` show it;
- the last failed attempt (retries used up, or the worker died running it) is also stored as the URL's
  failure by `record_give_up`, RQ's on_failure callback, so `qqscan results --failed` shows it.

Settings: RQ calls these functions by name with no context of ours, so the worker hands its Scanner (its
settings, engine and detector) to this module once (`use`) before taking jobs. Run by any other worker
(plain `rq worker`), this module is that process's edge and reads the settings itself on first use.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from ground.settings import Settings
from jobs.scanner import Scanner

if TYPE_CHECKING:
    from types import TracebackType

    from redis import Redis
    from rq.job import Job

    from jobs.queueing import Policy


_scanner: Scanner | None = None


def use(scanner: Scanner | None) -> None:
    """The worker's Scanner, for every job this process (and its forked work horses) runs (None: forget
    it; the next job reads the settings)."""
    global _scanner
    _scanner = scanner


def scanner() -> Scanner:
    global _scanner
    if _scanner is None:
        _scanner = Scanner(Settings.load())  # not started by qqscan's worker: this is the edge
    return _scanner


def _policy() -> Policy:
    from jobs.queueing import Policy

    return Policy.from_settings(scanner().settings)


def _connection() -> Redis:
    """The running job's Redis; a call outside a job connects to QQSCAN_REDIS_URL."""
    from rq import get_current_job

    from jobs.queueing import connect, redis_url

    job = get_current_job()
    return job.connection if job else connect(redis_url(scanner().settings))


def _ms(t0: float) -> int:
    return int((time.perf_counter() - t0) * 1000)


def scan_url(
    url: str,
    *,
    listing_id: str | None = None,
    shop_id: str | None = None,
    page_url: str | None = None,
    rescan: bool = False,
) -> dict[str, Any]:
    """Fetch one image URL and scan-and-store its bytes (jobs.scanning: not scanned again when known under
    the current rules). Idempotent: running it twice stores one scan and one source. rescan=True scans
    known bytes again and replaces their result in place (e.g. the allow-list changed)."""
    import ocr.engine
    from fetch.client import PermanentFetchError, fetch_image
    from jobs.scanning import Origin, ScanAndStore, scan_and_store

    t0 = time.perf_counter()
    scan = scanner()
    store = scan.store()
    origin = Origin(url, listing_id=listing_id, shop_id=shop_id, page_url=page_url)
    out: dict[str, Any] = {"url": url, "pid": os.getpid()}
    try:
        fetched = fetch_image(url, settings=scan.fetch)  # TransientFetchError propagates: RQ retries
    except PermanentFetchError as exc:
        ScanAndStore(store, scan).failed(origin, str(exc))
        return {**out, "status": "failed", "error": str(exc), "timings": {"total_ms": _ms(t0)}}
    fetch_ms = _ms(t0)
    # The allow-list is read per job (one small query, only when the bytes need scanning), so a
    # moderator's dismissal counts from the next job.
    done = scan_and_store(store, scan, fetched.data, origin, rescan=rescan)
    result = done.result
    if result is None:
        return {
            **out,
            "status": "known",
            "sha256": done.sha256,
            "timings": {"fetch_ms": fetch_ms, "total_ms": _ms(t0)},
        }
    from jobs.memory import rss_mb

    return {
        **out,
        "rss_mb": round(rss_mb(), 1),  # for the worker benchmark
        "status": done.status,
        "sha256": done.sha256,
        "flagged": result.flagged,
        # live (not allow-listed) findings by type: the worker's outcome line and metrics name them
        "finding_types": dict(Counter(f.type for f in result.live_findings)),
        "error": result.error,
        "engine_builds": ocr.engine.builds,
        "timings": {
            "fetch_ms": fetch_ms,
            "scan_ms": result.ms,  # decode + OCR + detectors, as recorded in the result
            "store_ms": done.store_ms,
            "total_ms": _ms(t0),
        },
    }


def crawl_page(
    url: str,
    *,
    listing_id: str | None = None,
    shop_id: str | None = None,
) -> dict[str, Any]:
    """RQ job: fetch a listing page (HTML or JSON), extract every product image URL and queue one scan per
    URL. A page that cannot be fetched for good is recorded as a failed source; a transient failure raises."""
    return crawl(_connection(), url, listing_id=listing_id, shop_id=shop_id)


def crawl(
    conn: Redis,
    url: str,
    *,
    listing_id: str | None = None,
    shop_id: str | None = None,
    using: Scanner | None = None,
) -> dict[str, Any]:
    """The body of crawl_page with an explicit Redis connection (`qqscan crawl --now` runs it inline with
    its own Scanner, `using`)."""
    from fetch.client import PermanentFetchError
    from fetch.page import fetch_page
    from jobs.crawl import PageError, page_image_urls
    from jobs.queueing import Policy, enqueue_scans

    scan = using or scanner()
    store = scan.store()
    try:
        page = fetch_page(url, settings=scan.fetch)
        cap = scan.settings["QQSCAN_PAGE_MAX_IMAGES"]
        links = page_image_urls(page.text, page.final_url, page.content_type, cap=cap)
    except (PermanentFetchError, PageError) as exc:
        error = f"{exc}: {url}" if isinstance(exc, PageError) else str(exc)
        store.record_source(url, error=error, listing_id=listing_id, shop_id=shop_id)
        return {"page": url, "status": "failed", "error": error}
    policy = Policy.from_settings(scan.settings)
    enqueued, skipped = enqueue_scans(
        conn, links.urls, listing_id=listing_id, shop_id=shop_id, page_url=url, policy=policy, store=store
    )
    store.finish_request("crawl", url)  # its images are requested now; they carry on from here
    # "images" is what the page had: the CLI and the worker's outcome line show it beside what was queued.
    return {
        "page": url,
        "status": "ok",
        "images": links.found,
        "enqueued": enqueued,
        "already_queued": skipped,
        "dropped": links.dropped,
        **({"note": note} if (note := links.note("queued")) else {}),
    }


def record_give_up(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> None:
    """RQ on_failure callback of every URL job (set by jobs.queueing). RQ calls it on each failed attempt,
    and with AbandonedJobError when the worker running the job died; only the last attempt (no retries
    left, so RQ moves the job to its failed registry) is stored: the URL as a failed source with the
    reason, so `qqscan results --failed` lists it and the reconciler sees the request answered."""
    from rq.exceptions import AbandonedJobError

    if job.retries_left or not job.kwargs.get("url"):
        return  # RQ runs it again: not the end
    if exc_type is not None and issubclass(exc_type, AbandonedJobError):
        reason = "the worker running it died (killed, out of memory, or stopped by the watchdog)"
    else:
        name = exc_type.__name__ if exc_type else "error"
        reason = f"{name}: {exc}" if exc is not None and str(exc) else name
    attempts = int((job.meta or {}).get("max_attempts") or 1)
    kwargs = job.kwargs
    scanner().store().record_source(
        kwargs["url"],
        error=f"gave up after {attempts} attempt(s): {reason}",
        listing_id=kwargs.get("listing_id"),
        shop_id=kwargs.get("shop_id"),
        page_url=kwargs.get("page_url"),
    )


def reconcile_requests() -> dict[str, int]:
    """RQ job queued by the scheduler every QQSCAN_RECONCILE_INTERVAL: re-queue requested URLs with no
    result and no live job (jobs.queueing.reconcile)."""
    from jobs.queueing import reconcile

    return reconcile(_connection(), scanner().store(), _policy())
