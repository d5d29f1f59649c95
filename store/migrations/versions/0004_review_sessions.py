"""review sessions: one row per logged-in browser session, deleted at logout (server-side revocation)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Written beside the batch system's 0003 and placed after it, so the chain stays linear.
Column types are spelled out (not imported from store.models) so this revision stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("expires_at", Ts, nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_review_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_review_sessions_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_review_sessions_user_id", "review_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_review_sessions_user_id", "review_sessions")
    op.drop_table("review_sessions")
