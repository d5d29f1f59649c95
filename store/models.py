"""Results-store tables (SQLAlchemy 2 typed ORM). Change them only together with a migration in
store/migrations/versions: the store refuses to run on a schema it does not know.

images     one row per distinct bytes (sha256), with the moderators' review status
sources    where bytes were seen: one row per URL (or file path); a URL that failed before any bytes has
           an error and no image
scans      one OCR + detection result per (image, rules_version): a rescan under new rules adds a row
decisions  append-only log of moderators' decisions (who, what, when, note); an undo is a new row
blobs, evidence   rendered frames and crops kept at scan time for review (content-addressed)
users, allowlist, audit, settings   the review app's accounts, feedback into detection (entries for every
           shop asked for by a moderator wait for an admin), audit log
contacts, contact_images, contact_shops, contact_decisions   (0007) each canonical contact value found, the
           images and shops it was seen in, and the decisions taken on it (store/contacts.py)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Named constraints, so migrations can refer to them on every backend (SQLite's batch mode needs names).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite; None is SQL NULL, not JSON null.
JsonType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# SQLite has only INTEGER PRIMARY KEY as an auto-increment key; BIGINT would not auto-increment there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite stores naive text, so the zone is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Image(Base):
    __tablename__ = "images"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(16))
    frames: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    review_status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(
            "review_status IN ('pending', 'violation', 'false_positive', 'escalated')", name="review_status"
        ),
        Index("ix_images_review_status", "review_status"),
    )


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # URLs can be longer than a btree index entry allows on PostgreSQL; the unique key is their sha256.
    url_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)
    image_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("images.sha256", ondelete="CASCADE"), index=True
    )
    listing_id: Mapped[str | None] = mapped_column(String(128))
    # indexed for a shop's pages and the queue's shop filter (migration 0010)
    shop_id: Mapped[str | None] = mapped_column(String(128), index=True)
    page_url: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Scan(Base):
    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    image_sha256: Mapped[str] = mapped_column(ForeignKey("images.sha256", ondelete="CASCADE"))
    rules_version: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str | None] = mapped_column(Text)  # what the scan read: URL or file path
    lines: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    findings: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    ms: Mapped[int | None] = mapped_column(Integer)  # total scan time
    timings: Mapped[dict[str, Any] | None] = mapped_column(JsonType)  # per-stage ms, when the scan gave them
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Denormalised from findings (not allowed ones) for the review queue's filters and sort, portable across
    # SQLite and PostgreSQL: ",qq,phone," and ",qq.keyword,phone.plain," so a filter is a LIKE '%,qq,%'.
    finding_types: Mapped[str | None] = mapped_column(Text)
    finding_rules: Mapped[str | None] = mapped_column(Text)
    max_confidence: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        # At most one result per image and rules version: a retried job cannot store a second one.
        UniqueConstraint("image_sha256", "rules_version", name="uq_scans_image_rules"),
        Index("ix_scans_created_at", "created_at"),
        Index("ix_scans_flagged", "flagged"),
    )


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    image_sha256: Mapped[str] = mapped_column(ForeignKey("images.sha256", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # 0002: "decide" | "bulk" | "undo"; the status before this row, so an undo appends the way back
    action: Mapped[str] = mapped_column(String(8), default="decide", server_default="decide")
    previous_status: Mapped[str | None] = mapped_column(String(16))
    undoes: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    # 0007: the decision on a contact this image decision is part of (its undo undoes them together)
    contact_decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_decisions.id"), index=True
    )

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'violation', 'false_positive', 'escalated')", name="status"),
        Index("ix_decisions_reviewer", "reviewer", "id"),
    )


# --- review (migration 0002) ----------------------------------------------------------------------------


class Blob(Base):
    """Evidence bytes, content-addressed: a rendered frame or a zoomed crop, kept so review works after the
    listing URL is dead. In the database (not on a disk) so workers on many machines need no shared folder."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Evidence(Base):
    """What a scan kept for review: "frame" renderings (the decoded frame, maybe scaled down) and "crop"s
    around each finding. scale = blob pixels per image pixel; (x0, y0) = the blob's origin in image pixels,
    so a finding's box maps onto the blob as (x - x0) * scale."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # "frame" | "crop"
    frame: Mapped[int] = mapped_column(Integer, default=0)
    finding: Mapped[int] = mapped_column(Integer, default=-1)  # index in the scan's findings; -1 for frames
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    scale: Mapped[float] = mapped_column(Float, default=1.0)
    x0: Mapped[int] = mapped_column(Integer, default=0)
    y0: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("scan_id", "kind", "frame", "finding", name="uq_evidence_scan_item"),
        CheckConstraint("kind IN ('frame', 'crop')", name="kind"),
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="moderator")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("role IN ('moderator', 'admin')", name="role"),)


class AllowEntry(Base):
    """Feedback from review: a contact value (optionally of one type, optionally for one shop) or a phrase
    that is not a contact. Entries are never deleted, only marked removed, so the audit trail holds."""

    __tablename__ = "allowlist"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # "value" | "phrase"
    value: Mapped[str] = mapped_column(Text)
    contact_type: Mapped[str | None] = mapped_column(String(16))
    shop_id: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed_by: Mapped[str | None] = mapped_column(String(128))
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # 0005: the false-positive decision that made this entry (None for entries added by hand), so undoing
    # that decision can say which entries it left behind and offer to remove them
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    # 0006: "active" (in force unless removed), "pending" (an every-shop entry a moderator asked for: in
    # force once an admin approves it) or "rejected"; decided_by/at = the admin who approved or rejected
    status: Mapped[str] = mapped_column(String(8), default="active", server_default="active")
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('value', 'phrase')", name="kind"),
        CheckConstraint("status IN ('active', 'pending', 'rejected')", name="status"),
    )


class AuditEntry(Base):
    """Append-only log of everything people did: logins, decisions, allow-list edits, accounts."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    # 0006: (action, target) finds an account's logins (the review app's login limits)
    __table_args__ = (Index("ix_audit_at", "at"), Index("ix_audit_action_target", "action", "target"))


