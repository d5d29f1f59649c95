"""The allow-list moderators keep: values (or patterns) that stop flagging images, everywhere or in one
shop. Entries are never deleted: a removal stamps removed_at/removed_by. An entry made by a false-positive
decision points at it (decision_id), so undoing the decision can offer to remove them.

`active_entries` is the one query for the entries in force: the scan pipeline (Store.allowlist) and the
false-positive decision (store/decisions.py) both read it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from detectors.allowlist import KINDS as ALLOW_KINDS
from detectors.allowlist import Allowed
from store.audit import Audit
from store.database import Database
from store.models import AllowEntry, Decision, utcnow


def active_entries(conn: Connection) -> list[Allowed]:
    """Active allow-list entries (not removed), oldest first, as detectors.allowlist matches them."""
    t = AllowEntry.__table__.c
    q = select(t.id, t.kind, t.value, t.contact_type, t.shop_id).where(t.removed_at.is_(None))
    return [Allowed(*row) for row in conn.execute(q.order_by(t.id))]


def decision_entries(conn: Connection, decision_id: int) -> list[dict[str, Any]]:
    """The entries a decision made that are still in force."""
    return [
        _allow_dict(r)
        for r in conn.execute(
            select(AllowEntry)
            .where(AllowEntry.decision_id == decision_id, AllowEntry.removed_at.is_(None))
            .order_by(AllowEntry.id)
        )
    ]


def clean_note(note: str | None) -> str | None:
    """A moderator's note as stored: trimmed, at most 2000 characters, None when empty."""
    note = (note or "").strip()
    return note[:2000] or None


class AllowList:
    """The allow-list over one Database; every change is appended to the audit log in its transaction."""

    def __init__(self, db: Database, audit: Audit) -> None:
        self.db = db
        self._audit = audit

    def add(
        self,
        kind: str,
        value: str,
        *,
        created_by: str,
        contact_type: str | None = None,
        shop_id: str | None = None,
        note: str | None = None,
        decision_id: int | None = None,
    ) -> int:
        """Add an entry; `decision_id` = the false-positive decision it comes from, if any."""
        with self.db.write() as conn:
            return self.append(conn, kind, value, created_by, contact_type, shop_id, note, decision_id)

    def append(
        self,
        conn: Connection,
        kind: str,
        value: str,
        created_by: str,
        contact_type: str | None,
        shop_id: str | None,
        note: str | None,
        decision_id: int | None,
    ) -> int:
        """Add an entry inside the caller's transaction (a decision and its entries commit together)."""
        if kind not in ALLOW_KINDS:
            raise ValueError(f"allow-list kind {kind!r} is not one of {', '.join(ALLOW_KINDS)}")
        value = value.strip()
        if not value or len(value) > 500:
            raise ValueError("allow-list value must be 1-500 characters")
        eid = conn.execute(
            self.db.insert(AllowEntry)
            .values(
                kind=kind,
                value=value,
                contact_type=contact_type or None,
                shop_id=shop_id or None,
                note=clean_note(note),
                created_by=created_by,
                created_at=utcnow(),
                decision_id=decision_id,
            )
            .returning(AllowEntry.id)
        ).scalar_one()
        detail = {"kind": kind, "value": value, "contact_type": contact_type, "shop_id": shop_id}
        if decision_id is not None:
            detail["decision"] = decision_id
        self._audit.append(conn, created_by, "allow_add", str(eid), detail)
        return int(eid)

    def decision_entries(self, decision_id: int) -> list[dict[str, Any]]:
        """The allow-list entries a decision made that are still in force."""
        with self.db.read() as conn:
            return decision_entries(conn, decision_id)

    def remove_decision(self, decision_id: int, *, removed_by: str, admin: bool = False) -> list[int]:
        """Remove the entries `decision_id` made (still in force). Allowed for the person who made that
        decision, or an admin; PermissionError otherwise, KeyError for an unknown decision. Returns the
        ids removed."""
        with self.db.write() as conn:
            owner = conn.execute(select(Decision.reviewer).where(Decision.id == decision_id)).scalar()
            if owner is None:
                raise KeyError(f"no decision #{decision_id}")
            if owner != removed_by and not admin:
                raise PermissionError(
                    f"decision #{decision_id} is {owner}'s: only they or an admin can do this"
                )
            ids = [int(e["id"]) for e in decision_entries(conn, decision_id)]
            for eid in ids:
                conn.execute(
                    update(AllowEntry)
                    .where(AllowEntry.id == eid)
                    .values(removed_at=utcnow(), removed_by=removed_by)
                )
                self._audit.append(conn, removed_by, "allow_remove", str(eid), {"decision": decision_id})
        return ids

    def remove(self, entry_id: int, *, removed_by: str) -> bool:
        with self.db.write() as conn:
            n = conn.execute(
                update(AllowEntry)
                .where(AllowEntry.id == entry_id, AllowEntry.removed_at.is_(None))
                .values(removed_at=utcnow(), removed_by=removed_by)
            ).rowcount
            if n:
                self._audit.append(conn, removed_by, "allow_remove", str(entry_id), None)
        return bool(n)

    def entries(self, *, include_removed: bool = False) -> list[dict[str, Any]]:
        q = select(AllowEntry)
        if not include_removed:
            q = q.where(AllowEntry.removed_at.is_(None))
        with self.db.read() as conn:
            return [_allow_dict(r) for r in conn.execute(q.order_by(AllowEntry.id))]


def _allow_dict(r: Any) -> dict[str, Any]:
    return {c: getattr(r, c) for c in AllowEntry.__table__.columns.keys()}  # noqa: SIM118
