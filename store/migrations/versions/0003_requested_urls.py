"""batch: requested_urls, the durable record of what was asked for (enqueue, crawls), for the reconciler

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

One row per (kind, URL): requested_at is the newest request, done_at is set when a result for the URL is
stored (a scan, a known image, a failure) and cleared by the next request. The reconciler re-queues rows
with done_at NULL whose job Redis no longer has, so a Redis that lost everything loses no URL.
Column types are spelled out (not imported from store.models) so this revision stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "requested_urls",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("url_sha256", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("listing_id", sa.String(128)),
        sa.Column("shop_id", sa.String(128)),
        sa.Column("page_url", sa.Text()),
        sa.Column("rescan", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("requested_at", Ts, nullable=False),
        sa.Column("done_at", Ts),
        sa.Column("requeues", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_requested_urls"),
        sa.UniqueConstraint("kind", "url_sha256", name="uq_requested_urls_kind_url"),
        sa.CheckConstraint("kind IN ('scan', 'crawl')", name="ck_requested_urls_kind"),
    )
    op.create_index("ix_requested_urls_url_sha256", "requested_urls", ["url_sha256"])
    op.create_index("ix_requested_urls_done_at", "requested_urls", ["done_at"])


def downgrade() -> None:
    op.drop_table("requested_urls")
