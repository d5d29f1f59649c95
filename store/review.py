"""ReviewStore: the results store seen from the review side (web app and `qqscan review`): the queue of
flagged images, one image's evidence, decisions with undo, accounts, the allow-list, the audit log.

Everything a person does is appended, never rewritten: decisions (an undo is a new row that points at the
one it undoes), allow-list removals (a timestamp on the entry), logins and account changes (audit rows).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from detectors.allowlist import KINDS as ALLOW_KINDS
from detectors.allowlist import Allowed, allowed_by
from detectors.base import Finding
from store.database import StoreError
from store.findings import is_live, live_findings
from store.models import (
    ROLES,
    AllowEntry,
    AuditEntry,
    Blob,
    Decision,
    Evidence,
    Image,
    ReviewSession,
    Scan,
    Setting,
    Source,
    User,
    utcnow,
)
from store.results import Store, _source_dict, newest_scan
from store.terms import REVIEW_STATUSES

SORTS = ("newest", "confidence")
# Dates a queue filter accepts: "until" is read as "before the next day", which 9999-12-31 does not have.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the user does not exist, so a login for an unknown name costs the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class UserExists(StoreError):
    pass


class DecisionRefused(StoreError):
    """A decision or undo that cannot apply (unknown image, status changed by someone else)."""


class ScopeRefused(ValueError):
    """An allow-list scope (a shop) that is not one of the decided image's shops."""


@dataclass
class FalsePositive:
    """What decide_false_positive wrote: the decision per image, the allow-list entries added, and the
    values left out because an active entry already allows them in that scope (with that entry's id)."""

    decisions: dict[str, int] = field(default_factory=dict)
    added: list[dict[str, Any]] = field(default_factory=list)  # id, value, contact_type, shop_id, sha256
    covered: list[dict[str, Any]] = field(default_factory=list)  # value, contact_type, shop_id, entry, sha256


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: str
    disabled: bool
    # Changes whenever the password does (derived from its hash, which it does not reveal): a session made
    # under the old password compares it and ends.
    credential: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class QueueFilter:
    """The queue's filters; None = any. `since`/`until` are scan dates (UTC), both inclusive."""

    status: str | None = "pending"
    type: str | None = None
    rule: str | None = None
    shop: str | None = None
    since: date | None = None
    until: date | None = None
    sort: str = "newest"

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            day = getattr(self, name)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise ValueError(
                    f"{name} {day.isoformat()} is out of range: give a date from {FIRST_DAY} to {LAST_DAY}"
                )
        if self.status is not None and self.status not in REVIEW_STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(REVIEW_STATUSES)}")
        if self.sort not in SORTS:
            raise ValueError(f"sort {self.sort!r} is not one of {', '.join(SORTS)}")


@dataclass
class QueuePage:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)  # review status -> images, under the other filters

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _split(csv: str | None) -> list[str]:
    return [x for x in (csv or "").split(",") if x]


