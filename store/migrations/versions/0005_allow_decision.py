"""allow-list entries remember the decision that made them, so undoing it can offer to remove them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Column types are spelled out (not imported from store.models) so this revision stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("allowlist") as batch:
        batch.add_column(sa.Column("decision_id", BigId))
        batch.create_foreign_key("fk_allowlist_decision_id_decisions", "decisions", ["decision_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("allowlist") as batch:
        batch.drop_constraint("fk_allowlist_decision_id_decisions", type_="foreignkey")
        batch.drop_column("decision_id")
