"""The audit log: non-decision events (logins, allow-list edits, account changes), appended, never
rewritten. Decisions have their own append-only table (store/decisions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select

from store.database import Database
from store.models import AuditEntry, utcnow


class Audit:
    """The audit log over one Database. `append` writes inside the caller's transaction, so an event and
    the change it records commit (or roll back) together."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(
        self,
        conn: Connection,
        actor: str,
        action: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            self.db.insert(AuditEntry).values(
                at=utcnow(), actor=actor, action=action, target=target, detail=detail
            )
        )

    def record(
        self, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        """Append one event in its own transaction (an event that changes nothing else: a login)."""
        with self.db.write() as conn:
            self.append(conn, actor, action, target, detail)

    def log(self, *, actor: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Non-decision events (logins, allow-list edits, accounts), newest first."""
        q = select(AuditEntry)
        if actor:
            q = q.where(AuditEntry.actor == actor)
        with self.db.read() as conn:
            return [
                {
                    "id": a.id,
                    "at": a.at,
                    "actor": a.actor,
                    "action": a.action,
                    "target": a.target,
                    "detail": a.detail,
                }
                for a in conn.execute(q.order_by(AuditEntry.id.desc()).offset(offset).limit(limit))
            ]

    def logged_in_from(self, name: str, address: str | None, since: datetime) -> bool:
        """Whether `name` logged in to the web app from `address` at or after `since` (the review app's
        login limits spare such an address)."""
        if not name or not address:
            return False
        q = select(
            exists().where(
                AuditEntry.action == "login",
                AuditEntry.target == name,
                AuditEntry.at >= since,
                AuditEntry.detail["ip"].as_string() == address,
            )
        )
        with self.db.read() as conn:
            return bool(conn.execute(q).scalar())
