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
from store.audit import Audit
from store.database import Database, StoreError
from store.models import Contact, ContactDecision, Decision, Image, Source, utcnow
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

    def __init__(self, db: Database, allowlist: AllowList, audit: Audit | None = None) -> None:
        self.db = db
        self.allowlist = allowlist
        self.audit = audit or Audit(db)

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
        return decide_image(self.db, conn, sha256, status, reviewer, note, action, undoes)

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
        the status it replaced. Refused when someone else changed that image since. None: nothing to undo.
        When that decision was on a contact (store/contacts.py), the whole of it is undone as one action
        (`_undo_contact`)."""
        with self.db.write() as conn:
            last = _newest_not_undone(conn, Decision, reviewer)
            group = _last_contact_decision(conn, reviewer)
            if group is not None and (
                last is None or last.contact_decision_id == group.id or group.decided_at >= last.decided_at
            ):
                return self._undo_contact(conn, group, reviewer)
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

    def _undo_contact(self, conn: Connection, group: Any, reviewer: str) -> dict[str, Any]:
        """Undo a decision on a contact as one action: the contact's status and auto-confirm go back, and
        each image it decided goes back to its previous status, unless someone else decided that image
        since (left as it is and listed in "skipped"). Refused when someone else decided the contact since.
        Audited as contact_undo."""
        undone = aliased(Decision)
        taken_back = conn.execute(
            select(Decision)
            .where(Decision.contact_decision_id == group.id, ~exists().where(undone.undoes == Decision.id))
            .order_by(Decision.image_sha256)
        ).all()
        shas = [d.image_sha256 for d in taken_back]
        if shas:  # images before the contact row, as every writer (store/contacts.py)
            conn.execute(
                select(Image.sha256).where(Image.sha256.in_(shas)).order_by(Image.sha256).with_for_update()
            ).all()
        contact = conn.execute(select(Contact).where(Contact.id == group.contact_id).with_for_update()).one()
        newer = conn.execute(
            select(ContactDecision.reviewer)
            .where(ContactDecision.contact_id == contact.id, ContactDecision.id > group.id)
            .order_by(ContactDecision.id.desc())
            .limit(1)
        ).first()
        if newer is not None and newer[0] != reviewer:
            raise DecisionRefused(f"cannot undo: contact {contact.id} was decided after you by {newer[0]}")
        now = utcnow()
        back_id = conn.execute(
            self.db.insert(ContactDecision)
            .values(
                contact_id=contact.id,
                action="undo",
                decision=group.decision,
                status=group.previous_status,
                previous_status=contact.status,
                auto_confirm=group.previous_auto_confirm,
                previous_auto_confirm=contact.auto_confirm,
                reviewer=reviewer,
                decided_at=now,
                undoes=group.id,
            )
            .returning(ContactDecision.id)
        ).scalar_one()
        conn.execute(
            update(Contact)
            .where(Contact.id == contact.id)
            .values(
                status=group.previous_status,
                auto_confirm=group.previous_auto_confirm,
                decided_by=reviewer,
                decided_at=now,
            )
        )
        images, skipped, left = [], [], []
        for d in taken_back:
            current = conn.execute(select(Image.review_status).where(Image.sha256 == d.image_sha256)).scalar()
            other = conn.execute(
                select(Decision.reviewer)
                .where(Decision.image_sha256 == d.image_sha256, Decision.id > d.id)
                .order_by(Decision.id.desc())
                .limit(1)
            ).first()
            if current != d.status or (other is not None and other[0] != reviewer):
                skipped.append(d.image_sha256)
                continue
            back = d.previous_status or "pending"
            decide_image(
                self.db,
                conn,
                d.image_sha256,
                back,
                reviewer,
                None,
                "undo",
                undoes=d.id,
                contact_decision=back_id,
            )
            images.append(d.image_sha256)
            left += decision_entries(conn, d.id)
        # An allow-list entry the contact decision made stays in force, as after any undo; it is reported
        # under its own key (the image-decision offer to remove entries takes an image decision's id).
        detail = {"undone": group.id, "contact_decision": back_id, "images": len(images), "skipped": skipped}
        self.audit.append(conn, reviewer, "contact_undo", f"contact:{contact.id}", detail)
        return {
            "id": back_id,
            "contact": contact.id,
            "type": contact.type,
            "value": contact.value,
            "sha256": None,
            "undone": group.id,
            "from": group.status,
            "to": group.previous_status,
            "decision": group.decision,
            "images": images,
            "skipped": skipped,
            "allow_entries": [],
            "contact_allow_entries": left,
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


def decide_image(
    db: Database,
    conn: Connection,
    sha256: str,
    status: str,
    reviewer: str,
    note: str | None,
    action: str,
    undoes: int | None = None,
    contact_decision: int | None = None,
) -> int:
    """Append one image decision inside the caller's transaction and set the image's status: the one
    write every decision goes through (single, bulk, undo, a contact's, the known-contact rule's)."""
    prev = conn.execute(select(Image.review_status).where(Image.sha256 == sha256)).scalar()
    if prev is None:
        raise DecisionRefused(f"no image {sha256} in the store")
    now = utcnow()
    conn.execute(update(Image).where(Image.sha256 == sha256).values(review_status=status, reviewed_at=now))
    return conn.execute(
        db.insert(Decision)
        .values(
            image_sha256=sha256,
            status=status,
            reviewer=reviewer,
            note=note,
            decided_at=now,
            action=action,
            previous_status=prev,
            undoes=undoes,
            contact_decision_id=contact_decision,
        )
        .returning(Decision.id)
    ).scalar_one()


def _newest_not_undone(conn: Connection, model: Any, reviewer: str) -> Any:
    """`reviewer`'s newest row of `model` (Decision or ContactDecision) that is not an undo and is not
    undone, or None."""
    undone = aliased(model)
    return conn.execute(
        select(model)
        .where(
            model.reviewer == reviewer,
            model.action != "undo",
            ~exists().where(undone.undoes == model.id),
        )
        .order_by(model.id.desc())
        .limit(1)
    ).first()


def _last_contact_decision(conn: Connection, reviewer: str) -> Any:
    """`reviewer`'s newest decision on a contact that is not undone, or None."""
    return _newest_not_undone(conn, ContactDecision, reviewer)


def _check_status(status: str) -> None:
    if status not in REVIEW_STATUSES:
        raise ValueError(f"review status {status!r} is not one of {', '.join(REVIEW_STATUSES)}")


def decision_dict(d: Any) -> dict[str, Any]:
    """One decisions row as the history and the detail view show it (its image as "sha256")."""
    rest = ("status", "reviewer", "note", "decided_at", "action", "previous_status", "undoes")
    return {"id": d.id, "sha256": d.image_sha256, **{c: getattr(d, c) for c in rest}}
