"""Database fixtures for any test module: `db_url` is an empty SQLite file and an empty PostgreSQL schema
(127.0.0.1:5432 database `test`, one fresh schema per test, skipped with the reason when unreachable;
override the server with QQSCAN_TEST_POSTGRES_URL). conftest.py imports them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.pg import PG_URL, pg_unreachable


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Any]:
    reason = pg_unreachable()
    if reason:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({reason}); set QQSCAN_TEST_POSTGRES_URL")
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def pg_schema_url(admin: Any) -> tuple[str, str]:
    schema = f"qqscan_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema, f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with nothing in it yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    admin = request.getfixturevalue("pg_admin")
    schema, url = pg_schema_url(admin)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def env_store() -> Any:
    """The results store this test's environment names (QQSCAN_DATABASE_URL), read as an edge reads it: the
    store a CLI command or a worker started now would use."""
    from ground.settings import Settings
    from store.database import database_url
    from store.results import get_store

    return get_store(database_url(Settings.load()))


def enqueue_scans(conn: Any, urls: Any, **kw: Any) -> tuple[int, int]:
    """jobs.queueing.enqueue_scans recording the requests in env_store(), as `qqscan enqueue` does."""
    from jobs.queueing import enqueue_scans as enqueue

    return enqueue(conn, urls, **{"store": env_store(), **kw})


def enqueue_crawls(conn: Any, urls: Any, **kw: Any) -> tuple[int, int]:
    from jobs.queueing import enqueue_crawls as enqueue

    return enqueue(conn, urls, **{"store": env_store(), **kw})
