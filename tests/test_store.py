"""The results store on real databases: SQLite (a temp file) and PostgreSQL (127.0.0.1:5432, database
`test`, a fresh schema per test; skipped with the reason when unreachable). Override the server with
QQSCAN_TEST_POSTGRES_URL."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from store.database import SchemaTooNew, StoreError, StoreUnavailable, _alembic_config
from store.queue import QueueFilter
from store.results import Store
from tests.databases import pg_schema_url
from tests.pg import PG_URL


def newest_revision() -> str:
    """What schema_revision() reports after a full upgrade: the head(s) of store/migrations."""
    from alembic.script import ScriptDirectory

    return "+".join(sorted(ScriptDirectory.from_config(_alembic_config()).get_heads()))


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()


SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64


def result(sha: str = SHA_A, url: str = "https://img.example.com/a.jpg", **kw: Any) -> dict[str, Any]:
    """A result shaped like `qqscan scan --json --lines` output."""
    findings = [
        {
            "type": "qq",
            "value": "391287654",
            "text": "扣扣391287654",
            "box": [[10.0, 20.0], [200.0, 20.0], [200.0, 50.0], [10.0, 50.0]],
            "frame": 0,
            "confidence": 0.93,
            "rule": "qq.keyword",
            "span": [0, 11],
        }
    ]
    out: dict[str, Any] = {
        "source": url,
        "sha256": sha,
        "flagged": True,
        "findings": findings,
        "ms": 412,
        "error": None,
        "rules_version": "2026.11.1",
        "width": 750,
        "height": 1200,
        "format": "JPEG",
        "frames": 1,
        "bytes": 183211,
        "lines": [
            {
                "text": "扣扣391287654",
                "score": 0.97,
                "box": [[10, 20], [200, 20], [200, 50], [10, 50]],
                "frame": 0,
            }
        ],
    }
    out.update(kw)
    if "findings" in kw and "flagged" not in kw:
        out["flagged"] = bool(kw["findings"])
    return out


# --- schema -------------------------------------------------------------------------------------------


def test_migrations_create_the_schema_and_a_second_open_is_a_no_op(db_url):
    first = Store(db_url)
    assert first.db.migrated
    assert first.db.schema_revision() == newest_revision()
    names = set(inspect(first.db.engine).get_table_names())
    assert {
        "images",
        "sources",
        "scans",
        "decisions",
        "blobs",
        "evidence",
        "users",
        "allowlist",
        "audit",
        "alembic_version",
    } <= names
    second = Store(db_url)
    assert not second.db.migrated
    assert second.db.schema_revision() == newest_revision()
    first.close()
    second.close()


def test_upgrading_from_0001_backfills_the_review_queue_columns(db_url):
    # A store written before the review schema: its flagged scans must show up in the queue afterwards.
    from alembic import command

    from store.database import _alembic_config
    from store.review import ReviewStore

    engine = create_engine(db_url)
    with engine.begin() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        findings = [
            {"type": "qq", "value": "391287654", "rule": "qq.keyword", "confidence": 0.7},
            {"type": "phone", "value": "13812345678", "rule": "phone.plain", "confidence": 0.9},
        ]
        conn.execute(
            text("INSERT INTO images (sha256, first_seen, review_status) VALUES (:s, :t, 'pending')"),
            {"s": SHA_A, "t": "2026-11-01 00:00:00"},
        )
        conn.execute(
            text("INSERT INTO scans (image_sha256, rules_version, lines, findings, flagged, created_at) "
                 "VALUES (:s, 'old', :l, :f, :fl, :t)"),
            {"s": SHA_A, "l": "[]", "f": json.dumps(findings), "fl": True, "t": "2026-11-01 00:00:00"},
        )  # fmt: skip
    engine.dispose()
    review = ReviewStore(db_url)
    assert review.db.migrated and review.db.schema_revision() == newest_revision()
    (item,) = review.queue.page().items
    assert (item["types"], item["rules"], item["max_confidence"]) == (
        ["phone", "qq"],
        ["phone.plain", "qq.keyword"],
        0.9,
    )
    assert [it["sha256"] for it in review.queue.page(QueueFilter(type="phone")).items] == [SHA_A]
    review.close()


def test_upgrading_to_0006_keeps_every_allow_list_entry_in_force_and_0006_goes_down_again(db_url):
    # Entries made before requests existed were all in force; they must stay so (status "active").
    from alembic import command

    from store.database import _alembic_config
    from store.review import ReviewStore

    engine = create_engine(db_url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.execute(
            text("INSERT INTO allowlist (kind, value, created_by, created_at) "
                 "VALUES ('value', '391287654', 'mod', '2026-11-01 00:00:00')"),
        )  # fmt: skip
    review = ReviewStore(db_url)
    assert review.db.migrated
    (entry,) = review.allowlist.entries()
    assert (entry["value"], entry["status"], entry["decided_by"]) == ("391287654", "active", None)
    assert [a.value for a in Store(review.db).allowlist()] == ["391287654"]
    review.close()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
        assert "status" not in {c["name"] for c in inspect(conn).get_columns("allowlist")}
        command.upgrade(cfg, "head")
    engine.dispose()


def test_models_match_the_migrations(store):
    # The models and the hand-written revisions must describe the same schema, or the next
    # autogenerated revision would carry surprises.
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from store.models import Base

    with store.db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_a_database_from_a_newer_qqscan_is_refused(db_url):
    Store(db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))  # one row per head; branches make several
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('9999_future')"))
    engine.dispose()
    with pytest.raises(SchemaTooNew, match="'9999_future'.*newer qqscan"):
        Store(db_url)


def test_default_database_is_a_file_under_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("QQSCAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    from ground.settings import Settings
    from store.database import database_url

    with Store(database_url(Settings.load())) as store:  # as a command or worker started now opens it
        assert store.db.url == f"sqlite:///{tmp_path / 'data' / 'qqscan' / 'qqscan.sqlite3'}"
        assert store.save_scan(result())
    assert (tmp_path / "data" / "qqscan" / "qqscan.sqlite3").is_file()


# --- writes and reads ---------------------------------------------------------------------------------


def test_save_then_results_round_trip_in_the_scan_json_shape(store):
    r = result()
    assert store.save_scan(r) is True
    [got] = list(store.results())
    for key, value in r.items():
        assert got[key] == value, key
    assert got["url"] == r["source"]
    assert got["urls"] == [r["source"]]
    assert got["review_status"] == "pending"
    assert store.has_scan(SHA_A, "2026.11.1")
    assert not store.has_scan(SHA_A, "2026.12.0")
    assert not store.has_scan(SHA_B, "2026.11.1")


def test_a_typed_scan_result_is_saved_with_its_source_and_only_live_findings_count(store):
    from dataclasses import replace

    from detectors.base import Finding
    from jobs.pipeline import ScanResult
    from store.models import Scan

    hotline = Finding("phone", "4008208820", "400-820-8820", 0.9, "phone.hotline", extra={"allowed_by": 3})
    ask = Finding("solicitation", None, "加我私聊", 0.7, "solicitation.verb")
    meta = {"width": 10, "height": 20, "format": "jpeg", "frames": 1, "bytes": 5, "engine_version": "e1"}
    # QQSCAN_SOLICITATION_FLAGS=0: a solicitation alone does not flag
    scanned = ScanResult(
        source="a.jpg", sha256=SHA_A, findings=[hotline, ask], meta=meta, solicitation_flags=False
    )
    url, page = "https://e.com/a.jpg", "https://e.com/item/1"
    doc = scanned.to_json(with_lines=True)
    assert store.save_scan(doc, url=url, shop_id="S1", page_url=page) is True
    got = store.result(SHA_A)
    assert got["flagged"] is False  # the hotline is allow-listed, the solicitation does not flag
    assert got["source"] == "a.jpg" and got["urls"] == [url] and got["engine_version"] == "e1"
    assert [f["allowed_by"] for f in got["findings"] if "allowed_by" in f] == [3]  # kept, marked
    assert store.source(url)["shop_id"] == "S1" and store.source(url)["page_url"] == page
    with store.db.engine.connect() as conn:
        types = conn.execute(Scan.__table__.select().with_only_columns(Scan.finding_types)).scalar_one()
    assert types == ",solicitation,"  # the queue's type filter sees live findings only
    # with the policy on, the same findings flag the image (a rescan replaces the result in place)
    scanned = replace(scanned, solicitation_flags=True)  # QQSCAN_SOLICITATION_FLAGS=1
    assert store.save_scan(scanned.to_json(with_lines=True), url=url, replace=True) is True
    assert store.result(SHA_A)["flagged"] is True


def test_saving_the_same_result_twice_stores_one(store):
    assert store.save_scan(result()) is True
    assert store.save_scan(result()) is False
    assert store.count("scans") == 1
    assert store.count("images") == 1
    assert store.count("sources") == 1
    assert len(list(store.results())) == 1


def test_same_bytes_at_many_urls_make_one_image_and_many_sources(store):
    urls = [f"https://cdn{i}.example.com/p/{i}.jpg" for i in range(3)]
    assert store.save_scan(result(url=urls[0], listing_id="L1", shop_id="S1")) is True
    # The worker skips OCR for bytes it has seen, and only records the new URL:
    assert store.has_scan(SHA_A, "2026.11.1")
    store.record_source(urls[1], sha256=SHA_A, listing_id="L2", page_url="https://shop.example.com/item/2")
    assert store.save_scan(result(url=urls[2])) is False
    store.record_source(urls[1], sha256=SHA_A)  # seen again: no new row, listing kept
    assert store.count("images") == 1
    assert store.count("sources") == 3
    assert store.count("scans") == 1
    [got] = list(store.results())
    assert got["urls"] == urls
    assert got["url"] == urls[0]
    second = store.source(urls[1])
    assert second is not None
    assert second["listing_id"] == "L2"
    assert second["page_url"] == "https://shop.example.com/item/2"


def test_a_rescan_under_new_rules_adds_one_scan(store):
    assert store.save_scan(result(rules_version="2026.11.1")) is True
    assert store.save_scan(result(rules_version="2026.12.0", findings=[])) is True
    assert store.save_scan(result(rules_version="2026.12.0", findings=[])) is False
    assert store.count("scans") == 2
    [got] = list(store.results())  # one per image: its newest scan
    assert got["rules_version"] == "2026.12.0"
    assert got["flagged"] is False


def test_flagged_since_and_limit_filters(store):
    store.save_scan(result(SHA_A, "https://e.com/a.jpg"))
    store.save_scan(result(SHA_B, "https://e.com/b.jpg", findings=[]))
    store.save_scan(result(SHA_C, "https://e.com/c.jpg"))
    everything = list(store.results())
    assert [r["sha256"] for r in everything] == [SHA_A, SHA_B, SHA_C]
    assert [r["sha256"] for r in store.results(flagged=True)] == [SHA_A, SHA_C]
    assert [r["sha256"] for r in store.results(flagged=False)] == [SHA_B]
    assert [r["sha256"] for r in store.results(limit=2)] == [SHA_A, SHA_B]
    from datetime import datetime

    cut = datetime.fromisoformat(everything[1]["scanned_at"])
    expected = [r["sha256"] for r in everything if datetime.fromisoformat(r["scanned_at"]) >= cut]
    assert [r["sha256"] for r in store.results(since=cut)] == expected
    assert SHA_B in expected
    assert [r["sha256"] for r in store.results(since=cut, flagged=True)] == [
        s for s in expected if s != SHA_B
    ]
    assert list(store.results(since=datetime(2999, 1, 1))) == []


def test_results_pages_through_many_images(store, monkeypatch):
    from store import results as results_module

    monkeypatch.setattr(results_module, "PAGE", 3)  # small pages, so 8 rows take several transactions
    shas = [f"{i:064x}" for i in range(8)]
    for sha in shas:
        store.save_scan(result(sha, f"https://e.com/{sha[-4:]}.jpg"))
    assert [r["sha256"] for r in store.results()] == shas
    assert [r["sha256"] for r in store.results(limit=5)] == shas[:5]


def test_a_url_that_failed_before_any_bytes_is_stored_once_with_its_reason(store):
    url = "https://img.example.com/gone.jpg"
    failed = {"source": url, "sha256": "", "flagged": False, "findings": [], "ms": 3,
              "error": "HTTP 404 Not Found from https://img.example.com/gone.jpg"}  # fmt: skip
    assert store.save_scan(failed) is False
    assert store.save_scan(failed) is False
    store.record_source(url, error="HTTP 404 Not Found from https://img.example.com/gone.jpg")
    assert store.count("sources") == 1
    assert store.count("images") == 0
    assert store.count("scans") == 0
    src = store.source(url)
    assert src is not None
    assert src["sha256"] is None
    assert src["error"] == "HTTP 404 Not Found from https://img.example.com/gone.jpg"
    assert list(store.results()) == []
    (failed_row,) = store.failed_sources()
    assert (failed_row["url"], failed_row["error"]) == (url, src["error"])
    stats = store.stats()
    assert (stats["images"], stats["scans"], stats["failed_sources"]) == (0, 0, 1)
    # It comes back later: the bytes are linked and the old error cleared, still one row.
    store.save_scan(result(url=url))
    src = store.source(url)
    assert src is not None
    assert (src["sha256"], src["error"]) == (SHA_A, None)
    assert store.count("sources") == 1
    assert store.failed_sources() == [] and store.stats()["scans"] == 1


def test_review_decisions_are_appended_and_counted(store):
    from store.decisions import DecisionRefused
    from store.review import ReviewStore

    review = ReviewStore(store.db.url)
    store.save_scan(result(SHA_A, "https://e.com/a.jpg"))
    store.save_scan(result(SHA_B, "https://e.com/b.jpg"))
    store.save_scan(result(SHA_C, "https://e.com/c.jpg", findings=[]))  # clean: not in the review queue
    everything = QueueFilter(status=None)  # the counts per review status, under no other filter
    assert review.queue.page(everything).counts == {
        "pending": 2,
        "violation": 0,
        "false_positive": 0,
        "escalated": 0,
    }
    review.decisions.record(SHA_A, "escalated", reviewer="li", note="looks like a QQ group")
    review.decisions.record(SHA_A, "violation", reviewer="wang")
    review.decisions.record(SHA_B, "false_positive", reviewer="li", note="order number")
    assert review.queue.page(everything).counts == {
        "pending": 0,
        "violation": 1,
        "false_positive": 1,
        "escalated": 0,
    }
    history = review.decisions.history(sha256=SHA_A)[::-1]  # newest first -> oldest first
    assert [(d["status"], d["previous_status"], d["reviewer"], d["note"]) for d in history] == [
        ("escalated", "pending", "li", "looks like a QQ group"),
        ("violation", "escalated", "wang", None),
    ]
    assert history[0]["decided_at"].tzinfo is not None
    assert {r["sha256"]: r["review_status"] for r in store.results(flagged=True)} == {
        SHA_A: "violation",
        SHA_B: "false_positive",
    }
    with pytest.raises(ValueError, match="not one of"):
        review.decisions.record(SHA_A, "deleted", reviewer="li")
    with pytest.raises(DecisionRefused):
        review.decisions.record("f" * 64, "violation", reviewer="li")
    review.close()


def test_the_addresses_an_account_logged_in_from_come_from_the_audit_log(store):
    """What the review app's login limit spares (a JSON field query, on both databases)."""
    from datetime import timedelta

    from store.models import utcnow
    from store.review import ReviewStore

    review = ReviewStore(store.db.url)
    review.audit.record("bob", "login", "bob", {"ip": "192.0.2.10", "user_agent": "x"})
    review.audit.record("anonymous", "login_failed", "bob", {"ip": "198.51.100.1", "user_agent": "x"})
    hour_ago = utcnow() - timedelta(hours=1)
    assert review.audit.logged_in_from("bob", "192.0.2.10", hour_ago)
    assert not review.audit.logged_in_from("bob", "198.51.100.1", hour_ago)  # a failure is no login
    assert not review.audit.logged_in_from("carol", "192.0.2.10", hour_ago)  # another account's address
    assert not review.audit.logged_in_from("bob", "192.0.2.10", utcnow() + timedelta(seconds=5))  # too old
    assert not review.audit.logged_in_from("bob", None, hour_ago)
    review.close()


