"""near-duplicate images: perceptual hashes of each image's first frame, split in 16 indexed bands of 16
bits (multi-index hashing, store/neardup.py), and each image's near-duplicate group

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

No backfill: hashes come from pixels, which the store does not keep; images scanned before this revision
join groups when they are scanned again (`qqscan scan --store --rescan`). Column types are spelled out
(not imported from store.models) so this revision stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts = sa.DateTime(timezone=True)
BANDS = [f"b{i:02d}" for i in range(16)]


def upgrade() -> None:
    op.create_table(
        "image_hashes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("variant", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        *(sa.Column(band, sa.Integer(), nullable=False) for band in BANDS),
        sa.PrimaryKeyConstraint("id", name="pk_image_hashes"),
        sa.UniqueConstraint("image_sha256", "variant", name="uq_image_hashes_image_variant"),
        sa.ForeignKeyConstraint(
            ["image_sha256"],
            ["images.sha256"],
            name="fk_image_hashes_image_sha256_images",
            ondelete="CASCADE",
        ),
    )
    for band in BANDS:
        op.create_index(f"ix_image_hashes_{band}", "image_hashes", [band])
    op.create_table(
        "image_groups",
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("group_sha256", sa.String(64), nullable=False),
        sa.Column("nearest_sha256", sa.String(64)),
        sa.Column("distance", sa.Integer()),
        sa.Column("reupload_of", sa.String(64)),
        sa.Column("linked_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("image_sha256", name="pk_image_groups"),
        sa.ForeignKeyConstraint(
            ["image_sha256"],
            ["images.sha256"],
            name="fk_image_groups_image_sha256_images",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_image_groups_group_sha256", "image_groups", ["group_sha256"])
    op.create_index("ix_image_groups_reupload_of", "image_groups", ["reupload_of"])


def downgrade() -> None:
    op.drop_table("image_groups")
    op.drop_table("image_hashes")
