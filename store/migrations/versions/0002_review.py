"""review: evidence blobs, users, allow-list, audit log, settings; decision undo columns; queue columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Column types are spelled out (not imported from store.models) so this revision stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts = sa.DateTime(timezone=True)
Bytes = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", Bytes, nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_blobs"),
    )
    op.create_table(
        "evidence",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("scan_id", BigId, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=False),
        sa.Column("finding", sa.Integer(), nullable=False),
        sa.Column("blob_sha256", sa.String(64), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("x0", sa.Integer(), nullable=False),
        sa.Column("y0", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
        sa.UniqueConstraint("scan_id", "kind", "frame", "finding", name="uq_evidence_scan_item"),
        sa.CheckConstraint("kind IN ('frame', 'crop')", name="ck_evidence_kind"),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name="fk_evidence_scan_id_scans", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["blob_sha256"], ["blobs.sha256"], name="fk_evidence_blob_sha256_blobs"),
    )
    op.create_table(
        "users",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sa.CheckConstraint("role IN ('moderator', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "allowlist",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("contact_type", sa.String(16)),
        sa.Column("shop_id", sa.String(128)),
        sa.Column("note", sa.Text()),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("removed_by", sa.String(128)),
        sa.Column("removed_at", Ts),
        sa.PrimaryKeyConstraint("id", name="pk_allowlist"),
        sa.CheckConstraint("kind IN ('value', 'phrase')", name="ck_allowlist_kind"),
    )
    op.create_table(
        "audit",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.Text()),
        sa.Column("detail", Json),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("action", sa.String(8), nullable=False, server_default="decide"))
        batch.add_column(sa.Column("previous_status", sa.String(16)))
        batch.add_column(sa.Column("undoes", BigId))
        batch.create_foreign_key("fk_decisions_undoes_decisions", "decisions", ["undoes"], ["id"])
        batch.create_index("ix_decisions_reviewer", ["reviewer", "id"])
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("finding_types", sa.Text()))
        batch.add_column(sa.Column("finding_rules", sa.Text()))
        batch.add_column(sa.Column("max_confidence", sa.Float()))
    # Fill the queue columns for scans stored before this revision (findings are JSON on both backends;
    # reading them in Python keeps this portable). Allow-listed findings did not exist before 0002.
    scans = sa.table(
        "scans",
        sa.column("id", BigId),
        sa.column("findings", Json),
        sa.column("finding_types", sa.Text()),
        sa.column("finding_rules", sa.Text()),
        sa.column("max_confidence", sa.Float()),
    )
    conn = op.get_bind()
    for sid, findings in conn.execute(sa.select(scans.c.id, scans.c.findings)).all():
        findings = findings or []
        if not findings:
            continue
        types = sorted({str(f.get("type")) for f in findings})
        rules = sorted({str(f.get("rule")) for f in findings})
        conn.execute(
            scans.update()
            .where(scans.c.id == sid)
            .values(
                finding_types="," + ",".join(types) + ",",
                finding_rules="," + ",".join(rules) + ",",
                max_confidence=max(float(f.get("confidence") or 0) for f in findings),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("max_confidence")
        batch.drop_column("finding_rules")
        batch.drop_column("finding_types")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_index("ix_decisions_reviewer")
        batch.drop_constraint("fk_decisions_undoes_decisions", type_="foreignkey")
        batch.drop_column("undoes")
        batch.drop_column("previous_status")
        batch.drop_column("action")
    op.drop_table("settings")
    op.drop_index("ix_audit_at", "audit")
    op.drop_table("audit")
    op.drop_table("allowlist")
    op.drop_table("users")
    op.drop_table("evidence")
    op.drop_table("blobs")
