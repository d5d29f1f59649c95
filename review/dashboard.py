"""The operator's dashboard (issue #21): queues (depth, oldest job), workers (busy/idle, current and last
job, RSS, heartbeat), failed and given-up URLs with their reasons, scans and flags per minute over the
last hour, and the review backlog by age. Every logged-in account sees it; only an admin may requeue a
failed URL (audited; a moderator gets 403). No new service: the app reads Redis (QQSCAN_REDIS_URL, from
the settings it was built with) and the store it already has. Redis unreachable is said on the page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from review.auth import admin_required, current_store

FAILED_SHOWN = 50  # newest failed URLs on the page
BACKLOG_EDGES = (3600.0, 6 * 3600.0, 24 * 3600.0)  # the same buckets as qqscan_review_pending
BACKLOG_LABELS = ("under 1 h", "1-6 h", "6-24 h", "over 24 h")


def _redis() -> Any:
    from jobs.queueing import connect, redis_url

    return connect(redis_url(current_app.extensions["qqscan_settings"]))


def _policy() -> Any:
    from jobs.queueing import Policy

    return Policy.from_settings(current_app.extensions["qqscan_settings"])


@login_required
def dashboard() -> Any:
    from jobs.presence import queue_rows, worker_rows
    from jobs.queueing import QueueUnavailable
    from store.activity import per_minute
    from store.models import utcnow
    from store.results import Store
    from store.review import pending_by_age

    store = current_store()
    queues: list[dict[str, Any]] = []
    workers: list[dict[str, Any]] = []
    redis_error = None
    try:
        conn = _redis()
        try:
            queues, workers = queue_rows(conn, _policy().queues), worker_rows(conn)
        finally:
            conn.close()
    except (QueueUnavailable, OSError) as exc:
        redis_error = str(exc)
    except Exception as exc:  # Redis going away mid-read: the page still shows the store's half
        redis_error = f"{type(exc).__name__}: {exc}"
    results = Store(store.db)
    failed = results.failed_sources(since=utcnow() - timedelta(days=7))[-FAILED_SHOWN:][::-1]
    minutes = per_minute(store.db)
    counts, oldest = pending_by_age(store.db, BACKLOG_EDGES)
    return render_template(
        "dashboard.html",
        queues=queues,
        workers=workers,
        redis_error=redis_error,
        failed=failed,
        minutes=minutes,
        hour={"scans": sum(m["scans"] for m in minutes), "flags": sum(m["flags"] for m in minutes)},
        backlog=list(zip(BACKLOG_LABELS, counts, strict=True)),
        oldest_wait=oldest,
        can_requeue=current_user.is_admin,
    )


@admin_required
def requeue() -> Any:
    """Queue a failed URL again (one scan job; its stored failure stays until a result replaces it)."""
    from jobs.queueing import QueueUnavailable, enqueue_scans
    from store.results import Store

    url = (request.form.get("url") or "").strip()
    store = current_store()
    source = Store(store.db).source(url) if url else None
    if source is None or not source.get("error"):
        abort(400, "Only a URL that failed can be queued again from here.")
    try:
        conn = _redis()
        try:
            queued, _ = enqueue_scans(
                conn,
                [url],
                listing_id=source.get("listing_id"),
                shop_id=source.get("shop_id"),
                page_url=source.get("page_url"),
                policy=_policy(),
                store=Store(store.db),
            )
        finally:
            conn.close()
    except QueueUnavailable as exc:
        abort(503, str(exc))
    with store.db.write() as c:
        store.audit.append(c, current_user.name, "requeue", url, {"previous_error": source["error"]})
    flash(f"Queued again: {url}" if queued else f"Already queued: {url}", "ok")
    return redirect(url_for("dashboard"), 303)


def register(app: Flask) -> None:
    app.add_url_rule("/dashboard", "dashboard", dashboard)
    app.add_url_rule("/dashboard/requeue", "dashboard_requeue", requeue, methods=["POST"])
