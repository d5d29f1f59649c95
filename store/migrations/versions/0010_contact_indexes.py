"""indexes for contacts and shops at 100,000 contacts: one per sort of the contacts page in its exact order,
status + spread for the status filter and counts, sources by shop for a shop's pages

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Measured with benchmarks/bench_contacts.py (docs/review.md): without them the contacts page sorted by
shops read and sorted every contact, and a shop's page read every source.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_contacts_shops", table_name="contacts")
    op.drop_index("ix_contacts_images", table_name="contacts")
    op.create_index("ix_contacts_spread_shops", "contacts", ["shops", "images", "id"])
    op.create_index("ix_contacts_spread_images", "contacts", ["images", "shops", "id"])
    op.create_index("ix_contacts_status", "contacts", ["status", "shops", "images", "id"])
    op.create_index("ix_sources_shop_id", "sources", ["shop_id"])


def downgrade() -> None:
    op.drop_index("ix_sources_shop_id", table_name="sources")
    op.drop_index("ix_contacts_status", table_name="contacts")
    op.drop_index("ix_contacts_spread_images", table_name="contacts")
    op.drop_index("ix_contacts_spread_shops", table_name="contacts")
    op.create_index("ix_contacts_images", "contacts", ["images", "id"])
    op.create_index("ix_contacts_shops", "contacts", ["shops", "id"])
