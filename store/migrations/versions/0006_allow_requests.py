"""allow-list requests: an every-shop entry asked for by a moderator waits for an admin (status pending,
then active or rejected, with who decided and when); audit rows found by action and target (the review
app's login limits look up an account's logins)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Existing entries were all made in force, so they become "active". Column types are spelled out (not
imported from store.models) so this revision stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("allowlist") as batch:
        batch.add_column(sa.Column("status", sa.String(8), nullable=False, server_default="active"))
        batch.add_column(sa.Column("decided_by", sa.String(128)))
        batch.add_column(sa.Column("decided_at", Ts))
        batch.create_check_constraint(
            op.f("ck_allowlist_status"), "status IN ('active', 'pending', 'rejected')"
        )
    op.create_index("ix_audit_action_target", "audit", ["action", "target"])


def downgrade() -> None:
    op.drop_index("ix_audit_action_target", "audit")
    with op.batch_alter_table("allowlist") as batch:
        batch.drop_constraint(op.f("ck_allowlist_status"), type_="check")
        batch.drop_column("decided_at")
        batch.drop_column("decided_by")
        batch.drop_column("status")
