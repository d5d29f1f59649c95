"""What the store benchmarks share: a throw-away database (a fresh PostgreSQL schema, dropped afterwards,
or a temporary SQLite file, removed) and percentiles."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from store.database import Database


@contextmanager
def bench_database(url: str | None) -> Iterator[tuple[Database, Path | None]]:
    """A migrated Database at `url` (a PostgreSQL URL: a fresh schema in it; None: a temporary SQLite file)
    and the SQLite file's path (None on PostgreSQL); everything it made is removed on exit."""
    schema, path, admin = None, None, None
    if url and url.startswith("postgresql"):
        schema = f"qqscan_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db_url = f"{url}?options=-csearch_path%3D{schema}"
    else:
        path = Path(tempfile.mkdtemp()) / "bench.sqlite3"
        db_url = url or f"sqlite:///{path}"
    db = Database(db_url)
    try:
        yield db, path
    finally:
        db.close()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        if path is not None and not url:
            shutil.rmtree(path.parent, ignore_errors=True)  # the files run to hundreds of MB


def analyze(db: Database) -> None:
    """Planner statistics after a bulk load, as a production database would have them."""
    with db.write() as conn:
        conn.execute(text("ANALYZE"))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def relation_sizes(db: Database, like: str) -> list[tuple[str, int]]:
    """(name, bytes) of the tables and indexes whose name matches the LIKE pattern, on either backend."""
    with db.read() as conn:
        if db.dialect == "postgresql":
            q = (
                "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relname LIKE :like"
            )
            return [(n, int(s)) for n, s in conn.execute(text(q), {"like": like})]
        try:
            q = "SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE :like GROUP BY name"
            return [(n, int(s)) for n, s in conn.execute(text(q), {"like": like})]
        except Exception:  # SQLite built without dbstat
            return []
