"""Contacts as entities: each (type, canonical value) a finding carried, across every image, source and
shop it was seen in, and the decisions moderators take on it.

Writes (in the scan's own transaction, store/results.py `save_scan` and `record_source`):
- `link_scan`: a stored result's findings with a value upsert their contacts (INSERT ... ON CONFLICT on
  the unique key, so concurrent workers never make two rows) and link the image (live = a finding the
  allow-list did not excuse; an allowed one links the image but is not pending), then the image's shops.
- `link_sighting`: the same bytes seen again (another URL, maybe another shop) move last_seen and add
  the shop.
- `images` and `shops` on a contact are counters, raised only when a link row was inserted (its INSERT
  ... ON CONFLICT DO NOTHING returned it) and in the same transaction, so a retried or concurrent write
  cannot count twice; they exist so the contacts page sorts by spread with an index instead of
  aggregating every link. Pending images, sources and listings are derived by query for the rows a page
  shows (they change with every decision and sighting; keeping them as counters would put a write on
  the contact row in every decision).
- Lock order, so concurrent writers on PostgreSQL wait instead of deadlocking: an image row before its
  contacts, contacts in key order; a decision on a contact locks its images (hash order) before the
  contact row.

Decisions on a contact (`Contacts.decide`) set its status (violation -> "seller", a known contact;
false positive -> "allowed", with an allow-list entry for its value in every shop, which for anyone but
an admin is a request; escalated -> "escalated") and decide all its pending images in one transaction,
audited as contact_decide; store.decisions' undo takes the whole contact decision back as one action.
A known contact's later images go to the top of the queue with a badge (store/queue.py); with
`auto_confirm` (QQSCAN_KNOWN_CONTACT_AUTO_CONFIRM when the contact was confirmed) they are decided
violation as they are stored, by the reviewer AUTO_REVIEWER, audited as auto_confirm naming the rule.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, case, distinct, exists, func, select, update
from sqlalchemy.orm import aliased

from detectors.allowlist import allowed_by
from detectors.base import Finding
from store.allowlist import AllowList, active_entries, clean_note, pending_entries
from store.audit import Audit
from store.database import Database
from store.decisions import DecisionRefused, decide_image
from store.findings import is_live
from store.models import (
    Contact,
    ContactDecision,
    ContactImage,
    ContactShop,
    Decision,
    Evidence,
    Image,
    Scan,
    Source,
    utcnow,
)
from store.terms import CONTACT_SORTS, CONTACT_STATUSES, CONTACT_TYPES, DECISIONS

# The reviewer named on decisions the known-contact rule takes: it has a space, so no account has it.
AUTO_REVIEWER = "rule known-contact"
AUTO_RULE = "known_contact_auto_confirm"
AUTO_SETTING = "QQSCAN_KNOWN_CONTACT_AUTO_CONFIRM"
# What a decision on a contact makes of the contact.
STATUS_AFTER = {"violation": "seller", "false_positive": "allowed", "escalated": "escalated"}
DIGIT_TYPES = ("qq", "qq_group", "phone")


def canonical(kind: str, value: Any) -> str | None:
    """The value a contact is keyed by: QQ numbers and phones as digits (a mobile without +86/0086),
    a WeChat id lower-cased, anything else trimmed. None: no contact."""
    text = str(value or "").strip()
    if kind in ("qq", "qq_group"):
        text = re.sub(r"\D", "", text)
    elif kind == "phone":
        text = re.sub(r"\D", "", text)
        if text.startswith("0086"):
            text = text[4:]
        elif text.startswith("86") and len(text) == 13 and text[2] == "1":
            text = text[2:]
    elif kind == "wechat":
        text = text.lower()
    return text or None


def plain_digits(text: str) -> str:
    """Every character Unicode gives a digit value (③, ３, ❾, 三, 〇 ...) as its ASCII digit, so a number
    pasted as a listing disguised it finds its contact; ASCII text is returned as it is."""
    if text.isascii():
        return text
    from detectors.normalize import unicode_digits  # built once per process, on the first such search

    table = unicode_digits()
    return "".join(str(table[ord(ch)]) if ord(ch) in table else ch for ch in text)


def contact_key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode("utf-8", "surrogatepass")).hexdigest()


def contacts_in(findings: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], bool]:
    """(type, canonical value) -> live, for the findings with a value; live if any of its findings is."""
    out: dict[tuple[str, str], bool] = {}
    for f in findings:
        kind = str(f.get("type") or "")
        value = canonical(kind, f.get("value"))
        if kind and value is not None:
            out[(kind, value)] = out.get((kind, value), False) or is_live(f)
    return out


def _later(column: Any, new: Any) -> Any:
    return case((column < new, new), else_=column)


# --- writes inside the scan's transaction ---------------------------------------------------------------


def link_scan(
    db: Database, conn: Connection, sha256: str, findings: Sequence[Mapping[str, Any]]
) -> list[int]:
    """A result for `sha256` was stored (new or replaced): its contacts, their links to the image (live as
    this result says; contacts it no longer carries stop being live) and the image's shops. Then the
    known-contact rule. Returns the contact ids."""
    now = utcnow()
    found = sorted(contacts_in(findings).items(), key=lambda kv: contact_key(*kv[0]))
    ids: dict[int, bool] = {}
    for (kind, value), live in found:  # key order: every writer locks shared contacts in the same order
        ins = db.insert(Contact).values(
            key=contact_key(kind, value), type=kind, value=value, first_seen=now, last_seen=now
        )
        cid = conn.execute(
            ins.on_conflict_do_update(
                index_elements=["key"], set_={"last_seen": _later(Contact.last_seen, ins.excluded.last_seen)}
            ).returning(Contact.id)
        ).scalar_one()
        ids[cid] = live
    ci = ContactImage.__table__.c
    stale = update(ContactImage).where(ci.image_sha256 == sha256, ci.live.is_(True))
    if ids:
        stale = stale.where(ci.contact_id.not_in(list(ids)))
    conn.execute(stale.values(live=False))
    for cid, live in ids.items():
        new = conn.execute(
            db.insert(ContactImage)
            .values(contact_id=cid, image_sha256=sha256, live=live, first_seen=now)
            .on_conflict_do_nothing(index_elements=["contact_id", "image_sha256"])
            .returning(ContactImage.contact_id)
        ).first()
        if new is not None:
            conn.execute(update(Contact).where(Contact.id == cid).values(images=Contact.images + 1))
        else:
            conn.execute(
                update(ContactImage)
                .where(ci.contact_id == cid, ci.image_sha256 == sha256, ci.live.is_not(live))
                .values(live=live)
            )
    shops = conn.execute(
        select(Source.shop_id).where(Source.image_sha256 == sha256, Source.shop_id.is_not(None)).distinct()
    ).scalars()
    for shop in sorted(shops):
        _add_shop(db, conn, list(ids), shop, now)
    _known_rule(db, conn, sha256)
    return list(ids)


def link_sighting(db: Database, conn: Connection, sha256: str, shop_id: str | None) -> None:
    """The bytes `sha256` were seen again (a source recorded without a new result): their contacts' last
    seen, and the shop."""
    rows = conn.execute(
        select(Contact.id)
        .join(ContactImage, ContactImage.contact_id == Contact.id)
        .where(ContactImage.image_sha256 == sha256)
        .order_by(Contact.key)
    ).scalars()
    ids = list(rows)
    if not ids:
        return
    now = utcnow()
    for cid in ids:  # key order, as link_scan
        conn.execute(
            update(Contact).where(Contact.id == cid).values(last_seen=_later(Contact.last_seen, now))
        )
    if shop_id:
        _add_shop(db, conn, ids, shop_id, now)


def _add_shop(db: Database, conn: Connection, ids: Sequence[int], shop: str, now: Any) -> None:
    for cid in ids:
        new = conn.execute(
            db.insert(ContactShop)
            .values(contact_id=cid, shop_id=shop, first_seen=now)
            .on_conflict_do_nothing(index_elements=["contact_id", "shop_id"])
            .returning(ContactShop.contact_id)
        ).first()
        if new is not None:
            conn.execute(update(Contact).where(Contact.id == cid).values(shops=Contact.shops + 1))


def _known_rule(db: Database, conn: Connection, sha256: str) -> None:
    """Auto-confirm a pending image that carries (live) a known contact confirmed with auto_confirm."""
    status = conn.execute(select(Image.review_status).where(Image.sha256 == sha256)).scalar()
    if status != "pending":
        return
    known = conn.execute(
        select(Contact.id, Contact.type, Contact.value)
        .join(ContactImage, ContactImage.contact_id == Contact.id)
        .where(
            ContactImage.image_sha256 == sha256,
            ContactImage.live.is_(True),
            Contact.status == "seller",
            Contact.auto_confirm.is_(True),
        )
        .order_by(Contact.id)
        .limit(1)
    ).first()
    if known is None:
        return
    note = f"known contact {known.type} {known.value} (contact {known.id}): {AUTO_RULE}"
    did = decide_image(db, conn, sha256, "violation", AUTO_REVIEWER, note, "auto")
    detail = {"rule": AUTO_RULE, "setting": AUTO_SETTING, "contact": known.id, "decision": did}
    Audit(db).append(conn, AUTO_REVIEWER, "auto_confirm", sha256, detail)


def _pending() -> Any:
    """Image.review_status is "pending", written so that SQLite (no statistics) starts from the contact's
    links rather than from every pending image through ix_images_review_status (40 ms -> 1 ms for a page
    of 50 contacts over 2,000 pending images); PostgreSQL plans the same either way."""
    return func.coalesce(Image.review_status, "") == "pending"


def known_contact() -> Any:
    """WHERE clause: the Image row carries (live) a contact confirmed as a seller's. An IN over the known
    contacts' images, which both backends evaluate once per query, not a correlated EXISTS per queue row
    (SQLite, 2,000 pending: queue page 63 ms with EXISTS, 27 ms with IN, 26 ms without the order)."""
    known = (
        select(ContactImage.image_sha256)
        .join(Contact, Contact.id == ContactImage.contact_id)
        .where(Contact.status == "seller", ContactImage.live.is_(True))
    )
    return Image.sha256.in_(known)


# --- reads and decisions ---------------------------------------------------------------------------------


@dataclass
class ContactPage:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    sort: str = "shops"
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _contact_dict(c: Any) -> dict[str, Any]:
    keys = ("id", "type", "value", "status", "auto_confirm", "decided_by", "decided_at", "first_seen")
    return {
        **{k: getattr(c, k) for k in keys},
        "last_seen": c.last_seen,
        "images": c.images,
        "shops": c.shops,
    }


class Contacts:
    """Contacts over one Database: the pages' reads, search, and decisions on a contact."""

    def __init__(self, db: Database, audit: Audit, allowlist: AllowList) -> None:
        self.db = db
        self.audit = audit
        self.allowlist = allowlist

    # --- reads ------------------------------------------------------------------------------------------

    def _derived(self, conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Per contact: pending images (live link, image pending), sources and listings it was seen at."""
        out = {i: {"pending": 0, "sources": 0, "listings": 0} for i in ids}
        if not ids:
            return out
        ci = ContactImage.__table__.c
        pending = (
            select(ci.contact_id, func.count())
            .join(Image, Image.sha256 == ci.image_sha256)
            .where(ci.contact_id.in_(list(ids)), ci.live.is_(True), _pending())
            .group_by(ci.contact_id)
        )
        for cid, n in conn.execute(pending):
            out[cid]["pending"] = int(n)
        seen = (
            select(ci.contact_id, func.count(distinct(Source.id)), func.count(distinct(Source.listing_id)))
            .join(Source, Source.image_sha256 == ci.image_sha256)
            .where(ci.contact_id.in_(list(ids)))
            .group_by(ci.contact_id)
        )
        for cid, sources, listings in conn.execute(seen):
            out[cid].update(sources=int(sources), listings=int(listings))
        return out

    def page(
        self,
        *,
        sort: str = "shops",
        page: int = 1,
        per_page: int = 50,
        status: str | None = None,
        type: str | None = None,
        shop: str | None = None,
    ) -> ContactPage:
        """Contacts by spread: "shops" (then images), "images" (then shops) or "newest" (last seen)."""
        if sort not in CONTACT_SORTS:
            raise ValueError(f"sort {sort!r} is not one of {', '.join(CONTACT_SORTS)}")
        if status is not None and status not in CONTACT_STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(CONTACT_STATUSES)}")
        page, per_page = max(1, page), max(1, min(per_page, 500))
        q = select(Contact)
        if type:
            q = q.where(Contact.type == type)
        if shop:
            q = q.join(ContactShop, ContactShop.contact_id == Contact.id).where(ContactShop.shop_id == shop)
        counted = q
        if status:
            q = q.where(Contact.status == status)
        order = {
            "shops": (Contact.shops.desc(), Contact.images.desc(), Contact.id.desc()),
            "images": (Contact.images.desc(), Contact.shops.desc(), Contact.id.desc()),
            "newest": (Contact.last_seen.desc(), Contact.id.desc()),
        }[sort]
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(*order).offset((page - 1) * per_page).limit(per_page)).all()
            sub = counted.with_only_columns(Contact.status).subquery()
            counts = dict.fromkeys(CONTACT_STATUSES, 0)
            for st, n in conn.execute(select(sub.c.status, func.count()).group_by(sub.c.status)):
                counts[st] = int(n)
            derived = self._derived(conn, [r.id for r in rows])
        items = [{**_contact_dict(r), **derived[r.id]} for r in rows]
        total = counts.get(status, 0) if status else sum(counts.values())
        return ContactPage(items=items, total=total, page=page, per_page=per_page, sort=sort, counts=counts)

    def get(self, contact_id: int, *, image_limit: int = 200) -> dict[str, Any] | None:
        """One contact with its derived counts, its images (newest link first, each with its status, a
        thumbnail and its shops), its shops, its decisions and a timeline. None if unknown."""
        with self.db.read() as conn:
            c = conn.execute(select(Contact).where(Contact.id == contact_id)).first()
            if c is None:
                return None
            derived = self._derived(conn, [c.id])[c.id]
            ci = ContactImage.__table__.c
            rows = conn.execute(
                select(
                    ci.image_sha256, ci.live, ci.first_seen, Image.review_status, Image.width, Image.height
                )
                .join(Image, Image.sha256 == ci.image_sha256)
                .where(ci.contact_id == c.id)
                .order_by(ci.first_seen.desc(), ci.image_sha256)
                .limit(image_limit)
            ).all()
            shas = [r.image_sha256 for r in rows]
            pictures = _pictures(conn, shas, c.type, c.value)
            shops_of: dict[str, set[str]] = {s: set() for s in shas}
            if shas:
                for sha, shop in conn.execute(
                    select(Source.image_sha256, Source.shop_id).where(
                        Source.image_sha256.in_(shas), Source.shop_id.is_not(None)
                    )
                ):
                    shops_of[sha].add(shop)
            shops = conn.execute(
                select(ContactShop.shop_id, ContactShop.first_seen)
                .where(ContactShop.contact_id == c.id)
                .order_by(ContactShop.first_seen, ContactShop.shop_id)
            ).all()
            decisions = [
                {k: getattr(d, k) for k in ContactDecision.__table__.columns.keys()}  # noqa: SIM118
                for d in conn.execute(
                    select(ContactDecision)
                    .where(ContactDecision.contact_id == c.id)
                    .order_by(ContactDecision.id)
                )
            ]
        images = [
            {
                "sha256": r.image_sha256,
                "live": bool(r.live),
                "linked_at": r.first_seen,
                "review_status": r.review_status,
                "width": r.width,
                "height": r.height,
                "thumb": pictures[r.image_sha256].get("thumb"),
                "closeup": pictures[r.image_sha256].get("closeup"),
                "shops": sorted(shops_of[r.image_sha256]),
            }
            for r in rows
        ]
        timeline: list[dict[str, Any]] = [{"at": c.first_seen, "what": "first seen"}]
        timeline += [{"at": at, "what": f"seen in shop {shop}"} for shop, at in shops]
        timeline += [{"at": i["linked_at"], "what": f"found in image {i['sha256'][:12]}"} for i in images]
        for d in decisions:
            did = (
                "undid a decision" if d["action"] == "undo" else f"decided {d['decision'].replace('_', ' ')}"
            )
            timeline.append(
                {"at": d["decided_at"], "what": f"{d['reviewer']} {did} (contact now {d['status']})"}
            )
        timeline.append({"at": c.last_seen, "what": "last seen"})
        timeline.sort(key=lambda e: e["at"])
        return {
            **_contact_dict(c),
            **derived,
            "image_list": images,
            "shop_list": [{"shop_id": s, "first_seen": at} for s, at in shops],
            "decisions": decisions,
            "timeline": timeline,
        }

    def of_image(self, sha256: str) -> list[dict[str, Any]]:
        """The contacts an image carries (live or allow-listed here), most shops first."""
        q = (
            select(*Contact.__table__.c, ContactImage.live)
            .join(ContactImage, ContactImage.contact_id == Contact.id)
            .where(ContactImage.image_sha256 == sha256)
            .order_by(Contact.shops.desc(), Contact.id)
        )
        with self.db.read() as conn:
            return [{**_contact_dict(r), "live": bool(r.live)} for r in conn.execute(q)]

    def search(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        """Contacts a pasted number or id names: its canonical value under every type (raw digits with
        spaces, dashes or +86 find the QQ number and the phone; disguised digits such as ③⑨①, ３９１ or
        三九一 are read as digits); when none is, values containing it."""
        text = plain_digits((text or "").strip()[:500])
        if not text:
            return []
        keys = {contact_key(kind, v) for kind in (*DIGIT_TYPES, "wechat") if (v := canonical(kind, text))}
        keys |= {contact_key(kind, text) for kind in ("qrcode", "solicitation")}
        with self.db.read() as conn:
            exact = conn.execute(select(Contact).where(Contact.key.in_(keys)).order_by(Contact.id)).all()
            rows = list(exact)
            digits = re.sub(r"\D", "", text)
            needle = digits if len(digits) >= 5 and len(digits) >= len(re.sub(r"\s", "", text)) - 4 else text
            if len(needle) >= 4 and not rows:  # a whole value found is the answer; else values containing it
                like = (
                    "%" + needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                )
                seen = {r.id for r in rows}
                more = conn.execute(
                    select(Contact)
                    .where(func.lower(Contact.value).like(like, escape="\\"))
                    .order_by(Contact.shops.desc(), Contact.id)
                    .limit(limit)
                ).all()
                rows += [r for r in more if r.id not in seen][: limit - len(rows)]
            derived = self._derived(conn, [r.id for r in rows])
        return [{**_contact_dict(r), **derived[r.id]} for r in rows]

    def resolve(self, ref: str) -> int:
        """A contact id from "#12"/"12" (an id), "qq:391287654" (type and value) or a value only one
        contact has. KeyError when none or several match."""
        ref = ref.strip()
        if ref.lstrip("#").isdigit() and ref.startswith("#"):
            return int(ref[1:])
        kind, sep, value = ref.partition(":")
        with self.db.read() as conn:
            if sep and kind in CONTACT_TYPES and (v := canonical(kind, value)):
                cid = conn.execute(select(Contact.id).where(Contact.key == contact_key(kind, v))).scalar()
                if cid is None:
                    raise KeyError(f"no contact {kind} {v}")
                return int(cid)
        found = self.search(ref, limit=3)
        exact = [c for c in found if c["value"] in {canonical(c["type"], ref)}]
        pick = exact or found
        if ref.isdigit() and not pick:
            with self.db.read() as conn:
                if conn.execute(select(Contact.id).where(Contact.id == int(ref))).scalar() is not None:
                    return int(ref)
        if not pick:
            raise KeyError(f"no contact matches {ref!r}")
        if len(pick) > 1:
            names = ", ".join(f"#{c['id']} {c['type']}:{c['value']}" for c in pick)
            raise KeyError(f"several contacts match {ref!r} ({names}): give #id or type:value")
        return int(pick[0]["id"])

    def shop(self, shop_id: str, *, limit: int = 200) -> dict[str, Any]:
        """A shop's contacts (by spread) and the decisions on its images, newest first."""
        contacts = self.page(shop=shop_id, sort="shops", per_page=limit).items
        with self.db.read() as conn:
            in_shop = select(Source.image_sha256).where(
                Source.shop_id == shop_id, Source.image_sha256.is_not(None)
            )
            decisions = [
                {
                    k: getattr(d, k)
                    for k in ("id", "image_sha256", "status", "reviewer", "decided_at", "action")
                }
                for d in conn.execute(
                    select(Decision)
                    .where(Decision.image_sha256.in_(in_shop))
                    .order_by(Decision.id.desc())
                    .limit(limit)
                )
            ]
            sources = conn.execute(
                select(func.count(), func.count(distinct(Source.listing_id))).where(Source.shop_id == shop_id)
            ).one()
        return {
            "shop_id": shop_id,
            "contacts": contacts,
            "decisions": decisions,
            "sources": int(sources[0]),
            "listings": int(sources[1]),
        }

    # --- decisions ------------------------------------------------------------------------------------------

    def decide(
        self,
        contact_id: int,
        decision: str,
        *,
        reviewer: str,
        note: str | None = None,
        auto_confirm: bool = False,
    ) -> dict[str, Any]:
        """Decide a contact and all its pending images (live link, image pending) in one transaction:
        a contact_decisions row, one image decision each pointing at it (undo takes them back together),
        for "false_positive" an allow-list entry for the value in every shop (a request unless `reviewer`
        is an admin; none when an entry or request already covers it), and an audit entry. auto_confirm:
        with "violation", later images carrying it are decided as they are stored (the setting's value)."""
        if decision not in DECISIONS:
            raise ValueError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
        said = clean_note(note)
        auto = bool(auto_confirm) and decision == "violation"
        with self.db.write() as conn:
            ci = ContactImage.__table__.c
            pending = (
                select(ci.image_sha256)
                .join(Image, Image.sha256 == ci.image_sha256)
                .where(ci.contact_id == contact_id, ci.live.is_(True), _pending())
                .order_by(ci.image_sha256)
            )
            shas = list(conn.execute(pending).scalars())
            if shas:  # images before the contact row: the lock order of save_scan
                conn.execute(
                    select(Image.sha256)
                    .where(Image.sha256.in_(shas))
                    .order_by(Image.sha256)
                    .with_for_update()
                ).all()
            c = conn.execute(select(Contact).where(Contact.id == contact_id).with_for_update()).first()
            if c is None:
                raise DecisionRefused(f"no contact #{contact_id} in the store")
            now = utcnow()
            status = STATUS_AFTER[decision]
            cd = conn.execute(
                self.db.insert(ContactDecision)
                .values(
                    contact_id=c.id,
                    action="decide",
                    decision=decision,
                    status=status,
                    previous_status=c.status,
                    auto_confirm=auto,
                    previous_auto_confirm=bool(c.auto_confirm),
                    reviewer=reviewer,
                    note=said,
                    decided_at=now,
                )
                .returning(ContactDecision.id)
            ).scalar_one()
            conn.execute(
                update(Contact)
                .where(Contact.id == c.id)
                .values(status=status, auto_confirm=auto, decided_by=reviewer, decided_at=now)
            )
            # Read again under the contact's lock: a writer links an image only while holding that lock, so
            # every image linked before it is here, and every one linked after sees the new status (the
            # known-contact rule); an image decided meanwhile by someone else has left "pending".
            decided: dict[str, int] = {}
            for sha in conn.execute(pending).scalars().all():
                decided[sha] = decide_image(
                    self.db, conn, sha, decision, reviewer, said, "contact", contact_decision=cd
                )
            entry = None
            covered = None
            if decision == "false_positive":
                probe = Finding(type=c.type, value=c.value, text="", confidence=0.0, rule="")
                have = allowed_by(probe, active_entries(conn)) or allowed_by(probe, pending_entries(conn))
                if have is not None:
                    covered = have.id
                elif len(c.value) <= 500:
                    first = next(iter(decided.values()), None)
                    why = f"from the decision on contact {c.id}" + (f": {said}" if said else "")
                    entry = self.allowlist.append(conn, "value", c.value, reviewer, c.type, None, why, first)
            detail = {
                "type": c.type,
                "value": c.value,
                "decision": decision,
                "contact_decision": cd,
                "images": len(decided),
                "from": c.status,
                "to": status,
            }
            if auto:
                detail["auto_confirm"] = True
            if entry is not None:
                detail["allow_entry"] = entry
            self.audit.append(conn, reviewer, "contact_decide", f"contact:{c.id}", detail)
        return {
            "id": cd,
            "contact": c.id,
            "type": c.type,
            "value": c.value,
            "decision": decision,
            "status": status,
            "previous_status": c.status,
            "auto_confirm": auto,
            "images": sorted(decided),
            "allow_entry": entry,
            "allow_covered": covered,
        }


def _pictures(conn: Connection, shas: Sequence[str], kind: str, value: str) -> dict[str, dict[str, str]]:
    """Per image, from its newest scan: "thumb", the first kept frame, and "closeup", the crop around the
    first finding that carries this contact (the evidence box at thumbnail size)."""
    if not shas:
        return {}
    newer = aliased(Scan)  # the newest-scan anti-join of store.results (which imports this module)
    newest = ~exists().where(newer.image_sha256 == Scan.image_sha256, newer.id > Scan.id)
    scans = {
        row.id: row
        for row in conn.execute(
            select(Scan.id, Scan.image_sha256, Scan.findings).where(Scan.image_sha256.in_(list(shas)), newest)
        )
    }
    out: dict[str, dict[str, str]] = {s: {} for s in shas}
    if not scans:
        return out
    q = (
        select(Evidence.scan_id, Evidence.kind, Evidence.finding, Evidence.blob_sha256)
        .where(Evidence.scan_id.in_(list(scans)))
        .order_by(Evidence.frame.desc())  # the last write per scan wins: its lowest frame
    )
    crops: dict[int, dict[int, str]] = {}
    for scan_id, ev_kind, index, blob in conn.execute(q):
        if ev_kind == "frame":
            out[scans[scan_id].image_sha256]["thumb"] = blob
        else:
            crops.setdefault(scan_id, {})[index] = blob
    for scan_id, row in scans.items():
        for i, f in enumerate(row.findings or []):
            if (
                i in crops.get(scan_id, {})
                and f.get("type") == kind
                and canonical(kind, f.get("value")) == value
            ):
                out[row.image_sha256]["closeup"] = crops[scan_id][i]
                break
    return out
