"""initial schema: images, sources, scans, decisions

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Column types are spelled out here rather than imported from store.models, so this revision keeps
creating the same schema when the models move on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "('pending', 'violation', 'false_positive', 'escalated')"
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("format", sa.String(16)),
        sa.Column("frames", sa.Integer()),
        sa.Column("bytes", sa.BigInteger()),
        sa.Column("first_seen", Ts, nullable=False),
        sa.Column("review_status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("reviewed_at", Ts),
        sa.PrimaryKeyConstraint("sha256", name="pk_images"),
        sa.CheckConstraint(f"review_status IN {STATUSES}", name="ck_images_review_status"),
    )
    op.create_index("ix_images_review_status", "images", ["review_status"])

    op.create_table(
        "sources",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("url_sha256", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("image_sha256", sa.String(64)),
        sa.Column("listing_id", sa.String(128)),
        sa.Column("shop_id", sa.String(128)),
        sa.Column("page_url", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("first_seen", Ts, nullable=False),
        sa.Column("last_seen", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
        sa.UniqueConstraint("url_sha256", name="uq_sources_url_sha256"),
        sa.ForeignKeyConstraint(
            ["image_sha256"], ["images.sha256"], name="fk_sources_image_sha256_images", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_sources_image_sha256", "sources", ["image_sha256"])

    op.create_table(
        "scans",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("engine_version", sa.String(128)),
        sa.Column("source", sa.Text()),
        sa.Column("lines", Json, nullable=False),
        sa.Column("findings", Json, nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("ms", sa.Integer()),
        sa.Column("timings", Json),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scans"),
        sa.UniqueConstraint("image_sha256", "rules_version", name="uq_scans_image_rules"),
        sa.ForeignKeyConstraint(
            ["image_sha256"], ["images.sha256"], name="fk_scans_image_sha256_images", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_scans_created_at", "scans", ["created_at"])
    op.create_index("ix_scans_flagged", "scans", ["flagged"])

    op.create_table(
        "decisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("decided_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_decisions_status"),
        sa.ForeignKeyConstraint(
            ["image_sha256"], ["images.sha256"], name="fk_decisions_image_sha256_images", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_decisions_image_sha256", "decisions", ["image_sha256"])


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("scans")
    op.drop_table("sources")
    op.drop_table("images")
