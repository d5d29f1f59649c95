"""Batch commands over Redis (RQ) and the results store: enqueue, crawl, worker, results, status.

QQSCAN_REDIS_URL (default redis://localhost:6379/0) names the queues, QQSCAN_DATABASE_URL the store.
Heavy imports (RQ, SQLAlchemy, Paddle) happen inside the commands so `qqscan --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

import click

from ground.errors import ExitCode, exit_code_for
from qqscan.engine_option import engine_option
from qqscan.options import (
    cli_settings,
    database_url_option,
    listing_option,
    redis_url_option,
    setting_option,
    shop_option,
    since_option,
)
from qqscan.sources import is_url, listed

if TYPE_CHECKING:
    from redis import Redis

    from store.results import Store


def _redis() -> Redis:
    from jobs.queueing import QueueUnavailable, connect, redis_url

    try:
        return connect(redis_url(cli_settings()))
    except QueueUnavailable as exc:
        click.echo(f"qqscan: {exc}", err=True)
        sys.exit(exc.exit_code)


def _store() -> Store:
    from store.database import StoreError, database_url

    try:
        from store.results import get_store

        return get_store(database_url(cli_settings()))
    except StoreError as exc:  # its message names the database (password hidden)
        click.echo(f"qqscan: {exc}. Check QQSCAN_DATABASE_URL.", err=True)
        sys.exit(exc.exit_code)  # 3 unreachable; 2 a URL that can never work


def _unavailable_exits(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs); the store or Redis going away on the way is a clear message and status 3."""
    from redis.exceptions import RedisError

    from store.database import StoreError

    try:
        return fn(*args, **kwargs)
    except StoreError as exc:
        click.echo(f"qqscan: {exc}", err=True)
        sys.exit(exc.exit_code)
    except RedisError as exc:
        click.echo(
            f"qqscan: Redis failed: {exc}. Nothing was lost: `qqscan reconcile` queues it again.", err=True
        )
        sys.exit(exit_code_for(exc))


def _lines(args: Iterable[str], file: TextIO | None, stdin: TextIO) -> Iterator[str]:
    """URLs from arguments, a file and/or stdin ('-'); blank lines and # comments skipped."""
    sources: list[Iterable[str]] = []
    for a in args:
        sources.append(stdin if a == "-" else [a])
    if file is not None:
        sources.append(file)
    for src in sources:
        yield from listed(src)


def _check_urls(urls: list[str]) -> None:
    bad = [u for u in urls if not is_url(u)]
    if bad:
        raise click.BadParameter(
            f"not an http(s) URL: {bad[0]!r}" + (f" (+{len(bad) - 1} more)" if bad[1:] else "")
        )
    if not urls:
        raise click.UsageError("no URLs given (arguments, --file F, or - for stdin)")


@click.command("enqueue")
@redis_url_option
@database_url_option
@click.argument("urls", nargs=-1)
@click.option(
    "--file", "-f", "file", type=click.File("r", encoding="utf-8"), help="A file of URLs, one a line."
)
@listing_option("Listing (product) id the images belong to.", dest="listing_id")
@shop_option("Shop (seller) id.", dest="shop_id")
@click.option("--page-url", help="The page the images were found on.")
@click.option(
    "--rescan",
    is_flag=True,
    help="Scan images already in the store again and replace their result (e.g. after an allow-list change).",
)
def enqueue(
    urls: tuple[str, ...],
    file: TextIO | None,
    listing_id: str | None,
    shop_id: str | None,
    page_url: str | None,
    rescan: bool,
) -> None:
    """Queue image URLs for scanning (URL..., --file F, or - for stdin). A URL already queued is skipped."""
    from jobs.queueing import Policy, enqueue_scans

    items = list(_lines(urls, file, sys.stdin))
    _check_urls(items)
    conn = _redis()
    store = _store()  # every URL is recorded there as requested before it goes on Redis
    policy = Policy.from_settings(cli_settings())
    done, skipped = _unavailable_exits(
        enqueue_scans,
        conn,
        items,
        listing_id=listing_id,
        shop_id=shop_id,
        page_url=page_url,
        rescan=rescan,
        policy=policy,
        store=store,
    )
    click.echo(
        f"queued {done} image(s) on '{policy.scan_queue}'"
        + (f", {skipped} already queued" if skipped else "")
    )


