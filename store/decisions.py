"""Moderators' decisions: appended, never rewritten. An undo is a new decision that points at the one it
undoes; setting a decision also sets the image's review status (it covers every URL the bytes were seen
at). "False positive, and allow-list these values" writes the decision and the allow-list entries in one
transaction; entries for every shop asked for by someone other than an admin are requests that wait for
an admin (store/allowlist.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, exists, select, update
from sqlalchemy.orm import aliased

from detectors.allowlist import Allowed, allowed_by
from detectors.base import Finding
from ground.errors import UsageError
from store.allowlist import (
    AllowList,
    active_entries,
    clean_note,
    decision_entries,
    needs_approval,
    pending_entries,
)
from store.database import Database, StoreError
from store.models import Decision, Image, Source, utcnow
from store.terms import REVIEW_STATUSES


class DecisionRefused(StoreError):
    """A decision or undo that cannot apply (unknown image, status changed by someone else)."""


class ScopeRefused(UsageError, ValueError):
    """An allow-list scope (a shop) that is not one of the decided image's shops."""


@dataclass
class FalsePositive:
    """What Decisions.false_positive wrote: the decision per image, the allow-list entries added (in
    force), the requests made (every shop, waiting for an admin), and the values left out because an
    entry already allows them in that scope, or a request already asks for them (with its id)."""

    decisions: dict[str, int] = field(default_factory=dict)
    added: list[dict[str, Any]] = field(default_factory=list)  # id, value, contact_type, shop_id, sha256
    requested: list[dict[str, Any]] = field(default_factory=list)  # the same keys
    # value, contact_type, shop_id, sha256, entry, waiting (True: `entry` is a request, not yet in force)
    covered: list[dict[str, Any]] = field(default_factory=list)


