"""Who is working: the workers registered in Redis, the jobs waiting for them, and whether this host's
workers are alive. `qqscan status` warns and `qqscan health` fails on what is read here; the worker
container's healthcheck is `qqscan health --local-worker`.

A worker is alive when its process runs on this host and its heartbeat is younger than RQ's own
`worker_ttl` (RQ drops a registration after that long without one): an idle worker heartbeats at every
maintenance wake-up, a busy one from its heartbeat thread, so a worker wedged outside a job goes stale.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rq import Worker

from jobs.queueing import SERIALIZER, job_queue
from worker.worker import pid_alive

if TYPE_CHECKING:
    from redis import Redis


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
