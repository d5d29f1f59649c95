"""The database every part of the store shares: engine, schema migrations, transactions, errors.

SQLite by default (a file under $XDG_DATA_HOME, ~/.local/share), PostgreSQL when QQSCAN_DATABASE_URL points
at one. Schema: Alembic revisions in store/migrations, applied when a Database opens (under a lock: a
PostgreSQL advisory lock, or SQLite's write lock). A database stamped with a revision this code does not
know (written by a newer qqscan) is refused with SchemaTooNew rather than used.

SQLite: WAL journal (readers do not block the writer), a 30 s busy timeout, and write transactions that
start with BEGIN IMMEDIATE so two writers queue instead of failing on a lock upgrade. Keep the file on a
local disk: WAL does not work over network filesystems.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from ground.errors import ExitCode, UsageError
from ground.settings import DEFAULTS, Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x71717363616E  # "qqscan": PostgreSQL advisory lock id held while migrating


_DEFAULT_FILE = Path("qqscan") / "qqscan.sqlite3"


def default_database_url(settings: Settings = DEFAULTS) -> str:
    """A file under the user's data dir ($XDG_DATA_HOME, read with the settings), not the working
    directory, so the CLI and workers started from different folders on one box share one store."""
    return "sqlite:///" + str(Path(settings.data_home) / _DEFAULT_FILE)


def _is_default_file(url: str) -> bool:
    """The default file's folder is ours to create; any other SQLite path must exist (a typo is an error)."""
    path = url.removeprefix("sqlite:///")
    return path != url and Path(path).parts[-2:] == _DEFAULT_FILE.parts


def database_url(settings: Settings = DEFAULTS) -> str:
    """QQSCAN_DATABASE_URL, or the default file."""
    return str(settings["QQSCAN_DATABASE_URL"] or default_database_url(settings))


class StoreError(UsageError):
    """Base class for store errors; on its own a usage error (unsupported URL, missing SQLite folder)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or went away; the message has the URL with its password hidden."""

    exit_code = ExitCode.UNAVAILABLE


class SchemaTooNew(StoreError):
    """The database was migrated by a newer qqscan than this one."""


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<unparseable database URL>"