class Setting(Base):
    """Small key/value settings shared by every review server on this store (e.g. the session secret)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- batch: requested URLs (migration 0003) -------------------------------------------------------------


class RequestedUrl(Base):
    """What `qqscan enqueue` and crawls asked for, written before the job goes on Redis: the durable record
    of intent. done_at is set when a result for the URL is stored and cleared by the next request; the
    reconciler (jobs.queueing.reconcile) re-queues rows still open whose job Redis no longer has."""

    __tablename__ = "requested_urls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # "scan" | "crawl"
    url_sha256: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text)
    listing_id: Mapped[str | None] = mapped_column(String(128))
    shop_id: Mapped[str | None] = mapped_column(String(128))
    page_url: Mapped[str | None] = mapped_column(Text)
    rescan: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    requeues: Mapped[int] = mapped_column(Integer, default=0)  # by the reconciler since the last request

    __table_args__ = (
        UniqueConstraint("kind", "url_sha256", name="uq_requested_urls_kind_url"),
        CheckConstraint("kind IN ('scan', 'crawl')", name="kind"),
    )


# --- review sessions (migration 0004) ---------------------------------------------------------------------


class ReviewSession(Base):
    """A logged-in browser session of the review app. The cookie carries a random token; only its sha256
    is stored here. Logout deletes the row, and a cookie whose row is gone no longer counts (a copy of the
    cookie stops working at logout, not when it expires); "log out everywhere" deletes every row of a user."""

    __tablename__ = "review_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


# --- contacts (migration 0007) ----------------------------------------------------------------------------


class Contact(Base):
    """One contact value (type + canonical value) across every image that carried it. `key` is the sha256
    of "type\0value" (a QR payload can be longer than a btree index entry allows). `images` and `shops`
    are counters kept with the link tables below (raised only when a link row is inserted, in the same
    transaction), so the contacts page sorts by spread without aggregating; sources, listings and pending
    images are derived by query when a page shows them (store/contacts.py)."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    # "new" | "seller" (confirmed as a seller's: known contact) | "allowed" | "escalated"
    status: Mapped[str] = mapped_column(String(16), default="new", server_default="new")
    auto_confirm: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    images: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    shops: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("status IN ('new', 'seller', 'allowed', 'escalated')", name="status"),
        # One index per sort of the contacts page, in its exact order (a page of 50 is read off the index
        # instead of sorting every contact; benchmarks/bench_contacts.py), and one that
        # serves a status filter with the default sort and the page's per-status counts.
        Index("ix_contacts_spread_shops", "shops", "images", "id"),
        Index("ix_contacts_spread_images", "images", "shops", "id"),
        Index("ix_contacts_last_seen", "last_seen", "id"),
        Index("ix_contacts_status", "status", "shops", "images", "id"),
    )


