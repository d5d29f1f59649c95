"""HTTP API tokens: name, sha256 of the secret, scopes, rate per minute, revocation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Column types are spelled out (not imported from store.models) so this revision stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("rate_per_minute", sa.Integer, nullable=False, server_default="600"),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("revoked_at", Ts),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
