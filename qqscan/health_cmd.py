"""`qqscan health`: can this box work? Redis (the queues), the workers (jobs waiting with too few workers
registered fail it; `--local-worker`: this host's worker is alive, for a worker container's healthcheck),
the database (the store) and the OCR engine, one line per check, exit 0 when all answer and 1 otherwise;
`--json` for probes and scripts.

Each check catches everything its library can raise and reports the first line of it: a health command
that dies with a traceback when the thing it checks is down would be no health command."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import click

from ground.errors import ExitCode, QqscanError
from ground.settings import Settings
from qqscan.options import cli_settings, database_url_option, redis_url_option


@dataclass
class Check:
    name: str
    ok: bool
    target: str  # what was checked (URL with the password hidden, engine name)
    detail: str  # what it said, or why it failed
    ms: int


class CheckFailed(QqscanError):
    """A failure whose message already says it all."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    # our own errors (store, queueing, engine) are written for operators; a library's needs its name
    own = isinstance(exc, QqscanError)
    return text[0] if own else f"{type(exc).__name__}: {text[0]}"


def _timed(name: str, target: str, probe: Callable[[], str]) -> Check:
    t0 = time.perf_counter()
    try:
        detail, ok = probe(), True
    except Exception as exc:  # the check's whole point: any failure is one line
        detail, ok = _first_line(exc), False
    return Check(name, ok, target, detail, int((time.perf_counter() - t0) * 1000))


def check_redis(settings: Settings) -> Check:
    from jobs.queueing import SERIALIZER, QueueUnavailable, connect, redact_redis, redis_url

    url = redis_url(settings)

    def probe() -> str:
        from rq import Worker

        try:
            conn = connect(url)
        except QueueUnavailable as exc:  # its message names the URL and what to set: keep it whole
            raise CheckFailed(str(exc).replace(f"cannot reach Redis at {redact_redis(url)}: ", "")) from exc
        try:
            return f"ping ok, {len(Worker.all(connection=conn, serializer=SERIALIZER))} worker(s) registered"
        finally:
            conn.close()

    return _timed("redis", redact_redis(url), probe)


def check_workers(settings: Settings, minimum: int, local: bool) -> Check:
    """Jobs waiting with fewer than `minimum` workers registered fail; with `local`, so does a host with no
    live worker of its own (its process gone, or no heartbeat within RQ's worker_ttl)."""
    from jobs.queueing import Policy, connect, redact_redis, redis_url

    url = redis_url(settings)

    def probe() -> str:
        from jobs.presence import presence

        conn = connect(url)
        try:
            seen = presence(conn, Policy.from_settings(settings).queues)
        finally:
            conn.close()
        said = f"{seen.workers} registered ({seen.busy} busy), {seen.waiting} job(s) waiting"
        if local and not seen.local:
            stale = f" (stale: {', '.join(seen.local_stale)})" if seen.local_stale else ""
            raise CheckFailed(f"no live worker on this host{stale}; {said}")
        if (why := seen.warning(minimum)) is not None:
            raise CheckFailed(why)
        return f"{said}" + (f"; alive here: {', '.join(seen.local)}" if local else "")

    return _timed("workers", redact_redis(url), probe)


def check_database(settings: Settings) -> Check:
    from store.database import database_url, redact
    from store.results import Store

    url = database_url(settings)

    def probe() -> str:
        from pathlib import Path

        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        path = parsed.database or ""
        if parsed.get_backend_name() == "sqlite" and path not in ("", ":memory:") and not Path(path).exists():
            # opening it would create an empty database: a health check must not, and a typo looks like this
            raise CheckFailed(f"no database file at {path} (a worker creates it; check QQSCAN_DATABASE_URL)")
        store = Store(url)  # as every command opens it (migrated to the current schema if older)
        try:
            return f"schema {store.db.schema_revision()}, {store.count('images')} image(s)"
        finally:
            store.close()

    return _timed("database", redact(url), probe)


def check_engine(settings: Settings) -> Check:
    name = settings["QQSCAN_ENGINE"] if settings.is_set("QQSCAN_ENGINE") else "default"

    def probe() -> str:
        import numpy as np

        from jobs.scanner import Scanner

        engine = Scanner(settings).engine
        engine.read(np.full((48, 160, 3), 255, dtype=np.uint8))  # built is not enough: it must run
        return f"{engine.version} built and ran"

    return _timed("engine", name, probe)


@click.command("health")
@redis_url_option
@database_url_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object: ok, and each check.")
@click.option("--no-engine", is_flag=True, help="Skip the OCR engine check (it takes seconds).")
@click.option(
    "--workers",
    "minimum",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Fail when jobs wait and fewer workers than this are registered (0: do not check).",
)
@click.option(
    "--local-worker",
    is_flag=True,
    help="Also fail unless a worker of this host is alive (process running, heartbeat within RQ's "
    "worker_ttl): a worker container's healthcheck.",
)
def health(as_json: bool, no_engine: bool, minimum: int, local_worker: bool) -> None:
    """Check Redis (QQSCAN_REDIS_URL), the workers, the database (QQSCAN_DATABASE_URL) and the OCR engine:
    one line each; exit 0 when all are ok, 1 otherwise."""
    settings = cli_settings()
    checks = [check_redis(settings)]
    if checks[0].ok and (minimum or local_worker):
        checks.append(check_workers(settings, minimum, local_worker))
    checks.append(check_database(settings))
    if not no_engine:
        checks.append(check_engine(settings))
    ok = all(c.ok for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": ok, "checks": [asdict(c) for c in checks]}))
    else:
        for c in checks:
            click.echo(f"{'ok' if c.ok else 'FAIL':<5} {c.name:<9} {c.target}: {c.detail} ({c.ms} ms)")
    sys.exit(ExitCode.OK if ok else ExitCode.FOUND)