@click.command("crawl")
@redis_url_option
@database_url_option
@click.argument("urls", nargs=-1)
@click.option("--file", "-f", "file", type=click.File("r", encoding="utf-8"), help="A file of page URLs.")
@click.option(
    "--now", is_flag=True, help="Fetch the pages here and queue their images, instead of queueing crawls."
)
@listing_option("Listing (product) id of the page.", dest="listing_id")
@shop_option("Shop (seller) id.", dest="shop_id")
def crawl(
    urls: tuple[str, ...], file: TextIO | None, now: bool, listing_id: str | None, shop_id: str | None
) -> None:
    """Queue listing pages (HTML or JSON) to be crawled: each image found on a page is queued for scanning."""
    from jobs.queueing import Policy, enqueue_crawls

    items = list(_lines(urls, file, sys.stdin))
    _check_urls(items)
    conn = _redis()
    store = _store()
    if not now:
        policy = Policy.from_settings(cli_settings())
        done, skipped = _unavailable_exits(
            enqueue_crawls, conn, items, listing_id=listing_id, shop_id=shop_id, policy=policy, store=store
        )
        click.echo(
            f"queued {done} page(s) on '{policy.crawl_queue}'"
            + (f", {skipped} already queued" if skipped else "")
        )
        return
    from fetch.client import TransientFetchError
    from jobs.scanner import Scanner
    from jobs.tasks import crawl as crawl_inline

    failed = False
    for url in items:
        try:
            r = crawl_inline(conn, url, listing_id=listing_id, shop_id=shop_id, using=Scanner(cli_settings()))
        except TransientFetchError as exc:
            r = {"page": url, "status": "failed", "error": f"{exc} (try again later)"}
        if r["status"] == "ok":
            click.echo(
                f"{url}: {r['images']} image(s), queued {r['enqueued']}, already queued {r['already_queued']}"
            )
        else:
            failed = True
            click.echo(f"{url}: FAILED {r['error']}", err=True)
    sys.exit(ExitCode.USAGE if failed else ExitCode.OK)


@click.command("worker")
@redis_url_option
@database_url_option
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.argument("queue_names", nargs=-1, metavar="[QUEUE]...")
@click.option("--queues", "queues", multiple=True, help="Queues to listen on (repeat or comma list).")
@click.option(
    "--quiet", "-q", is_flag=True, help="Job outcome lines, warnings and errors only (as `rq worker -q`)."
)
@setting_option("--max-jobs", setting="QQSCAN_WORKER_MAX_JOBS", help="Exit after N jobs (recycle).")
@setting_option(
    "--max-rss-mb", setting="QQSCAN_WORKER_MAX_RSS_MB", help="Exit after a job leaves RSS above M MiB."
)
@click.option(
    "--with-scheduler/--without-scheduler",
    default=True,
    show_default=True,
    help="Run RQ's scheduler (retry intervals, scheduled jobs); one per Redis holds the lock.",
)
@click.option("--name", default=None, help="Worker name (default: random).")
@engine_option
@setting_option(
    "--metrics-port",
    setting="QQSCAN_METRICS_PORT",
    type=click.IntRange(0, 65535),
    help="Serve Prometheus metrics on this port (/metrics); 0 = off.",
)
@setting_option(
    "--metrics-host",
    setting="QQSCAN_METRICS_HOST",
    help="Address the metrics endpoint listens on (0.0.0.0 in a container).",
)
@click.option("--logging-level", "-l", default="INFO", show_default=True, help="DEBUG adds RQ's own lines.")
@setting_option("--log-format", setting="QQSCAN_LOG_FORMAT", export=True)
def worker(
    queue_names: tuple[str, ...],
    burst: bool,
    queues: tuple[str, ...],
    quiet: bool,
    max_jobs: int | None,
    max_rss_mb: float | None,
    with_scheduler: bool,
    name: str | None,
    metrics_port: int,
    metrics_host: str,
    logging_level: str,
) -> None:
    """Run a scan worker on QUEUEs (default: crawl, then scan): builds the OCR engine once, then takes jobs
    until stopped (SIGTERM finishes the current job first). Run several, on one box or many, against the
    same Redis and database."""
    from jobs.queueing import Policy
    from worker import logs
    from worker.worker import ScanWorker

    if quiet:
        logging_level = "INFO"  # the outcome lines are INFO; the handler drops the rest
    logs.configure(logging_level.upper(), cli_settings()["QQSCAN_LOG_FORMAT"], quiet=quiet)
    given = (*queue_names, *queues)
    default = Policy.from_settings(cli_settings()).queues
    names = [q.strip() for arg in given for q in arg.split(",") if q.strip()] or default
    conn = _redis()
    _store()  # fail before the 3 s engine build, with the URL, when the database is unreachable
    w = ScanWorker(
        names,
        connection=conn,
        settings=cli_settings(),
        name=name,
        max_rss_mb=max_rss_mb,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )
    from worker.metrics import MetricsPortError

    try:
        w.work(
            burst=burst, max_jobs=max_jobs, with_scheduler=with_scheduler, logging_level=logging_level.upper()
        )
    except MetricsPortError as exc:
        click.echo(f"qqscan worker: {exc}", err=True)
        sys.exit(ExitCode.USAGE)
    if w.recycle_reason:
        click.echo(f"qqscan worker: recycled ({w.recycle_reason})", err=True)


