"""Alembic environment for the results store.

store.database runs migrations programmatically and hands in its open connection (already inside a
transaction that holds the migration lock) as `config.attributes["connection"]`. Run by hand, e.g. to
write a new revision, it builds an engine from `sqlalchemy.url` or QQSCAN_DATABASE_URL:

    .venv/bin/python -m store.database revision -m "add column x" [--autogenerate]
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ground.settings import Settings
from store.database import database_url
from store.models import Base

config = context.config
connection = config.attributes.get("connection")


def run(conn) -> None:  # type: ignore[no-untyped-def]
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or database_url(Settings.load())  # alembic's CLI: an edge
    engine = create_engine(url)
    with engine.begin() as conn:
        run(conn)
    engine.dispose()