# --- concurrency --------------------------------------------------------------------------------------

WORKER = """
import json, sys, time
from store.results import Store
url, start_at, payload = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
store = Store(url)  # all processes open a fresh database at once: the migration races too
while time.time() < start_at:
    time.sleep(0.001)
print(json.dumps([store.db.migrated, store.save_scan(payload)]))
"""


def test_concurrent_processes_saving_the_same_result_store_one_row(db_url):
    n = 6
    start_at = time.time() + 3.0  # after every interpreter has started and opened the store
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db_url, str(start_at), json.dumps(result())],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(n)
    ]
    migrated, saved = [], []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        m, s = json.loads(out.strip().splitlines()[-1])
        migrated.append(m)
        saved.append(s)
    assert sorted(migrated) == [False] * (n - 1) + [True]  # one process migrated, the others waited
    assert sorted(saved) == [False] * (n - 1) + [True]
    with Store(db_url) as store:
        assert store.count("scans") == 1
        assert store.count("images") == 1
        assert store.count("sources") == 1


def test_concurrent_threads_with_many_urls_store_one_scan_and_every_source(store):
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[bool] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            outcomes.append(store.save_scan(result(url=f"https://mirror{i}.example.com/a.jpg")))
        except BaseException as exc:  # surfaced below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(outcomes) == [False] * (n - 1) + [True]
    assert store.count("scans") == 1
    assert store.count("sources") == n