@click.command("reconcile")
@redis_url_option
@database_url_option
def reconcile() -> None:
    """Queue again every requested URL that has no stored result and no live job (Redis lost it, a worker
    died at the wrong moment). Workers' schedulers also run this every QQSCAN_RECONCILE_INTERVAL seconds."""
    from jobs.queueing import Policy
    from jobs.queueing import reconcile as run_reconcile

    policy = Policy.from_settings(cli_settings())
    counts = _unavailable_exits(run_reconcile, _redis(), _store(), policy)
    click.echo(
        f"open requests {counts['open']}: {counts['live']} queued or running, {counts['requeued']} queued "
        f"again, {counts['failed']} stored as failed (re-queued too often)"
    )


def describe(r: dict[str, Any]) -> str:
    where = r.get("url") or r.get("source")
    extra = f" (+{len(r['urls']) - 1} more URLs)" if len(r.get("urls") or []) > 1 else ""
    if r.get("error"):
        return f"ERROR    {where}{extra}: {r['error']}"
    if not r.get("flagged"):
        return f"clean    {where}{extra}"
    parts = [
        f"{f.get('type')} {f.get('value')} [{f.get('rule')}] {f.get('text')!r}"
        for f in r.get("findings") or []
    ]
    return f"FLAGGED  {where}{extra}: " + "; ".join(parts)


@click.command("results")
@database_url_option
@click.option("--flagged", is_flag=True, help="Only images with findings.")
@since_option("Scanned since then.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image (scan --json shape + url).")
@click.option("--lines/--no-lines", "with_lines", default=True, help="With --json: include OCR lines.")
@click.option("--limit", type=int, default=None, help="At most N images.")
@click.option("--failed", is_flag=True, help="Instead: URLs that could not be fetched, with the reason.")
def results(
    flagged: bool, since: datetime | None, as_json: bool, with_lines: bool, limit: int | None, failed: bool
) -> None:
    """Scan results from the store, oldest first: one per image (its newest scan)."""
    since_dt = since
    store = _store()
    from store.database import StoreError

    try:
        if failed:
            for r in store.failed_sources(since_dt, limit):
                click.echo(json.dumps(r, default=str) if as_json else f"FAILED   {r['url']}: {r['error']}")
            return
        for r in store.results(flagged=True if flagged else None, since=since_dt, limit=limit):
            if as_json:
                if not with_lines:
                    r.pop("lines", None)
                click.echo(json.dumps(r, ensure_ascii=False, default=str))
            else:
                click.echo(describe(r))
    except StoreError as exc:
        click.echo(f"qqscan: {exc}", err=True)
        sys.exit(exc.exit_code)


@click.command("status")
@redis_url_option
@database_url_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
def status(as_json: bool) -> None:
    """Queue depths, started/scheduled/failed jobs, workers, and recent throughput from the store."""
    from jobs.presence import presence
    from jobs.queueing import Policy, job_queue

    conn = _redis()
    policy = Policy.from_settings(cli_settings())
    queues: dict[str, dict[str, int]] = {}
    for name in policy.queues:
        q = job_queue(name, conn)  # counting runs RQ's clean-ups, which call (guarded) job callbacks
        queues[name] = {
            "queued": q.count,
            "started": q.started_job_registry.count,
            "scheduled": q.scheduled_job_registry.count,
            "deferred": q.deferred_job_registry.count,
            "failed": q.failed_job_registry.count,
            "finished": q.finished_job_registry.count,
        }
    seen = presence(conn, policy.queues)
    warning = seen.warning()
    out: dict[str, Any] = {"queues": queues, "workers": seen.workers, "busy_workers": seen.busy}
    out["warnings"] = [warning] if warning else []
    out["store"] = _store().stats()
    if warning:
        click.echo(f"qqscan: warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    click.echo(f"{'queue':<10} {'queued':>7} {'started':>8} {'sched':>6} {'failed':>7} {'done':>7}")
    for name, c in queues.items():
        click.echo(
            f"{name:<10} {c['queued']:>7} {c['started']:>8} {c['scheduled']:>6} "
            f"{c['failed']:>7} {c['finished']:>7}"
        )
    click.echo(f"workers: {seen.workers} ({seen.busy} busy)")
    s = out["store"]
    click.echo(
        f"store: {s['images']} images, {s['scans']} scans ({s['flagged']} flagged), "
        f"{s['failed_sources']} failed URLs, {s['open_requests']} requested URLs without a result yet"
    )
    click.echo(
        "scans per minute: last 1 min {0[1m]}, last 10 min {0[10m]:.1f}, last hour {0[1h]:.1f}".format(
            s["per_minute"]
        )
    )