class ContactImage(Base):
    """An image whose stored result carried the contact; live = a finding the allow-list did not excuse
    in the image's latest stored result (an allowed one links the image but does not count as pending)."""

    __tablename__ = "contact_images"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    image_sha256: Mapped[str] = mapped_column(
        ForeignKey("images.sha256", ondelete="CASCADE"), primary_key=True, index=True
    )
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ContactShop(Base):
    """A shop one of the contact's images was seen in (a source with that shop_id)."""

    __tablename__ = "contact_shops"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ContactDecision(Base):
    """A decision on a contact, appended like image decisions: it sets the contact's status and decides
    its pending images (their decisions point here, so undo takes them back as one action). An undo is a
    new row (action "undo") pointing at the one it undoes."""

    __tablename__ = "contact_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(8), default="decide")  # "decide" | "undo"
    decision: Mapped[str] = mapped_column(String(16))  # the images' status it set
    status: Mapped[str] = mapped_column(String(16))  # the contact's status after it
    previous_status: Mapped[str] = mapped_column(String(16))
    auto_confirm: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_auto_confirm: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewer: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    undoes: Mapped[int | None] = mapped_column(ForeignKey("contact_decisions.id"))


# --- near-duplicate images (migration 0008; store/neardup.py) ---------------------------------------------

HASH_BANDS = 16  # a 256-bit hash as 16 bands of 16 bits, one indexed column each (multi-index hashing)


class ImageHash(Base):
    """A perceptual hash of an image's first frame (ocr/phash.py): variant 0 of the whole frame, 1 of what a
    uniform frame surrounds (when it has one). b00..b15 are its 16-bit bands, b00 the first 4 hex digits:
    a hash within 16 * (r + 1) - 1 bits of another equals it within r bits in at least one band, so the
    lookup asks each band's index for the few values near the query's (store/neardup.py)."""

    __tablename__ = "image_hashes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    image_sha256: Mapped[str] = mapped_column(ForeignKey("images.sha256", ondelete="CASCADE"))
    variant: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))  # 64 hex digits, PDQ's order
    quality: Mapped[int] = mapped_column(Integer)  # 0..100: PDQ's gradient quality of the 64x64
    b00: Mapped[int] = mapped_column(Integer)
    b01: Mapped[int] = mapped_column(Integer)
    b02: Mapped[int] = mapped_column(Integer)
    b03: Mapped[int] = mapped_column(Integer)
    b04: Mapped[int] = mapped_column(Integer)
    b05: Mapped[int] = mapped_column(Integer)
    b06: Mapped[int] = mapped_column(Integer)
    b07: Mapped[int] = mapped_column(Integer)
    b08: Mapped[int] = mapped_column(Integer)
    b09: Mapped[int] = mapped_column(Integer)
    b10: Mapped[int] = mapped_column(Integer)
    b11: Mapped[int] = mapped_column(Integer)
    b12: Mapped[int] = mapped_column(Integer)
    b13: Mapped[int] = mapped_column(Integer)
    b14: Mapped[int] = mapped_column(Integer)
    b15: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("image_sha256", "variant", name="uq_image_hashes_image_variant"),
        *(Index(f"ix_image_hashes_b{i:02d}", f"b{i:02d}") for i in range(HASH_BANDS)),
    )


class ImageGroup(Base):
    """An image's near-duplicate group, set once when its first hash is stored: the group of the nearest
    image stored before it within the distance (its own sha256 when there was none), and the rejected image
    it re-uploads (a near-duplicate whose review status was "violation" then), if any."""

    __tablename__ = "image_groups"

    image_sha256: Mapped[str] = mapped_column(
        ForeignKey("images.sha256", ondelete="CASCADE"), primary_key=True
    )
    group_sha256: Mapped[str] = mapped_column(String(64), index=True)
    nearest_sha256: Mapped[str | None] = mapped_column(String(64))
    distance: Mapped[int | None] = mapped_column(Integer)  # bits to nearest_sha256
    reupload_of: Mapped[str | None] = mapped_column(String(64), index=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# --- HTTP API tokens (migration 0009) ---------------------------------------------------------------------


class ApiToken(Base):
    """A client of the HTTP API (`qqscan tokens add`): only the sha256 of its secret is kept. `scopes` is a
    comma list (scan, read); `rate_per_minute` caps its requests; revoked tokens fail at once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