class ReviewStore(Store):
    # --- accounts -------------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, role: str = "moderator") -> UserInfo:
        name = name.strip()
        if not name or len(name) > 64 or any(c.isspace() for c in name):
            raise ValueError("user name must be 1-64 characters without spaces")
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise ValueError("password must be at least 8 characters")
        with self.db.write() as conn:
            if conn.execute(select(User.id).where(User.name == name)).first():
                raise UserExists(f"user {name!r} already exists")
            uid = conn.execute(
                self.db.insert(User)
                .values(
                    name=name,
                    password_hash=_hasher.hash(password),
                    role=role,
                    disabled=False,
                    created_at=utcnow(),
                )
                .returning(User.id)
            ).scalar_one()
            self._audit(conn, "cli", "user_add", name, {"role": role})
        return UserInfo(uid, name, role, False)

    def set_password(self, name: str, password: str, *, actor: str = "cli") -> None:
        if len(password) < 8:
            raise ValueError("password must be at least 8 characters")
        with self.db.write() as conn:
            n = conn.execute(
                update(User).where(User.name == name).values(password_hash=_hasher.hash(password))
            ).rowcount
            if not n:
                raise KeyError(f"no user {name!r}")
            self._end_all(conn, name)  # a new password ends every session made with the old one
            self._audit(conn, actor, "user_password", name, None)

    def set_disabled(self, name: str, disabled: bool, *, actor: str = "cli") -> None:
        with self.db.write() as conn:
            n = conn.execute(update(User).where(User.name == name).values(disabled=disabled)).rowcount
            if not n:
                raise KeyError(f"no user {name!r}")
            if disabled:
                self._end_all(conn, name)
            self._audit(conn, actor, "user_disable" if disabled else "user_enable", name, None)

    @staticmethod
    def _end_all(conn: Any, name: str) -> None:
        uid = select(User.id).where(User.name == name).scalar_subquery()
        conn.execute(delete(ReviewSession).where(ReviewSession.user_id == uid))

    def verify_user(self, name: str, password: str) -> UserInfo | None:
        """The user when the password is right and the account enabled; None otherwise (same cost)."""
        with self.db.read() as conn:
            row = conn.execute(select(User).where(User.name == name)).first()
        stored = row.password_hash if row else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        if _hasher.check_needs_rehash(stored):  # parameters moved on since the hash was made
            stored = _hasher.hash(password)
            with self.db.write() as conn:
                conn.execute(update(User).where(User.id == row.id).values(password_hash=stored))
        return UserInfo(row.id, row.name, row.role, row.disabled, _credential(stored))

    def get_user(self, user_id: int) -> UserInfo | None:
        with self.db.read() as conn:
            row = conn.execute(select(User).where(User.id == user_id)).first()
        return (
            UserInfo(row.id, row.name, row.role, row.disabled, _credential(row.password_hash))
            if row
            else None
        )

    def users(self) -> list[UserInfo]:
        with self.db.read() as conn:
            return [
                UserInfo(r.id, r.name, r.role, r.disabled)
                for r in conn.execute(select(User).order_by(User.id))
            ]

    # --- sessions (migration 0004) ---------------------------------------------------------------------

    def start_session(
        self, user_id: int, *, hours: float, ip: str | None = None, user_agent: str | None = None
    ) -> str:
        """A new login session for `user_id`, valid for `hours` unless ended sooner. Returns the token the
        cookie carries (only its hash is stored). Also forgets sessions that have expired."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.write() as conn:
            conn.execute(delete(ReviewSession).where(ReviewSession.expires_at < now))
            conn.execute(
                self.db.insert(ReviewSession).values(
                    id=_token_digest(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + timedelta(hours=hours),
                    ip=ip[:64] if ip else None,
                    user_agent=user_agent[:200] if user_agent else None,
                )
            )
        return token

    def session_user(self, user_id: int, token: str | None) -> UserInfo | None:
        """The user of a live session: the token's row exists, is the user's and has not expired. None
        for a logged-out, ended, expired or foreign token (or none)."""
        if not token or not isinstance(token, str):
            return None
        with self.db.read() as conn:
            row = conn.execute(
                select(User)
                .join(ReviewSession, ReviewSession.user_id == User.id)
                .where(
                    ReviewSession.id == _token_digest(token),
                    User.id == user_id,
                    ReviewSession.expires_at > utcnow(),
                )
            ).first()
        if row is None:
            return None
        return UserInfo(row.id, row.name, row.role, row.disabled, _credential(row.password_hash))

    def end_session(self, token: str | None) -> bool:
        """Logout: the token stops working everywhere at once (a copied cookie too)."""
        if not token or not isinstance(token, str):
            return False
        with self.db.write() as conn:
            n = conn.execute(delete(ReviewSession).where(ReviewSession.id == _token_digest(token))).rowcount
        return bool(n)

    def end_sessions(self, name: str, *, actor: str, session_id: str | None = None) -> int:
        """Log `name` out everywhere (or end one of their sessions, by its id as `sessions()` lists it).
        Returns how many sessions ended; KeyError for an unknown user."""
        with self.db.write() as conn:
            uid = conn.execute(select(User.id).where(User.name == name)).scalar()
            if uid is None:
                raise KeyError(f"no user {name!r}")
            q = delete(ReviewSession).where(ReviewSession.user_id == uid)
            if session_id is not None:
                q = q.where(ReviewSession.id == session_id)
            n = int(conn.execute(q).rowcount or 0)
            detail = {"sessions": n} | ({"session": session_id[:12]} if session_id else {})
            self._audit(conn, actor, "sessions_end", name, detail)
        return n

    def sessions(self) -> list[dict[str, Any]]:
        """Live sessions, newest first: id (the token's hash, not the token), user, from where, until when."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    ReviewSession.id,
                    User.name.label("user"),
                    ReviewSession.created_at,
                    ReviewSession.expires_at,
                    ReviewSession.ip,
                    ReviewSession.user_agent,
                )
                .join(User, User.id == ReviewSession.user_id)
                .where(ReviewSession.expires_at > utcnow())
                .order_by(ReviewSession.created_at.desc(), ReviewSession.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    @staticmethod
    def session_id(token: str) -> str:
        """The id under which `sessions()` lists the session a cookie's token belongs to."""
        return _token_digest(token)

    # --- settings -------------------------------------------------------------------------------------

    def secret_key(self) -> str:
        """The session-signing secret shared by every review server on this store: made once, kept, so a
        restart (or a second server process) keeps moderators logged in."""
        with self.db.write() as conn:
            conn.execute(
                self.db.insert(Setting)
                .values(key="session_secret", value=secrets.token_urlsafe(48))
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return conn.execute(select(Setting.value).where(Setting.key == "session_secret")).scalar_one()

    # --- the queue ------------------------------------------------------------------------------------

    def _latest_flagged(self) -> Select[Any]:
        """(Scan, Image) for each image's newest scan, where that scan flagged it."""
        return (
            select(Scan, Image)
            .join(Image, Image.sha256 == Scan.image_sha256)
            .where(newest_scan(), Scan.flagged.is_(True))
        )

    def _filtered(self, q: Select[Any], f: QueueFilter, *, with_status: bool = True) -> Select[Any]:
        if with_status and f.status is not None:
            q = q.where(Image.review_status == f.status)
        if f.type:
            q = q.where(Scan.finding_types.like(f"%,{_like_literal(f.type)},%", escape="\\"))
        if f.rule:
            q = q.where(Scan.finding_rules.like(f"%,{_like_literal(f.rule)},%", escape="\\"))
        if f.shop:
            q = q.where(exists().where(Source.image_sha256 == Image.sha256, Source.shop_id == f.shop))
        if f.since:
            q = q.where(Scan.created_at >= _day_start(f.since))
        if f.until:
            q = q.where(Scan.created_at < _day_start(f.until + timedelta(days=1)))
        return q

    @staticmethod
    def _order(q: Select[Any], sort: str) -> Select[Any]:
        if sort == "confidence":
            return q.order_by(Scan.max_confidence.desc(), Scan.id.desc())
        return q.order_by(Scan.id.desc())  # ids grow with insertion: newest scan first

    def queue(self, f: QueueFilter | None = None, *, page: int = 1, per_page: int = 50) -> QueuePage:
        f = f or QueueFilter()
        page, per_page = max(1, page), max(1, min(per_page, 500))
        base = self._filtered(self._latest_flagged(), f)
        with self.db.read() as conn, Session(conn) as session:
            total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
            rows = session.execute(
                self._order(base, f.sort).offset((page - 1) * per_page).limit(per_page)
            ).all()
            items = self._queue_items(conn, rows)
            counts = self._counts(conn, f)
        return QueuePage(items=items, total=int(total), page=page, per_page=per_page, counts=counts)

    def _counts(self, conn: Any, f: QueueFilter) -> dict[str, int]:
        sub = self._filtered(self._latest_flagged(), f, with_status=False).subquery()
        counts = dict.fromkeys(REVIEW_STATUSES, 0)
        for status, n in conn.execute(
            select(sub.c.review_status, func.count()).group_by(sub.c.review_status)
        ):
            counts[status] = int(n)
        return counts

    def _queue_items(self, conn: Any, rows: Sequence[Any]) -> list[dict[str, Any]]:
        shas = [r.Image.sha256 for r in rows]
        sources: dict[str, list[Any]] = {s: [] for s in shas}
        thumbs: dict[int, str] = {}
        crops: dict[int, dict[int, str]] = {}
        if shas:
            q = select(Source).where(Source.image_sha256.in_(shas)).order_by(Source.id)
            for s in conn.execute(q):
                sources[s.image_sha256].append(s)
            scan_ids = [r.Scan.id for r in rows]
            eq = (
                select(Evidence.scan_id, Evidence.blob_sha256)
                .where(Evidence.scan_id.in_(scan_ids), Evidence.kind == "frame")
                .order_by(Evidence.frame.desc())  # the last write per scan wins: the lowest frame
            )
            for scan_id, blob in conn.execute(eq):
                thumbs[scan_id] = blob
            # the crops around findings: a queue row shows the first counting finding's close-up, which
            # at row height says more than a whole page shrunk to a stamp
            cq = select(Evidence.scan_id, Evidence.finding, Evidence.blob_sha256).where(
                Evidence.scan_id.in_(scan_ids), Evidence.kind == "crop"
            )
            for scan_id, index, blob in conn.execute(cq):
                crops.setdefault(scan_id, {})[index] = blob
        out = []
        for r in rows:
            scan, image = r.Scan, r.Image
            srcs = sources[image.sha256]
            live = live_findings(scan.findings)
            kept = crops.get(scan.id, {})
            findings = scan.findings or []
            closeup = next((kept[i] for i, f in enumerate(findings) if i in kept and is_live(f)), None)
            out.append(
                {
                    "sha256": image.sha256,
                    "scan_id": scan.id,
                    "scanned_at": scan.created_at,
                    "review_status": image.review_status,
                    "reviewed_at": image.reviewed_at,
                    "max_confidence": scan.max_confidence,
                    "types": _split(scan.finding_types),
                    "rules": _split(scan.finding_rules),
                    "findings": live,
                    "width": image.width,
                    "height": image.height,
                    "format": image.format,
                    "frames": image.frames,
                    "url": srcs[0].url if srcs else scan.source,
                    "sources": len(srcs),
                    "shops": sorted({s.shop_id for s in srcs if s.shop_id}),
                    "thumb": thumbs.get(scan.id),
                    "closeup": closeup,
                }
            )
        return out

    def neighbour(self, sha256: str, f: QueueFilter, direction: int) -> str | None:
        """The image after (direction=1) or before (-1) `sha256` in the queue's order under `f`, even when
        `sha256` itself no longer matches (it was just decided and left the pending queue)."""
        with self.db.read() as conn:
            cur = conn.execute(
                self._latest_flagged()
                .where(Image.sha256 == sha256)
                .with_only_columns(Scan.id, Scan.max_confidence)
            ).first()
            if cur is None:
                return None
            q = self._filtered(self._latest_flagged(), f).where(Image.sha256 != sha256)
            conf = cur.max_confidence or 0.0
            if f.sort == "confidence":
                c = func.coalesce(Scan.max_confidence, 0.0)
                after = or_(c < conf, and_(c == conf, Scan.id < cur.id))
                before = or_(c > conf, and_(c == conf, Scan.id > cur.id))
                order = (c.desc(), Scan.id.desc()) if direction > 0 else (c.asc(), Scan.id.asc())
            else:
                after, before = Scan.id < cur.id, Scan.id > cur.id
                order = (Scan.id.desc(),) if direction > 0 else (Scan.id.asc(),)
            q = q.where(after if direction > 0 else before).order_by(None).order_by(*order).limit(1)
            row = conn.execute(q.with_only_columns(Image.sha256)).first()
            return row[0] if row else None

    def rules_in_use(self) -> list[str]:
        """Distinct rules over flagged scans, for the queue's rule filter."""
        with self.db.read() as conn:
            q = select(Scan.finding_rules).where(Scan.flagged.is_(True)).distinct()
            return sorted({r for (csv,) in conn.execute(q) for r in _split(csv)})

    def shops_in_use(self, limit: int = 500) -> list[str]:
        with self.db.read() as conn:
            q = select(Source.shop_id).where(Source.shop_id.is_not(None)).distinct().order_by(Source.shop_id)
            return [s for (s,) in conn.execute(q.limit(limit))]

    # --- one image ------------------------------------------------------------------------------------

    def item(self, sha256: str) -> dict[str, Any] | None:
        """Everything the detail view shows for one image: its newest scan (findings numbered as stored,
        lines), the kept frames and crops, every source, the decision history. None if unknown."""
        with self.db.read() as conn:
            image = conn.execute(select(Image).where(Image.sha256 == sha256)).first()
            if image is None:
                return None
            scan = conn.execute(
                select(Scan).where(Scan.image_sha256 == sha256).order_by(Scan.id.desc()).limit(1)
            ).first()
            evidence = (
                conn.execute(
                    select(Evidence, Blob.width, Blob.height, Blob.content_type)
                    .join(Blob, Blob.sha256 == Evidence.blob_sha256)
                    .where(Evidence.scan_id == scan.id)
                    .order_by(Evidence.kind, Evidence.frame, Evidence.finding)
                ).all()
                if scan
                else []
            )
            sources = [
                _source_dict(s)
                for s in conn.execute(select(Source).where(Source.image_sha256 == sha256).order_by(Source.id))
            ]
            decisions = [
                _decision_dict(d)
                for d in conn.execute(
                    select(Decision).where(Decision.image_sha256 == sha256).order_by(Decision.id)
                )
            ]
        frames, crops = [], {}
        for ev in evidence:
            kept = {
                "blob": ev.blob_sha256,
                "frame": ev.frame,
                "width": ev.width,
                "height": ev.height,
                "content_type": ev.content_type,
                "scale": ev.scale,
                "x0": ev.x0,
                "y0": ev.y0,
            }
            if ev.kind == "frame":
                frames.append(kept)
            else:
                crops[ev.finding] = kept
        findings = []
        for i, f in enumerate((scan.findings if scan else None) or []):
            findings.append({**f, "index": i, "crop": crops.get(i)})
        return {
            "sha256": image.sha256,
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "frames_total": image.frames,
            "bytes": image.bytes,
            "first_seen": image.first_seen,
            "review_status": image.review_status,
            "reviewed_at": image.reviewed_at,
            "scan": None
            if scan is None
            else {
                "id": scan.id,
                "rules_version": scan.rules_version,
                "engine_version": scan.engine_version,
                "scanned_at": scan.created_at,
                "ms": scan.ms,
                "error": scan.error,
                "flagged": scan.flagged,
                "lines": scan.lines or [],
            },
            "findings": findings,
            "frames": frames,
            "sources": sources,
            "decisions": decisions,
        }

    def resolve(self, prefix: str) -> str:
        """The full sha256 of the one image whose hash starts with `prefix` (at least 6 hex digits), for
        the terminal commands. KeyError when none or several match."""
        prefix = prefix.strip().lower()
        if len(prefix) < 6 or any(c not in "0123456789abcdef" for c in prefix):
            raise KeyError(f"{prefix!r} is not an image hash or a prefix of at least 6 hex digits")
        with self.db.read() as conn:
            found = [
                s
                for (s,) in conn.execute(select(Image.sha256).where(Image.sha256.startswith(prefix)).limit(2))
            ]
        if not found:
            raise KeyError(f"no image whose hash starts with {prefix}")
        if len(found) > 1:
            raise KeyError(f"several images start with {prefix}: give more digits")
        return found[0]

    def blob(self, sha256: str) -> tuple[str, bytes] | None:
        """(content type, bytes) of a kept picture, or None."""
        with self.db.read() as conn:
            row = conn.execute(select(Blob.content_type, Blob.data).where(Blob.sha256 == sha256)).first()
        return (row[0], bytes(row[1])) if row else None

    # --- decisions ------------------------------------------------------------------------------------

    def record_decision(
        self, sha256: str, status: str, *, reviewer: str, note: str | None = None, action: str = "decide"
    ) -> int:
        """Append a decision and set the image's status (it covers every URL the bytes were seen at).
        Returns the decision id."""
        if status not in REVIEW_STATUSES:
            raise ValueError(f"review status {status!r} is not one of {', '.join(REVIEW_STATUSES)}")
        with self.db.write() as conn:
            return self._decide(conn, sha256, status, reviewer, _clean_note(note), action)

    def decide_false_positive(
        self,
        values: Mapping[str, Sequence[tuple[str, str | None]]],
        *,
        reviewer: str,
        shop_id: str | None = None,
        note: str | None = None,
    ) -> FalsePositive:
        """"False positive, and allow-list these values", written once for the web app and the CLI.
        `values`: image sha256 -> (value, contact type) pairs to allow-list. In one transaction, all or
        nothing: each image's decision ("bulk" when several) and a kind "value" entry per pair, linked to
        that decision (undoing it offers to remove them), scoped to `shop_id` - which must be a shop the
        image was seen in (ScopeRefused) - or every shop (None). De-duplicated: a value an active entry
        already allows in that scope (detectors.allowlist's own matching) gets no new entry. An entry the
        allow-list refuses (ValueError, e.g. a QR payload over 500 characters) saves nothing."""
        shop_id = shop_id or None
        action = "decide" if len(values) == 1 else "bulk"
        out = FalsePositive()
        t = AllowEntry.__table__.c
        with self.db.write() as conn:
            active = [
                Allowed(*row)
                for row in conn.execute(
                    select(t.id, t.kind, t.value, t.contact_type, t.shop_id)
                    .where(t.removed_at.is_(None))
                    .order_by(t.id)
                )
            ]
            for sha, pairs in values.items():
                did = self._decide(conn, sha, "false_positive", reviewer, _clean_note(note), action)
                out.decisions[sha] = did
                if shop_id is not None and not conn.execute(
                    select(exists().where(Source.image_sha256 == sha, Source.shop_id == shop_id))
                ).scalar():
                    raise ScopeRefused(
                        f"image {sha[:12]} was not seen in shop {shop_id}: allow-list its values for one of "
                        "its shops, or everywhere"
                    )
                said = _clean_note(note)
                why = f"from the decision on {sha[:12]}" + (f": {said}" if said else "")
                for value, ctype in dict.fromkeys((v.strip(), kind or None) for v, kind in pairs):
                    fact = {"value": value, "contact_type": ctype, "shop_id": shop_id, "sha256": sha}
                    probe = Finding(type=ctype or "", value=value, text="", confidence=0.0, rule="")
                    have = allowed_by(probe, active, shop_id)
                    if have is not None:
                        out.covered.append({**fact, "entry": have.id})
                        continue
                    try:
                        eid = self._add_allow(conn, "value", value, reviewer, ctype, shop_id, why, did)
                    except ValueError as exc:  # rolls the decisions back too
                        what = f"{ctype or 'value'} {value[:40]!r}"
                        raise ValueError(f"cannot allow-list {what}: {exc}") from exc
                    active.append(Allowed(eid, "value", value, ctype, shop_id))
                    out.added.append({**fact, "id": eid})
        return out

    def _decide(
        self,
        conn: Any,
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

    def decide_many(self, shas: Sequence[str], status: str, *, reviewer: str, note: str | None = None) -> int:
        """One bulk decision over many images, all or nothing. Returns how many images it covered."""
        if status not in REVIEW_STATUSES:
            raise ValueError(f"review status {status!r} is not one of {', '.join(REVIEW_STATUSES)}")
        unique = list(dict.fromkeys(shas))
        with self.db.write() as conn:
            for sha in unique:
                self._decide(conn, sha, status, reviewer, _clean_note(note), "bulk")
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
            left = [
                _allow_dict(r)
                for r in conn.execute(
                    select(AllowEntry)
                    .where(AllowEntry.decision_id == last.id, AllowEntry.removed_at.is_(None))
                    .order_by(AllowEntry.id)
                )
            ]
        # The allow-list entries the undone decision made stay in force (they may be right on their own):
        # the caller says so and offers remove_decision_allow(undone).
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
                _decision_dict(d)
                for d in conn.execute(q.order_by(Decision.id.desc()).offset(offset).limit(limit))
            ]

    # --- audit ----------------------------------------------------------------------------------------

    def _audit(
        self, conn: Any, actor: str, action: str, target: str | None, detail: dict[str, Any] | None
    ) -> None:
        conn.execute(
            self.db.insert(AuditEntry).values(
                at=utcnow(), actor=actor, action=action, target=target, detail=detail
            )
        )

    def audit(
        self, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        with self.db.write() as conn:
            self._audit(conn, actor, action, target, detail)

    def audit_log(
        self, *, actor: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
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

    # --- allow-list -----------------------------------------------------------------------------------

    def add_allow(
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
            return self._add_allow(conn, kind, value, created_by, contact_type, shop_id, note, decision_id)

    def _add_allow(
        self,
        conn: Any,
        kind: str,
        value: str,
        created_by: str,
        contact_type: str | None,
        shop_id: str | None,
        note: str | None,
        decision_id: int | None,
    ) -> int:
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
                note=_clean_note(note),
                created_by=created_by,
                created_at=utcnow(),
                decision_id=decision_id,
            )
            .returning(AllowEntry.id)
        ).scalar_one()
        detail = {"kind": kind, "value": value, "contact_type": contact_type, "shop_id": shop_id}
        if decision_id is not None:
            detail["decision"] = decision_id
        self._audit(conn, created_by, "allow_add", str(eid), detail)
        return int(eid)

    def decision_allow_entries(self, decision_id: int) -> list[dict[str, Any]]:
        """The allow-list entries a decision made that are still in force."""
        with self.db.read() as conn:
            return [
                _allow_dict(r)
                for r in conn.execute(
                    select(AllowEntry)
                    .where(AllowEntry.decision_id == decision_id, AllowEntry.removed_at.is_(None))
                    .order_by(AllowEntry.id)
                )
            ]

    def remove_decision_allow(self, decision_id: int, *, removed_by: str, admin: bool = False) -> list[int]:
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
            ids = [
                int(i)
                for (i,) in conn.execute(
                    select(AllowEntry.id)
                    .where(AllowEntry.decision_id == decision_id, AllowEntry.removed_at.is_(None))
                    .order_by(AllowEntry.id)
                )
            ]
            for eid in ids:
                conn.execute(
                    update(AllowEntry)
                    .where(AllowEntry.id == eid)
                    .values(removed_at=utcnow(), removed_by=removed_by)
                )
                self._audit(conn, removed_by, "allow_remove", str(eid), {"decision": decision_id})
        return ids

    def remove_allow(self, entry_id: int, *, removed_by: str) -> bool:
        with self.db.write() as conn:
            n = conn.execute(
                update(AllowEntry)
                .where(AllowEntry.id == entry_id, AllowEntry.removed_at.is_(None))
                .values(removed_at=utcnow(), removed_by=removed_by)
            ).rowcount
            if n:
                self._audit(conn, removed_by, "allow_remove", str(entry_id), None)
        return bool(n)

    def allow_entries(self, *, include_removed: bool = False) -> list[dict[str, Any]]:
        q = select(AllowEntry)
        if not include_removed:
            q = q.where(AllowEntry.removed_at.is_(None))
        with self.db.read() as conn:
            return [_allow_dict(r) for r in conn.execute(q.order_by(AllowEntry.id))]

    # --- export ---------------------------------------------------------------------------------------

    def violations(self, *, since: date | None = None) -> Iterator[dict[str, Any]]:
        """Confirmed violations for enforcement: one row per (source URL, finding that counts), with who
        decided and when. Images decided "violation" by their latest decision; oldest decision first."""
        last = aliased(Decision)
        q = (
            select(Image, Scan, Decision)
            .join(Scan, Scan.image_sha256 == Image.sha256)
            .join(Decision, Decision.image_sha256 == Image.sha256)
            .where(Image.review_status == "violation")
            .where(~exists().where(last.image_sha256 == Image.sha256, last.id > Decision.id))
            .where(newest_scan())
            .order_by(Decision.id)
        )
        if since:
            q = q.where(Decision.decided_at >= _day_start(since))
        with self.db.read() as conn, Session(conn) as session:
            rows = session.execute(q).all()
            shas = [r.Image.sha256 for r in rows]
            sources: dict[str, list[Any]] = {s: [] for s in shas}
            if shas:
                for s in conn.execute(
                    select(Source).where(Source.image_sha256.in_(shas)).order_by(Source.id)
                ):
                    sources[s.image_sha256].append(s)
        for r in rows:
            findings = live_findings(r.Scan.findings)
            for src in sources[r.Image.sha256] or [None]:
                for f in findings:
                    yield {
                        "sha256": r.Image.sha256,
                        "decided_at": r.Decision.decided_at.isoformat(),
                        "reviewer": r.Decision.reviewer,
                        "note": r.Decision.note,
                        "url": src.url if src else r.Scan.source,
                        "listing_id": src.listing_id if src else None,
                        "shop_id": src.shop_id if src else None,
                        "page_url": src.page_url if src else None,
                        "type": f.get("type"),
                        "value": f.get("value"),
                        "text": f.get("text"),
                        "rule": f.get("rule"),
                        "confidence": f.get("confidence"),
                        "rules_version": r.Scan.rules_version,
                    }


def _like_literal(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace(",", "")


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _credential(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    return note[:2000] or None


def _allow_dict(r: Any) -> dict[str, Any]:
    return {c: getattr(r, c) for c in AllowEntry.__table__.columns.keys()}  # noqa: SIM118


def _decision_dict(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "sha256": d.image_sha256,
        "status": d.status,
        "reviewer": d.reviewer,
        "note": d.note,
        "decided_at": d.decided_at,
        "action": d.action,
        "previous_status": d.previous_status,
        "undoes": d.undoes,
    }
