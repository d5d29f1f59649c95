"""Who is working: the workers registered in Redis, the jobs waiting for them, and whether this host's
workers are alive. `qqscan status` warns and `qqscan health` fails on what is read here; the worker
container's healthcheck is `qqscan health --local-worker`; the review app's dashboard shows it.

A worker is alive when its process runs on this host and its heartbeat is younger than RQ's own
`worker_ttl` (RQ drops a registration after that long without one): an idle worker heartbeats at every
maintenance wake-up, a busy one from its heartbeat thread, so a worker wedged outside a job goes stale.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rq import Worker

from jobs.queueing import SERIALIZER, job_queue

if TYPE_CHECKING:
    from redis import Redis

# Fields the worker adds to its RQ registration after each job (worker.worker), for the dashboard.
LAST_JOB_FIELD = "qqscan_last_job"  # JSON: id, outcome, target, at (ISO-8601)
RSS_FIELD = "qqscan_rss_mb"


def pid_alive(pid: int) -> bool:
    """A process with this pid exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class Presence:
    workers: int  # registered
    busy: int
    waiting: int  # jobs queued on the given queues
    local: list[str] = field(default_factory=list)  # this host's workers, alive
    local_stale: list[str] = field(default_factory=list)  # this host's registrations that are not

    def warning(self, minimum: int = 1) -> str | None:
        """Why the queues are not being worked, or None."""
        if self.waiting and self.workers < minimum:
            return (
                f"{self.waiting} job(s) wait and {self.workers} worker(s) are registered "
                f"(at least {minimum} wanted): start `qqscan worker`"
            )
        return None


def presence(conn: Redis, queues: list[str], now: datetime | None = None) -> Presence:
    now = now or datetime.now(UTC)
    host = socket.gethostname()
    workers = Worker.all(connection=conn, serializer=SERIALIZER)
    local, stale = [], []
    for w in workers:
        if w.hostname != host:
            continue
        beat = w.last_heartbeat
        age = (now - beat.replace(tzinfo=beat.tzinfo or UTC)).total_seconds() if beat else None
        fresh = age is not None and age <= w.worker_ttl
        (local if fresh and w.pid and pid_alive(int(w.pid)) else stale).append(w.name)
    return Presence(
        workers=len(workers),
        busy=sum(1 for w in workers if w.get_state() == "busy"),
        waiting=sum(job_queue(q, conn).count for q in queues),
        local=local,
        local_stale=stale,
    )


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else (now - then.replace(tzinfo=then.tzinfo or UTC)).total_seconds()


def queue_rows(conn: Redis, queues: list[str], now: datetime | None = None) -> list[dict[str, Any]]:
    """Per queue: jobs waiting and the age of the oldest (seconds; None when empty), started and failed."""
    now = now or datetime.now(UTC)
    rows = []
    for name in queues:
        q = job_queue(name, conn)
        oldest = None
        first = q.get_job_ids(0, 0)
        if first:
            job = q.fetch_job(first[0])
            oldest = _age(now, job.enqueued_at) if job is not None else None
        rows.append(
            {
                "queue": name,
                "waiting": q.count,
                "oldest_s": oldest,
                "started": q.started_job_registry.count,
                "failed": q.failed_job_registry.count,
            }
        )
    return rows


def worker_rows(conn: Redis, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per registered worker: name, host, state, current job, last job (outcome, target, when), RSS, heartbeat
    age in seconds."""
    now = now or datetime.now(UTC)
    rows = []
    for w in sorted(Worker.all(connection=conn, serializer=SERIALIZER), key=lambda w: w.name):
        extra = conn.hmget(w.key, [LAST_JOB_FIELD, RSS_FIELD])
        last = json.loads(extra[0]) if extra[0] else None
        rows.append(
            {
                "name": w.name,
                "host": w.hostname,
                "pid": w.pid,
                "state": w.get_state(),
                "current_job": w.get_current_job_id(),
                "last_job": last,
                "rss_mb": float(extra[1]) if extra[1] else None,
                "heartbeat_age_s": _age(now, w.last_heartbeat),
            }
        )
    return rows
