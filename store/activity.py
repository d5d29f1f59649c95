"""Throughput over the last hour, for the review app's dashboard: scans and flagged scans per minute."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from store.database import Database
from store.models import Scan, utcnow


def per_minute(db: Database, minutes: int = 60, now: datetime | None = None) -> list[dict[str, int | str]]:
    """One row per minute of the last `minutes` (oldest first, empty minutes included): scans stored and
    scans that flagged their image. Minutes are counted in Python over the window's rows, the same on
    SQLite and PostgreSQL; the window is bounded, so this stays cheap at any store size."""
    now = now or utcnow()
    start = (now - timedelta(minutes=minutes - 1)).replace(second=0, microsecond=0)
    counts = {start + timedelta(minutes=i): [0, 0] for i in range(minutes)}
    q = select(Scan.created_at, Scan.flagged).where(Scan.created_at >= start)
    with db.read() as conn:
        for created, flagged in conn.execute(q):
            minute = created.replace(second=0, microsecond=0, tzinfo=start.tzinfo)
            if minute in counts:
                counts[minute][0] += 1
                counts[minute][1] += bool(flagged)
    return [{"minute": m.strftime("%H:%M"), "scans": c[0], "flags": c[1]} for m, c in counts.items()]