class Decisions:
    """Decisions, undo and history over one Database; false positives add to `allowlist`."""

    def __init__(self, db: Database, allowlist: AllowList) -> None:
        self.db = db
        self.allowlist = allowlist

    def record(
        self, sha256: str, status: str, *, reviewer: str, note: str | None = None, action: str = "decide"
    ) -> int:
        """Append a decision and set the image's status (it covers every URL the bytes were seen at).
        Returns the decision id."""
        _check_status(status)
        with self.db.write() as conn:
            return self._decide(conn, sha256, status, reviewer, clean_note(note), action)

    def false_positive(
        self,
        values: Mapping[str, Sequence[tuple[str, str | None]]],
        *,
        reviewer: str,
        shop_id: str | None = None,
        note: str | None = None,
    ) -> FalsePositive:
        """ "False positive, and allow-list these values", written once for the web app and the CLI.
        `values`: image sha256 -> (value, contact type) pairs to allow-list. In one transaction, all or
        nothing: each image's decision ("bulk" when several) and a kind "value" entry per pair, linked to
        that decision (undoing it offers to remove them), scoped to `shop_id` - which must be a shop the
        image was seen in (ScopeRefused) - or every shop (None), which unless `reviewer` is an admin makes
        requests that wait for an admin (the decision itself is saved). De-duplicated: a value an active
        entry already allows in that scope (detectors.allowlist's own matching), or that a waiting request
        already asks for, gets no new entry. An entry the allow-list refuses (ValueError, e.g. a QR payload
        over 500 characters) saves nothing."""
        shop_id = shop_id or None
        action = "decide" if len(values) == 1 else "bulk"
        out = FalsePositive()
        said = clean_note(note)
        with self.db.write() as conn:
            active = active_entries(conn)
            ask = needs_approval(conn, reviewer, shop_id)
            waiting = pending_entries(conn) if ask else []
            for sha, pairs in values.items():
                did = self._decide(conn, sha, "false_positive", reviewer, said, action)
                out.decisions[sha] = did
                if (
                    shop_id is not None
                    and not conn.execute(
                        select(exists().where(Source.image_sha256 == sha, Source.shop_id == shop_id))
                    ).scalar()
                ):
                    raise ScopeRefused(
                        f"image {sha[:12]} was not seen in shop {shop_id}: allow-list its values for one of "
                        "its shops, or everywhere"
                    )
                why = f"from the decision on {sha[:12]}" + (f": {said}" if said else "")
                for value, ctype in dict.fromkeys((v.strip(), kind or None) for v, kind in pairs):
                    fact = {"value": value, "contact_type": ctype, "shop_id": shop_id, "sha256": sha}
                    probe = Finding(type=ctype or "", value=value, text="", confidence=0.0, rule="")
                    have = allowed_by(probe, active, shop_id)
                    found = have or allowed_by(probe, waiting, shop_id)
                    if found is not None:
                        out.covered.append({**fact, "entry": found.id, "waiting": have is None})
                        continue
                    try:
                        eid = self.allowlist.append(conn, "value", value, reviewer, ctype, shop_id, why, did)
                    except ValueError as exc:  # rolls the decisions back too
                        what = f"{ctype or 'value'} {value[:40]!r}"
                        raise ValueError(f"cannot allow-list {what}: {exc}") from exc
                    (waiting if ask else active).append(Allowed(eid, "value", value, ctype, shop_id))
                    (out.requested if ask else out.added).append({**fact, "id": eid})
        return out

    def _decide(
        self,
        conn: Connection,
        sha256: str,
        status: str,
        reviewer: str,
        note: str | None,
        action: str,
        undoes: int | None = None,
    ) -> int:
        prev = conn.execute(select(Image.review_status).where(Image.sha256 == sha256)).scalar()
        if prev is None:
            raise DecisionRefused(f"no image {sha256} in the store")
        now = utcnow()
        conn.execute(
            update(Image).where(Image.sha256 == sha256).values(review_status=status, reviewed_at=now)
        )
        return conn.execute(
            self.db.insert(Decision)
            .values(
                image_sha256=sha256,
                status=status,
                reviewer=reviewer,
                note=note,
                decided_at=now,
                action=action,
                previous_status=prev,
                undoes=undoes,
            )
            .returning(Decision.id)
        ).scalar_one()

    def record_many(self, shas: Sequence[str], status: str, *, reviewer: str, note: str | None = None) -> int:
        """One bulk decision over many images, all or nothing. Returns how many images it covered."""
        _check_status(status)
        unique = list(dict.fromkeys(shas))
        with self.db.write() as conn:
            for sha in unique:
                self._decide(conn, sha, status, reviewer, clean_note(note), "bulk")
        return len(unique)

    def undo_last(self, reviewer: str) -> dict[str, Any] | None:
        """Undo `reviewer`'s most recent decision that is not undone yet, by appending a decision back to
        the status it replaced. Refused when someone else changed that image since. None: nothing to undo."""
        undone = aliased(Decision)
        with self.db.write() as conn:
            last = conn.execute(
                select(Decision)
                .where(
                    Decision.reviewer == reviewer,
                    Decision.action != "undo",
                    ~exists().where(undone.undoes == Decision.id),
                )
                .order_by(Decision.id.desc())
                .limit(1)
            ).first()
            if last is None:
                return None
            current = conn.execute(
                select(Image.review_status).where(Image.sha256 == last.image_sha256)
            ).scalar()
            newer = conn.execute(
                select(Decision.reviewer)
                .where(Decision.image_sha256 == last.image_sha256, Decision.id > last.id)
                .order_by(Decision.id.desc())
                .limit(1)
            ).first()
            if current != last.status or (newer is not None and newer[0] != reviewer):
                raise DecisionRefused(
                    f"cannot undo: image {last.image_sha256[:12]} was changed after your decision"
                    + (f" by {newer[0]}" if newer else "")
                )
            back = last.previous_status or "pending"
            did = self._decide(conn, last.image_sha256, back, reviewer, None, "undo", undoes=last.id)
            left = decision_entries(conn, last.id)
        # The allow-list entries the undone decision made stay in force (they may be right on their own):
        # the caller says so and offers AllowList.remove_decision(undone).
        return {
            "id": did,
            "sha256": last.image_sha256,
            "undone": last.id,
            "from": last.status,
            "to": back,
            "allow_entries": left,
        }

    def history(
        self, *, reviewer: str | None = None, sha256: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Decisions, newest first."""
        q = select(Decision)
        if reviewer:
            q = q.where(Decision.reviewer == reviewer)
        if sha256:
            q = q.where(Decision.image_sha256 == sha256)
        with self.db.read() as conn:
            return [
                decision_dict(d)
                for d in conn.execute(q.order_by(Decision.id.desc()).offset(offset).limit(limit))
            ]


def _check_status(status: str) -> None:
    if status not in REVIEW_STATUSES:
        raise ValueError(f"review status {status!r} is not one of {', '.join(REVIEW_STATUSES)}")


def decision_dict(d: Any) -> dict[str, Any]:
    """One decisions row as the history and the detail view show it (its image as "sha256")."""
    rest = ("status", "reviewer", "note", "decided_at", "action", "previous_status", "undoes")
    return {"id": d.id, "sha256": d.image_sha256, **{c: getattr(d, c) for c in rest}}
