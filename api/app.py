"""The API's Flask app: bearer tokens (store.api_tokens) with scopes and a rate per minute, the routes, and
problem-details errors. Scans are queued on the same RQ queues as `qqscan enqueue` (jobs.queueing) and run
by the ordinary workers; `wait` blocks on RQ's own result stream, so the API holds no state of its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, json, request
from pydantic import BaseModel, ValidationError

from api import problems
from api.problems import Problem
from api.schemas import ImageResponse, ScanJob, ScanRequest, ScanResponse
from ground.settings import DEFAULTS, Settings
from store.review import ReviewStore

MAX_BODY = 64 * 1024  # JSON of 32 URLs fits many times over


@dataclass(frozen=True)
class Route:
    """One endpoint: what the app serves and what the OpenAPI document says, from the same row."""

    method: str
    path: str  # Flask rule
    view: Callable[..., Any]
    summary: str
    scope: str | None  # None: public
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    codes: tuple[int, ...] = ()


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status=status, mimetype="application/json")


def _store() -> ReviewStore:
    return current_app.extensions["qqscan_api_store"]


def _settings() -> Settings:
    return current_app.extensions["qqscan_settings"]


def _redis() -> Any:
    from jobs.queueing import QueueUnavailable, connect, redis_url

    conn = current_app.extensions.get("qqscan_redis")
    if conn is None:
        try:
            conn = connect(redis_url(_settings()))
        except QueueUnavailable as exc:
            raise Problem(503, "queue_unavailable", str(exc)) from None
        current_app.extensions["qqscan_redis"] = conn
    return conn


def _authenticate(scope: str) -> None:
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header[:7].lower() == "bearer " else ""
    client = _store().tokens.client(secret)
    if client is None:
        raise Problem(401, "unauthorized", "a valid API token is needed: Authorization: Bearer <token>")
    if scope not in client.scopes:
        raise Problem(403, "forbidden", f"token {client.name!r} lacks the {scope!r} scope")
    # a fixed window per token and minute in Redis: shared by every API process behind a balancer
    key = f"qqscan:api:rate:{client.id}:{int(time.time() // 60)}"
    conn = _redis()
    used = conn.incr(key)
    if used == 1:
        conn.expire(key, 120)
    if used > client.rate_per_minute:
        limit = f"over {client.rate_per_minute} requests per minute"
        raise Problem(429, "rate_limited", limit, retry_after=60)
    g.client = client


def _scoped(scope: str | None, view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if scope is not None:
            _authenticate(scope)
        return view(*args, **kwargs)

    return wrapper


def _job_view(job: Any, url: str, timeout: float) -> ScanJob:
    """The job's state, its verdict (the stored scan) once finished; blocks up to `timeout` s for it."""
    from store.results import Store

    if job is None:
        return ScanJob(id="", url=url, status="unknown")
    result = job.latest_result(timeout=max(0, int(timeout))) if timeout >= 1 else job.latest_result()
    if result is None:
        status = job.get_status(refresh=True)
        state = "started" if status == "started" else "failed" if status == "failed" else "queued"
        return ScanJob(id=job.id, url=url, status=state)
    value = result.return_value if result.type == result.Type.SUCCESSFUL else None
    if not isinstance(value, dict):
        return ScanJob(id=job.id, url=url, status="failed", error=result.exc_string or "the job failed")
    if value.get("status") == "failed":  # stored as the URL's failure (404, not an image, refused)
        return ScanJob(id=job.id, url=url, status="failed", error=value.get("error"))
    doc = Store(_store().db).result(value["sha256"]) if value.get("sha256") else None
    if doc is not None:
        doc.pop("lines", None)
    return ScanJob(id=job.id, url=url, status="finished", result=doc)


def submit_scans() -> Response:
    from jobs.queueing import Policy, enqueue_scans, fetch_job, job_id
    from store.results import Store

    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, "too_large", f"the body is over {MAX_BODY} bytes")
    try:
        raw = json.loads(request.get_data(cache=False) or b"null")
    except ValueError:
        raise Problem(422, "malformed_json", "the body is not JSON") from None
    if isinstance(raw, dict) and "url" in raw and "urls" not in raw:
        raw = {**raw, "urls": [raw.pop("url")]}
    if "wait" in request.args:
        raw = {**(raw if isinstance(raw, dict) else {}), "wait": request.args["wait"]}
    try:
        req = ScanRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Problem(422, "invalid_request", f"{where}: {first['msg']}") from None
    conn = _redis()
    enqueue_scans(
        conn,
        req.urls,
        listing_id=req.listing,
        shop_id=req.shop,
        policy=Policy.from_settings(_settings()),
        store=Store(_store().db),
    )
    deadline = time.monotonic() + req.wait
    jobs = []
    for url in dict.fromkeys(req.urls):
        jid = job_id("scan", url)
        try:
            job = fetch_job(jid, conn)
        except Exception:  # expired between the two calls: reported as unknown
            job = None
        jobs.append(_job_view(job, url, deadline - time.monotonic()))
    done = all(j.status in ("finished", "failed") for j in jobs)
    current_app.logger.info("token %s submitted %d url(s)", g.client.name, len(jobs))
    return _json(ScanResponse(jobs=jobs), 200 if done else 202)


def get_scan(job_id: str) -> Response:
    from rq.exceptions import NoSuchJobError

    from jobs.queueing import fetch_job

    try:
        job = fetch_job(job_id, _redis())
    except NoSuchJobError:
        raise Problem(404, "not_found", f"no scan job {job_id!r} (unknown, or its result expired)") from None
    url = (job.kwargs or {}).get("url", "")
    return _json(_job_view(job, url, 0))


def get_image(sha256: str) -> Response:
    from store.results import Store

    doc = Store(_store().db).result(sha256.lower()) if len(sha256) == 64 else None
    if doc is None:
        raise Problem(404, "not_found", f"no stored image {sha256[:64]!r}")
    doc.pop("lines", None)
    return _json(ImageResponse(sha256=sha256.lower(), result=doc))


def openapi() -> Response:
    from api.openapi import document

    return Response(json.dumps(document(ROUTES)), mimetype="application/json")


ROUTES = [
    Route("POST", "/v1/scans", submit_scans, "Queue image URLs for scanning; `wait` returns verdicts inline",
          "scan", ScanRequest, ScanResponse, (200, 202, 401, 403, 413, 422, 429, 503)),
    Route("GET", "/v1/scans/<job_id>", get_scan, "A scan job's status and, once finished, its verdict",
          "read", None, ScanJob, (200, 401, 403, 404, 429)),
    Route("GET", "/v1/images/<sha256>", get_image, "A stored image's scan and review status",
          "read", None, ImageResponse, (200, 401, 403, 404, 429)),
    Route("GET", "/v1/openapi.json", openapi, "This document", None),
]  # fmt: skip


def create_api(store: ReviewStore | str | None = None, *, settings: Settings = DEFAULTS) -> Flask:
    """The API app over `store` (a ReviewStore, a database URL, or None for the settings' database)."""
    if not isinstance(store, ReviewStore):
        from store.database import database_url

        store = ReviewStore(store or database_url(settings))
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY)
    app.extensions["qqscan_api_store"] = store
    app.extensions["qqscan_settings"] = settings
    for r in ROUTES:
        app.add_url_rule(r.path, r.view.__name__, _scoped(r.scope, r.view), methods=[r.method])
    problems.register(app)
    return app