def _alembic_config(url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _make_engine(url: str, *, create_folder: bool = False) -> Engine:
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        # pre_ping: a connection the server dropped (restart, idle timeout) is replaced, not handed out.
        return create_engine(u, pool_pre_ping=True)
    if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
        folder = Path(u.database).expanduser().parent
        if create_folder:  # the default location under the user's data dir
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            # A mistyped path must not start a new, empty database that `results` then reports as clean.
            raise StoreError(
                f"no folder {folder} for the SQLite database {redact(url)}: create it or fix "
                "QQSCAN_DATABASE_URL"
            )
    # pysqlite applies `timeout` as sqlite3_busy_timeout on every connection: a writer waits up to 30 s for
    # another's lock instead of failing at once (no PRAGMA busy_timeout needed on top).
    engine = create_engine(u, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling does not BEGIN before DDL and cannot BEGIN IMMEDIATE;
        # turn it off and emit BEGIN ourselves (SQLAlchemy's documented recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so two writers wait for each other instead of one
        # failing with "database is locked" when its read lock cannot be upgraded.
        read_only = conn.get_execution_options().get("qqscan_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


class _Closable:
    """`with x:` closes x at the end."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Database(_Closable):
    """One open database: the engine, its schema brought to this code's revision, and the transactions
    every part of the store runs in. The results store and each review concern are built over one."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        self.safe_url = redact(self.url)
        try:
            backend = make_url(self.url).get_backend_name()
        except sa_exc.ArgumentError:
            # Shown as typed unless it may hold a password (user:password@host).
            shown = self.url if "@" not in self.url else self.safe_url
            raise StoreError(
                f"{shown}: not a database URL (sqlite:///path or postgresql://user@host/db)"
            ) from None
        if backend not in ("sqlite", "postgresql"):
            raise StoreError(
                f"unsupported database {self.safe_url}: QQSCAN_DATABASE_URL must be a SQLite or "
                "PostgreSQL URL (sqlite:///path or postgresql://user@host/db)"
            )
        self.engine = _make_engine(self.url, create_folder=_is_default_file(self.url))
        self.dialect = self.engine.dialect.name
        self.migrated = False  # True when this open applied migrations
        try:
            with self._unavailable():
                self.migrated = self._migrate()
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _unavailable(self) -> Iterator[None]:
        """Connection-level failures become StoreUnavailable with the password kept out of the message."""
        try:
            yield
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise StoreUnavailable(self._explain(exc)) from exc
        except sa_exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreUnavailable(self._explain(exc)) from exc
            raise

    def _explain(self, exc: sa_exc.DBAPIError) -> str:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        password = make_url(self.url).password
        if password:
            detail = detail.replace(str(password), "***")
        return f"results database {self.safe_url} is unavailable: {detail}"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._unavailable(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._unavailable(), self.engine.connect() as conn:
            conn = conn.execution_options(qqscan_read_only=True)
            with conn.begin():
                yield conn

    def insert(self, model: type) -> Any:
        """The dialect's INSERT, which has on_conflict_do_nothing / on_conflict_do_update."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(model)

    # --- schema ---------------------------------------------------------------------------------------

    def _migrate(self) -> bool:
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        cfg = _alembic_config()
        script = ScriptDirectory.from_config(cfg)
        # The revisions form one chain (0001 -> 0005), so this is one head today. Comparing sets of heads
        # keeps a future pair of revisions written side by side (two branches until someone chains them)
        # working: both are applied rather than the store refusing to open.
        heads = set(script.get_heads())
        known = {s.revision for s in script.walk_revisions()}

        def current(conn: Connection) -> set[str]:
            revs = set(MigrationContext.configure(conn).get_current_heads())
            unknown = sorted(revs - known)
            if unknown:
                raise SchemaTooNew(
                    f"results database {self.safe_url} has schema revision {unknown[0]!r}, which this qqscan "
                    f"does not know (its newest is {'+'.join(sorted(heads))!r}): it was written by a newer "
                    "qqscan; upgrade this one"
                )
            return revs

        with self.read() as conn:  # the common case: already at head, no lock taken
            if current(conn) == heads:
                return False
        with self.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE holds the write lock from here
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            if current(conn) == heads:  # another process migrated while we waited for the lock
                return False
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
        return True

    def schema_revision(self) -> str | None:
        """The schema revision ("0003"); revisions of parallel branches joined by "+"."""
        from alembic.runtime.migration import MigrationContext

        with self.read() as conn:
            revs = sorted(MigrationContext.configure(conn).get_current_heads())
        return "+".join(revs) or None


class OverDatabase(_Closable):
    """Base of what is built over one Database (the results store, the review store): `db` is a Database
    or a URL to open one with (None: QQSCAN_DATABASE_URL or the default file); closing it closes the db."""

    def __init__(self, db: Database | str | None = None) -> None:
        self.db = db if isinstance(db, Database) else Database(db)

    def close(self) -> None:
        self.db.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m store.database upgrade|current|revision -m MSG [--autogenerate]` for maintainers."""
    import argparse

    from alembic import command

    p = argparse.ArgumentParser(prog="python -m store.database")
    p.add_argument("action", choices=["upgrade", "current", "revision"])
    p.add_argument("-m", "--message", default="")
    p.add_argument("--autogenerate", action="store_true")
    p.add_argument("--url", default=None, help="database URL (default: QQSCAN_DATABASE_URL)")
    args = p.parse_args(argv)
    url = args.url or database_url(Settings.load())  # a command: its edge reads the environment
    if args.action == "upgrade":
        store = Database(url)
        done = "migrated" if store.migrated else "no change"
        print(f"{store.safe_url}: at revision {store.schema_revision()} ({done})")
    elif args.action == "current":
        cfg = _alembic_config(url)
        command.current(cfg)
    else:
        cfg = _alembic_config(url)
        command.revision(cfg, message=args.message, autogenerate=args.autogenerate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
