"""The allow-list moderators keep: values (or patterns) that stop flagging images, everywhere or in one
shop. Entries are never deleted: a removal stamps removed_at/removed_by. An entry made by a false-positive
decision points at it (decision_id), so undoing the decision can offer to remove them.

An entry for every shop is a lot of trust (one value stops flagging in every shop), so only an admin makes
one in force: when anyone else asks (a moderator's "false positive, allow-list everywhere"), the entry is
a request (status "pending") that counts for nothing until an admin approves it ("active") or rejects it
("rejected"); each step is in the audit log. `needs_approval` is that rule, for every way an entry is made.
Entries for one shop are in force at once, whoever makes them.

`active_entries` is the one query for the entries in force: the scan pipeline (Store.allowlist) and the
false-positive decision (store/decisions.py) both read it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update

from detectors.allowlist import KINDS as ALLOW_KINDS
from detectors.allowlist import Allowed
from store.accounts import is_admin
from store.audit import Audit
from store.database import Database
from store.models import AllowEntry, Decision, utcnow

_LIVE = AllowEntry.removed_at.is_(None)


def _allowed(conn: Connection, status: str) -> list[Allowed]:
    t = AllowEntry.__table__.c
    q = select(t.id, t.kind, t.value, t.contact_type, t.shop_id).where(t.status == status, _LIVE)
    return [Allowed(*row) for row in conn.execute(q.order_by(t.id))]


def active_entries(conn: Connection) -> list[Allowed]:
    """Entries in force (active, not removed), oldest first, as detectors.allowlist matches them."""
    return _allowed(conn, "active")


def pending_entries(conn: Connection) -> list[Allowed]:
    """Requests waiting for an admin (not withdrawn), oldest first, in the same form."""
    return _allowed(conn, "pending")


def needs_approval(conn: Connection, created_by: str, shop_id: str | None) -> bool:
    """An entry for every shop made by anyone but an enabled admin waits for an admin's approval."""
    return shop_id is None and not is_admin(conn, created_by)


def decision_entries(conn: Connection, decision_id: int) -> list[dict[str, Any]]:
    """The entries a decision made that are still in force or still waiting for an admin."""
    return [
        _allow_dict(r)
        for r in conn.execute(
            select(AllowEntry)
            .where(AllowEntry.decision_id == decision_id, _LIVE, AllowEntry.status != "rejected")
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
        """Add an entry (a request, when `needs_approval`); `decision_id` = the false-positive decision it
        comes from, if any."""
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
        """Add an entry inside the caller's transaction (a decision and its entries commit together): in
        force, or a request waiting for an admin when `needs_approval` (audited as allow_request)."""
        if kind not in ALLOW_KINDS:
            raise ValueError(f"allow-list kind {kind!r} is not one of {', '.join(ALLOW_KINDS)}")
        value = value.strip()
        if not value or len(value) > 500:
            raise ValueError("allow-list value must be 1-500 characters")
        shop_id = shop_id or None
        status = "pending" if needs_approval(conn, created_by, shop_id) else "active"
        eid = conn.execute(
            self.db.insert(AllowEntry)
            .values(
                kind=kind,
                value=value,
                contact_type=contact_type or None,
                shop_id=shop_id,
                note=clean_note(note),
                created_by=created_by,
                created_at=utcnow(),
                decision_id=decision_id,
                status=status,
            )
            .returning(AllowEntry.id)
        ).scalar_one()
        detail = {"kind": kind, "value": value, "contact_type": contact_type, "shop_id": shop_id}
        if decision_id is not None:
            detail["decision"] = decision_id
        action = "allow_request" if status == "pending" else "allow_add"
        self._audit.append(conn, created_by, action, str(eid), detail)
        return int(eid)

    # --- requests for every shop ------------------------------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """Entries waiting for an admin, oldest first."""
        q = select(AllowEntry).where(AllowEntry.status == "pending", _LIVE).order_by(AllowEntry.id)
        with self.db.read() as conn:
            return [_allow_dict(r) for r in conn.execute(q)]

    def count_requests(self) -> int:
        with self.db.read() as conn:
            q = select(func.count()).where(AllowEntry.status == "pending", _LIVE)
            return int(conn.execute(q).scalar_one())

    def approve(self, entry_id: int, *, admin: str) -> dict[str, Any]:
        """Put a waiting request in force. PermissionError unless `admin` is an enabled admin; KeyError
        when there is no such request (unknown, already approved or rejected, or withdrawn)."""
        return self._decide(entry_id, admin, "active", "allow_approve", None)

    def reject(self, entry_id: int, *, admin: str, note: str | None = None) -> dict[str, Any]:
        """Refuse a waiting request: it never counts (kept, with who refused it and why). Errors as
        `approve`."""
        return self._decide(entry_id, admin, "rejected", "allow_reject", clean_note(note))

    def _decide(
        self, entry_id: int, admin: str, status: str, action: str, note: str | None
    ) -> dict[str, Any]:
        with self.db.write() as conn:
            if not is_admin(conn, admin):
                raise PermissionError(f"{admin} is not an admin: only an admin approves or rejects requests")
            n = conn.execute(
                update(AllowEntry)
                .where(AllowEntry.id == entry_id, AllowEntry.status == "pending", _LIVE)
                .values(status=status, decided_by=admin, decided_at=utcnow())
            ).rowcount
            if not n:
                raise KeyError(f"no allow-list request #{entry_id} waiting for approval")
            self._audit.append(conn, admin, action, str(entry_id), {"note": note} if note else None)
            row = conn.execute(select(AllowEntry).where(AllowEntry.id == entry_id)).one()
        return _allow_dict(row)

    # --- removal ------------------------------------------------------------------------------------------

    def decision_entries(self, decision_id: int) -> list[dict[str, Any]]:
        """The allow-list entries a decision made that are still in force or waiting for an admin."""
        with self.db.read() as conn:
            return decision_entries(conn, decision_id)

    def remove_decision(self, decision_id: int, *, removed_by: str, admin: bool = False) -> list[int]:
        """Remove the entries `decision_id` made (in force or waiting: a request is withdrawn). Allowed for
        the person who made that decision, or an admin; PermissionError otherwise, KeyError for an unknown
        decision. Returns the ids removed."""
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
        """Remove an entry in force (or withdraw a request); False when there is none such."""
        with self.db.write() as conn:
            n = conn.execute(
                update(AllowEntry)
                .where(AllowEntry.id == entry_id, _LIVE, AllowEntry.status != "rejected")
                .values(removed_at=utcnow(), removed_by=removed_by)
            ).rowcount
            if n:
                self._audit.append(conn, removed_by, "allow_remove", str(entry_id), None)
        return bool(n)

    def entries(self, *, include_removed: bool = False) -> list[dict[str, Any]]:
        """Entries in force, oldest first; with `include_removed`, every entry ever made (requests, rejected
        and removed ones too), each with its `status`."""
        q = select(AllowEntry)
        if not include_removed:
            q = q.where(AllowEntry.status == "active", _LIVE)
        with self.db.read() as conn:
            return [_allow_dict(r) for r in conn.execute(q.order_by(AllowEntry.id))]


def _allow_dict(r: Any) -> dict[str, Any]:
    return {c: getattr(r, c) for c in AllowEntry.__table__.columns.keys()}  # noqa: SIM118