# --- the database going away --------------------------------------------------------------------------


def test_unreachable_database_is_reported_without_the_password():
    with pytest.raises(StoreUnavailable) as exc:
        Store("postgresql+psycopg://qq:s3cret-pw@127.0.0.1:1/nope?connect_timeout=3")
    message = str(exc.value)
    assert "s3cret-pw" not in message
    assert "qq:***@127.0.0.1:1/nope" in message
    assert "unavailable" in message


def test_other_databases_are_refused_with_a_clear_error():
    with pytest.raises(StoreError, match="unsupported database mysql://qq:\\*\\*\\*@db/x"):
        Store("mysql://qq:pw@db/x")


def test_a_string_that_is_no_url_is_refused_with_the_forms_that_work():
    with pytest.raises(StoreError) as exc:
        Store("notaurl")
    assert str(exc.value) == "notaurl: not a database URL (sqlite:///path or postgresql://user@host/db)"
    assert exc.value.exit_code == 2  # a usage error: it can never work


class _TcpRelay:
    """Loopback TCP relay in front of PostgreSQL: `cut()` drops every connection and stops listening, as
    when the database server goes away. There is no other way to take the server away from one test."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def test_database_going_away_mid_batch_raises_store_unavailable(pg_admin):
    from sqlalchemy.engine import make_url

    schema, url = pg_schema_url(pg_admin)
    relay = _TcpRelay(make_url(PG_URL).port or 5432)
    try:
        relayed = make_url(url).set(host="127.0.0.1", port=relay.port, password="pw-not-for-logs")
        store = Store(relayed.render_as_string(hide_password=False))
        assert store.save_scan(result(SHA_A, "https://e.com/a.jpg"))
        relay.cut()
        with pytest.raises(StoreUnavailable) as exc:
            store.save_scan(result(SHA_B, "https://e.com/b.jpg"))
        assert "pw-not-for-logs" not in str(exc.value)
        assert f"127.0.0.1:{relay.port}" in str(exc.value)
        store.close()
    finally:
        relay.cut()
        with pg_admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
