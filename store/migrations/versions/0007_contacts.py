"""contacts as entities: each (type, canonical value) found, the images and shops it was seen in, the
decisions taken on it; image decisions point at the contact decision they are part of

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Backfill: every stored scan's findings with a value make their contacts and image links (oldest scan
first, so an image's newest scan says whether its link is live), and each linked image's sources their
shop links, in this transaction. The canonical form is copied here (not imported from store.contacts) so
this revision stays what it was; column types are spelled out for the same reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts = sa.DateTime(timezone=True)
PAGE = 500


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("auto_confirm", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("decided_at", Ts),
        sa.Column("first_seen", Ts, nullable=False),
        sa.Column("last_seen", Ts, nullable=False),
        sa.Column("images", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("shops", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint("key", name="uq_contacts_key"),
        sa.CheckConstraint("status IN ('new', 'seller', 'allowed', 'escalated')", name="ck_contacts_status"),
    )
    op.create_index("ix_contacts_shops", "contacts", ["shops", "id"])
    op.create_index("ix_contacts_images", "contacts", ["images", "id"])
    op.create_index("ix_contacts_last_seen", "contacts", ["last_seen", "id"])
    op.create_table(
        "contact_images",
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("first_seen", Ts, nullable=False),
        sa.PrimaryKeyConstraint("contact_id", "image_sha256", name="pk_contact_images"),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name="fk_contact_images_contact_id_contacts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["image_sha256"],
            ["images.sha256"],
            name="fk_contact_images_image_sha256_images",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_contact_images_image_sha256", "contact_images", ["image_sha256"])
    op.create_table(
        "contact_shops",
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("shop_id", sa.String(128), nullable=False),
        sa.Column("first_seen", Ts, nullable=False),
        sa.PrimaryKeyConstraint("contact_id", "shop_id", name="pk_contact_shops"),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name="fk_contact_shops_contact_id_contacts", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_contact_shops_shop_id", "contact_shops", ["shop_id"])
    op.create_table(
        "contact_decisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("previous_status", sa.String(16), nullable=False),
        sa.Column("auto_confirm", sa.Boolean(), nullable=False),
        sa.Column("previous_auto_confirm", sa.Boolean(), nullable=False),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("decided_at", Ts, nullable=False),
        sa.Column("undoes", BigId),
        sa.PrimaryKeyConstraint("id", name="pk_contact_decisions"),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name="fk_contact_decisions_contact_id_contacts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["undoes"], ["contact_decisions.id"], name="fk_contact_decisions_undoes_contact_decisions"
        ),
    )
    op.create_index("ix_contact_decisions_contact_id", "contact_decisions", ["contact_id"])
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("contact_decision_id", BigId))
        batch.create_foreign_key(
            "fk_decisions_contact_decision_id_contact_decisions",
            "contact_decisions",
            ["contact_decision_id"],
            ["id"],
        )
        batch.create_index("ix_decisions_contact_decision_id", ["contact_decision_id"])
    _backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_index("ix_decisions_contact_decision_id")
        batch.drop_constraint("fk_decisions_contact_decision_id_contact_decisions", type_="foreignkey")
        batch.drop_column("contact_decision_id")
    op.drop_table("contact_decisions")
    op.drop_table("contact_shops")
    op.drop_table("contact_images")
    op.drop_table("contacts")


# --- backfill (the canonical form as of this revision) ------------------------------------------------------


def _canonical(kind: str, value: Any) -> str | None:
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


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode("utf-8", "surrogatepass")).hexdigest()


def _aware(t: Any) -> datetime:
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _naive_on_sqlite(conn: sa.Connection, t: datetime) -> datetime:
    return t.replace(tzinfo=None) if conn.dialect.name == "sqlite" else t


def _backfill(conn: sa.Connection) -> None:
    scans = sa.table(
        "scans",
        sa.column("id", sa.Integer),
        sa.column("image_sha256", sa.String),
        sa.column("findings", sa.JSON),
        sa.column("created_at", Ts),
    )
    sources = sa.table(
        "sources",
        sa.column("image_sha256", sa.String),
        sa.column("shop_id", sa.String),
        sa.column("last_seen", Ts),
    )
    contacts: dict[str, dict[str, Any]] = {}  # key -> row
    links: dict[str, dict[str, dict[str, Any]]] = {}  # image sha -> key -> link
    after = 0
    while True:
        rows = conn.execute(
            sa.select(scans.c.id, scans.c.image_sha256, scans.c.findings, scans.c.created_at)
            .where(scans.c.id > after)
            .order_by(scans.c.id)
            .limit(PAGE)
        ).all()
        for sid, sha, findings, at in rows:
            at = _aware(at)
            if isinstance(findings, str):
                findings = json.loads(findings)
            live_here: dict[str, bool] = {}
            for f in findings or []:
                kind = str(f.get("type") or "")
                value = _canonical(kind, f.get("value"))
                if not kind or value is None:
                    continue
                key = _key(kind, value)
                live_here[key] = live_here.get(key, False) or not f.get("allowed_by")
                c = contacts.setdefault(key, {"type": kind, "value": value, "first": at, "last": at})
                c["first"], c["last"] = min(c["first"], at), max(c["last"], at)
            mine = links.setdefault(sha, {})
            for key, link in mine.items():  # the image's newest scan decides "live"
                link["live"] = live_here.get(key, False)
            for key, live in live_here.items():
                mine.setdefault(key, {"first": at})["live"] = live
            after = sid
        if len(rows) < PAGE:
            break
    if not contacts:
        return
    by_image = {sha: list(mine) for sha, mine in links.items() if mine}
    shops: dict[tuple[str, str], datetime] = {}
    shas = list(by_image)
    for i in range(0, len(shas), PAGE):
        q = sa.select(sources.c.image_sha256, sources.c.shop_id, sources.c.last_seen).where(
            sources.c.image_sha256.in_(shas[i : i + PAGE])
        )
        for sha, shop, seen in conn.execute(q):
            seen = _aware(seen)
            for key in by_image[sha]:
                contacts[key]["last"] = max(contacts[key]["last"], seen)
                if shop:
                    pair = (key, shop)
                    shops[pair] = min(shops.get(pair, seen), seen)
    t_contacts = sa.table(
        "contacts",
        sa.column("id", BigId),
        sa.column("key", sa.String),
        sa.column("type", sa.String),
        sa.column("value", sa.Text),
        sa.column("first_seen", Ts),
        sa.column("last_seen", Ts),
        sa.column("images", sa.Integer),
        sa.column("shops", sa.Integer),
    )
    n_images: dict[str, int] = {}
    n_shops: dict[str, int] = {}
    for mine in links.values():
        for key in mine:
            n_images[key] = n_images.get(key, 0) + 1
    for key, _ in shops:
        n_shops[key] = n_shops.get(key, 0) + 1
    ids: dict[str, int] = {}
    for key, c in contacts.items():
        ids[key] = conn.execute(
            sa.insert(t_contacts)
            .values(
                key=key,
                type=c["type"],
                value=c["value"],
                first_seen=_naive_on_sqlite(conn, c["first"]),
                last_seen=_naive_on_sqlite(conn, c["last"]),
                images=n_images.get(key, 0),
                shops=n_shops.get(key, 0),
            )
            .returning(t_contacts.c.id)
        ).scalar_one()
    t_images = sa.table(
        "contact_images",
        sa.column("contact_id", BigId),
        sa.column("image_sha256", sa.String),
        sa.column("live", sa.Boolean),
        sa.column("first_seen", Ts),
    )
    t_shops = sa.table(
        "contact_shops",
        sa.column("contact_id", BigId),
        sa.column("shop_id", sa.String),
        sa.column("first_seen", Ts),
    )
    image_rows = [
        {
            "contact_id": ids[k],
            "image_sha256": sha,
            "live": v["live"],
            "first_seen": _naive_on_sqlite(conn, v["first"]),
        }
        for sha, mine in links.items()
        for k, v in mine.items()
    ]
    shop_rows = [
        {"contact_id": ids[k], "shop_id": shop, "first_seen": _naive_on_sqlite(conn, at)}
        for (k, shop), at in shops.items()
    ]
    for i in range(0, len(image_rows), PAGE):
        conn.execute(sa.insert(t_images), image_rows[i : i + PAGE])
    for i in range(0, len(shop_rows), PAGE):
        conn.execute(sa.insert(t_shops), shop_rows[i : i + PAGE])
