"""The test PostgreSQL server: where it is, and why it cannot be used (tests skip with that reason)."""

from __future__ import annotations

import os

PG_URL = os.environ.get("QQSCAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_unreachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    try:
        psycopg.connect(
            host=u.host, port=u.port or 5432, user=u.username, password=u.password, dbname=u.database,
            connect_timeout=3,
        ).close()  # fmt: skip
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None
