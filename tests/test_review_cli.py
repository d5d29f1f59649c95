"""`qqscan users` and `qqscan review` against a real store: a temp SQLite file for most tests, and SQLite plus
PostgreSQL (the `db_url` fixture) for a round trip. No OCR: scans are seeded with Store.save_scan."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from detectors.allowlist import Allowed
from qqscan.cli import cli
from qqscan.review_cmds import EXPORT_COLUMNS
from store.queue import QueueFilter
from store.results import Store
from store.review import ReviewStore

REPO = Path(__file__).resolve().parent.parent
QQSCAN = str(Path(sys.executable).parent / "qqscan")
PW = "correct-horse"

# Image hashes: A and A2 share a 7-digit prefix (to test ambiguous prefixes); D is clean.
SHA_A = "abcdef1" + "0" * 57
SHA_A2 = "abcdef2" + "0" * 57
SHA_B = "b" * 64
SHA_C = "c" * 64
SHA_D = "d" * 64
QQ, PHONE, WECHAT = "391287654", "13812345678", "wxid_abc123"


def finding(type_: str, value: str, text: str, rule: str, confidence: float) -> dict[str, Any]:
    return {
        "type": type_,
        "value": value,
        "text": text,
        "rule": rule,
        "confidence": confidence,
        "box": [[10.0, 20.0], [200.0, 20.0], [200.0, 50.0], [10.0, 50.0]],
        "frame": 0,
    }


def scan(sha: str, url: str, findings: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    out = {
        "sha256": sha,
        "source": url,
        "url": url,
        "rules_version": "2026.11.1",
        "findings": findings,
        "lines": [{"text": f["text"], "score": 0.97, "box": f["box"], "frame": 0} for f in findings],
        "width": 750,
        "height": 1200,
        "format": "JPEG",
        "frames": 1,
        "bytes": 183211,
        "ms": 400,
    }
    out.update(kw)
    return out


def seed(url: str) -> None:
    """A: QQ in shop S1, seen at two URLs. B: phone, seen in shops S2 and S3. C: WeChat in shop S1.
    A2: QQ with no shop (shares A's prefix). D: clean. Scanned in that order (newest = D)."""
    with Store(url) as s:
        qq = finding("qq", QQ, f"扣扣{QQ}", "qq.keyword", 0.93)
        s.save_scan(scan(SHA_A, "https://img.example.com/a.jpg", [qq], shop_id="S1", listing_id="L1"))
        s.save_scan(scan(SHA_A, "https://img.example.com/a-copy.jpg", [qq], shop_id="S1", listing_id="L9"))
        ph = finding("phone", PHONE, f"电话 {PHONE}", "phone.cn", 0.71)
        s.save_scan(scan(SHA_B, "https://img.example.com/b.jpg", [ph], shop_id="S2"))
        s.save_scan(scan(SHA_B, "https://img.example.com/b2.jpg", [ph], shop_id="S3"))
        wx = finding("wechat", WECHAT, f"微信 {WECHAT}", "wechat.keyword", 0.88)
        s.save_scan(scan(SHA_C, "https://img.example.com/c.jpg", [wx], shop_id="S1"))
        qq2 = finding("qq", "55512345", "QQ 55512345", "qq.keyword", 0.5)
        s.save_scan(scan(SHA_A2, "https://img.example.com/a2.jpg", [qq2]))
        s.save_scan(scan(SHA_D, "https://img.example.com/d.jpg", []))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'qqscan.sqlite3'}"


@pytest.fixture
def seeded(url: str) -> str:
    seed(url)
    with ReviewStore(url) as s:
        s.accounts.add("alice", PW, "moderator")
        s.accounts.add("bob", PW, "moderator")
        s.accounts.add("root", PW, "admin")
    return url


_tokens: dict[tuple[str, str], str] = {}


def token_for(url: str, name: str) -> str:
    """NAME's personal token, issued as `qqscan users token NAME` does (after its password)."""
    if (url, name) not in _tokens:
        args = ["users", "token", name, "--password-stdin"]
        r = CliRunner().invoke(cli, args, input=PW + "\n", env={"QQSCAN_DATABASE_URL": url})
        assert r.exit_code == 0, r.output
        _tokens[url, name] = r.stdout.strip()
    return _tokens[url, name]


def run(url: str, *args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> Result:
    """`qqscan ARGS` on the store at url. The account named by --as (or QQSCAN_REVIEWER) proves itself with
    its personal token, unless the test sets QQSCAN_REVIEW_TOKEN itself."""
    full_env: dict[str, str | None] = {"QQSCAN_DATABASE_URL": url, "QQSCAN_REVIEWER": None}
    full_env.update(env or {})
    acting = args[args.index("--as") + 1] if "--as" in args[:-1] else full_env.get("QQSCAN_REVIEWER")
    if acting and "QQSCAN_REVIEW_TOKEN" not in full_env:
        with ReviewStore(url) as s:
            known = any(u.name == acting and not u.disabled for u in s.accounts.users())
        full_env["QQSCAN_REVIEW_TOKEN"] = token_for(url, acting) if known else None
    return CliRunner().invoke(cli, list(args), input=input, env=full_env, catch_exceptions=False)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def store(url: str) -> ReviewStore:
    return ReviewStore(url)


def status_of(url: str, sha: str) -> str:
    with store(url) as s:
        item = s.queue.item(sha)
    assert item is not None
    return item["review_status"]


def allow_list(url: str) -> list[Allowed]:
    """The allow-list entries in force, as the scan pipeline reads them."""
    with Store(url) as s:
        return s.allowlist()


# --- users ------------------------------------------------------------------------------------------------


def test_users_add_list_disable_enable(url: str) -> None:
    ok(run(url, "users", "add", "alice", "--password-stdin", input=f"{PW}\nignored second line\n"))
    r = ok(run(url, "users", "add", "root", "--role", "admin", input=f"{PW}2\n{PW}2\n"))
    assert "added admin root" in r.output
    with store(url) as s:
        assert s.accounts.verify("alice", PW) is not None  # the first line only, without its newline
        assert s.accounts.verify("root", PW + "2").role == "admin"
        assert s.accounts.verify("alice", "ignored second line") is None

    lines = ok(run(url, "users", "list")).output.splitlines()
    assert lines[0].split() == ["name", "role", "enabled"]
    assert lines[1].split() == ["alice", "moderator", "yes"]
    assert lines[2].split() == ["root", "admin", "yes"]

    ok(run(url, "users", "disable", "alice"))
    rows = [json.loads(x) for x in ok(run(url, "users", "list", "--json")).output.splitlines()]
    assert rows == [
        {"name": "alice", "role": "moderator", "enabled": False},
        {"name": "root", "role": "admin", "enabled": True},
    ]
    with store(url) as s:
        assert s.accounts.verify("alice", PW) is None
    ok(run(url, "users", "enable", "alice"))
    assert "alice  moderator  yes" in run(url, "users", "list").output

    r = run(url, "users", "disable", "nobody")
    assert r.exit_code == 1 and "no user 'nobody'" in r.output


def test_users_add_refuses_bad_passwords_and_duplicates(url: str) -> None:
    r = run(url, "users", "add", "alice", "--password-stdin", input="short\n")
    assert r.exit_code == 1 and "at least 8 characters" in r.output
    r = run(url, "users", "add", "alice", "--password-stdin", input="\n")
    assert r.exit_code == 1 and "no password" in r.output
    # Typed twice, differently: click asks again; stdin runs out, so it aborts.
    r = run(url, "users", "add", "alice", input="first-password\nsecond-password\n")
    assert r.exit_code == 1 and "do not match" in r.output
    r = run(url, "users", "add", "bad name", "--password-stdin", input=f"{PW}\n")
    assert r.exit_code == 1 and "without spaces" in r.output
    with store(url) as s:
        assert s.accounts.users() == []

    ok(run(url, "users", "add", "alice", "--password-stdin", input=f"{PW}\n"))
    r = run(url, "users", "add", "alice", "--password-stdin", input=f"{PW}\n")
    assert r.exit_code == 1 and "already exists" in r.output
    assert len(store(url).accounts.users()) == 1


def test_users_passwd(url: str) -> None:
    ok(run(url, "users", "add", "alice", "--password-stdin", input=f"{PW}\n"))
    ok(run(url, "users", "passwd", "alice", "--password-stdin", input="new-password-1\n"))
    with store(url) as s:
        assert s.accounts.verify("alice", PW) is None
        assert s.accounts.verify("alice", "new-password-1") is not None
    r = run(url, "users", "passwd", "alice", "--password-stdin", input="short\n")
    assert r.exit_code == 1 and "at least 8" in r.output
    ok(run(url, "users", "passwd", "alice", input="typed-password\ntyped-password\n"))
    assert store(url).accounts.verify("alice", "typed-password") is not None
    r = run(url, "users", "passwd", "zed", "--password-stdin", input=f"{PW}\n")
    assert r.exit_code == 1 and "no user 'zed'" in r.output


def test_users_sessions_and_logout_everywhere(db_url: str) -> None:
    from review.app import create_app
    from tests.test_review_app import login as web_login

    ok(run(db_url, "users", "add", "alice", "--password-stdin", input=f"{PW}\n"))
    ok(run(db_url, "users", "add", "bob", "--password-stdin", input=f"{PW}\n"))
    assert ok(run(db_url, "users", "sessions")).output.strip() == "nobody is logged in"
    with store(db_url) as s:
        app = create_app(s)
        browsers = [app.test_client() for _ in range(3)]
        for c, name in zip(browsers, ("alice", "alice", "bob"), strict=True):
            assert web_login(c, name, PW).status_code == 302
        out = ok(run(db_url, "users", "sessions")).output.splitlines()
        assert out[0].split()[:3] == ["user", "since", "(UTC)"]
        assert sorted(line.split()[0] for line in out[1:]) == ["alice", "alice", "bob"]
        assert all("127.0.0.1" in line for line in out[1:])
        listed = [json.loads(x) for x in ok(run(db_url, "users", "sessions", "--json")).output.splitlines()]
        assert sorted(x["user"] for x in listed) == ["alice", "alice", "bob"] and "id" not in listed[0]

        r = ok(run(db_url, "users", "logout", "alice"))
        assert "logged alice out everywhere: 2 sessions ended" in r.output
        assert [c.get("/").status_code for c in browsers] == [302, 302, 200]  # bob is still in
        assert ok(run(db_url, "users", "logout", "alice")).output.strip().endswith("0 sessions ended")
        assert [a["actor"] for a in s.audit.log() if a["action"] == "sessions_end"] == ["cli", "cli"]
    r = run(db_url, "users", "logout", "zed")
    assert r.exit_code == 1 and "no user 'zed'" in r.output


def test_installed_command_adds_user_from_stdin(url: str) -> None:
    def add_alice() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [QQSCAN, "users", "add", "alice", "--password-stdin"],
            input=f"{PW}\n",
            capture_output=True,
            text=True,
            env={**os.environ, "QQSCAN_DATABASE_URL": url},
            timeout=60,
        )

    p = add_alice()
    assert p.returncode == 0, p.stderr
    assert "added moderator alice" in p.stdout
    with store(url) as s:
        assert s.accounts.verify("alice", PW) is not None
    p = add_alice()
    assert p.returncode == 1 and "already exists" in p.stderr


def test_store_errors_are_one_line_without_password() -> None:
    r = run("mysql://u:pw@localhost/db", "users", "list")
    assert r.exit_code == 2 and "unsupported database" in r.output
    assert "Traceback" not in r.output
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    r = run(f"postgresql://u:hunter2secret@127.0.0.1:{port}/db", "review", "list")
    assert r.exit_code == 3 and "unavailable" in r.output
    assert "hunter2secret" not in r.output


# --- list / show ------------------------------------------------------------------------------------------


def test_list_table_filters_and_pages(seeded: str) -> None:
    r = ok(run(seeded, "review", "list"))
    lines = r.output.splitlines()
    assert lines[0].split()[:5] == ["sha", "status", "conf", "types", "values"]
    assert [x.split()[0] for x in lines[1:5]] == [s[:12] for s in (SHA_A2, SHA_C, SHA_B, SHA_A)]
    row_a = lines[4]
    assert row_a.split()[1:5] == ["pending", "0.93", "qq", QQ]
    assert "https://img.example.com/a.jpg (+1)" in row_a
    assert SHA_D[:12] not in r.output  # clean images are not in the queue
    assert "pending: 4  violation: 0  false_positive: 0  escalated: 0" in r.output
    assert lines[-1] == "page 1/1 (4 image(s))"

    def listed(*args: str) -> list[str]:
        out = ok(run(seeded, "review", "list", "--json", *args)).output
        return [json.loads(line)["sha256"] for line in out.splitlines()]

    assert listed("--type", "phone") == [SHA_B]
    assert listed("--shop", "S1") == [SHA_C, SHA_A]
    assert listed("--rule", "qq.keyword") == [SHA_A2, SHA_A]
    assert listed("--sort", "confidence") == [SHA_A, SHA_C, SHA_B, SHA_A2]
    assert listed("--per-page", "3", "--page", "2") == [SHA_A]
    today = datetime.now(UTC).date()
    assert len(listed("--since", today.isoformat(), "--until", today.isoformat())) == 4
    assert listed("--since", (today + timedelta(days=1)).isoformat()) == []
    assert listed("--until", (today - timedelta(days=1)).isoformat()) == []

    out = ok(run(seeded, "review", "list", "--per-page", "3")).output
    assert out.splitlines()[-1] == "page 1/2 (4 image(s))"

    item = json.loads(ok(run(seeded, "review", "list", "--json", "--type", "wechat")).output)
    assert item["review_status"] == "pending" and item["types"] == ["wechat"]
    assert item["findings"][0]["value"] == WECHAT and item["shops"] == ["S1"]
    datetime.fromisoformat(item["scanned_at"])

    ok(run(seeded, "review", "decide", SHA_B[:8], "--status", "violation", "--as", "alice"))
    assert listed() == [SHA_A2, SHA_C, SHA_A]
    assert listed("--status", "violation") == [SHA_B]
    assert len(listed("--status", "all")) == 4
    out = ok(run(seeded, "review", "list", "--status", "escalated")).output
    assert "no images match" in out and "pending: 3  violation: 1" in out

    r = run(seeded, "review", "list", "--since", "yesterday")
    assert r.exit_code == 2 and "'yesterday': use an ISO time" in r.output  # --since is one format everywhere
    r = run(seeded, "review", "list", "--until", "9999-12-31")
    assert r.exit_code == 2 and "until 9999-12-31 is out of range" in r.output and "Traceback" not in r.output


def test_show_by_prefix(seeded: str) -> None:
    ok(
        run(
            seeded,
            "review",
            "decide",
            SHA_A[:10],
            "--status",
            "escalated",
            "--as",
            "bob",
            "--note",
            "ask legal",
        )
    )
    out = ok(run(seeded, "review", "show", SHA_A[:10])).output
    assert out.splitlines()[0] == f"image {SHA_A}"
    assert "status     escalated" in out
    assert "rules 2026.11.1" in out
    assert f"[0] qq {QQ}  rule qq.keyword  conf 0.93  frame 0  box (10,20)-(200,50)  text '扣扣{QQ}'" in out
    assert f"OCR lines (1):\n  frame 0  0.97  box (10,20)-(200,50)  扣扣{QQ}" in out
    assert "https://img.example.com/a.jpg  listing_id L1  shop_id S1" in out
    assert "https://img.example.com/a-copy.jpg  listing_id L9  shop_id S1" in out
    assert "bob: pending -> escalated  note 'ask legal'" in out

    item = json.loads(ok(run(seeded, "review", "show", SHA_A.upper()[:12], "--json")).output)
    assert item["sha256"] == SHA_A and item["review_status"] == "escalated"
    assert [f["value"] for f in item["findings"]] == [QQ]
    assert [s["url"] for s in item["sources"]] == [
        "https://img.example.com/a.jpg",
        "https://img.example.com/a-copy.jpg",
    ]
    assert item["decisions"][0]["reviewer"] == "bob" and item["scan"]["rules_version"] == "2026.11.1"

    r = run(seeded, "review", "show", "abcdef")
    assert r.exit_code == 1 and "several images start with abcdef" in r.output
    r = run(seeded, "review", "show", "123456")
    assert r.exit_code == 1 and "no image whose hash starts with 123456" in r.output
    r = run(seeded, "review", "show", "abc")
    assert r.exit_code == 1 and "at least 6 hex digits" in r.output


# --- decide / undo ----------------------------------------------------------------------------------------


def test_decide_persists_with_history(seeded: str) -> None:
    r = ok(
        run(
            seeded,
            "review",
            "decide",
            SHA_A[:8] + "0",
            "--status",
            "violation",
            "--as",
            "alice",
            "--note",
            "QQ",
        )
    )
    assert f"{SHA_A[:12]} -> violation (by alice)" in r.output
    assert status_of(seeded, SHA_A) == "violation"
    # The reviewer from the environment.
    ok(run(seeded, "review", "decide", SHA_C, "--status", "false_positive", env={"QQSCAN_REVIEWER": "bob"}))
    with store(seeded) as s:
        hist = s.decisions.history()
        assert [(h["sha256"], h["status"], h["reviewer"], h["note"], h["action"]) for h in hist] == [
            (SHA_C, "false_positive", "bob", None, "decide"),
            (SHA_A, "violation", "alice", "QQ", "decide"),
        ]
        assert hist[1]["previous_status"] == "pending"
        assert s.queue.page(QueueFilter(status=None)).counts["violation"] == 1


def test_decide_needs_a_real_enabled_user(seeded: str) -> None:
    r = run(seeded, "review", "decide", SHA_A[:8] + "0", "--status", "violation", "--as", "mallory")
    assert r.exit_code == 1 and "no review account 'mallory'" in r.output
    r = run(seeded, "review", "decide", SHA_A[:8] + "0", "--status", "violation")
    assert r.exit_code == 2 and "QQSCAN_REVIEWER" in r.output
    ok(run(seeded, "users", "disable", "alice"))
    r = run(seeded, "review", "decide", SHA_B, "--status", "violation", env={"QQSCAN_REVIEWER": "alice"})
    assert r.exit_code == 1 and "disabled" in r.output
    # One unknown hash among several: nothing is decided.
    r = run(seeded, "review", "decide", SHA_B, "eeeeeeee", "--status", "violation", "--as", "bob")
    assert r.exit_code == 1 and "no image whose hash starts with eeeeeeee" in r.output
    r = run(seeded, "review", "decide", SHA_B, "--status", "approved", "--as", "bob")
    assert r.exit_code == 2
    with store(seeded) as s:
        assert Store(s.db).count("decisions") == 0
        assert s.queue.page(QueueFilter(status=None)).counts["pending"] == 4


def test_acting_as_an_account_needs_its_password_or_token(seeded: str) -> None:
    """Issue #21 item 7: --as alone proves nothing. Without a terminal to ask the password on and without a
    token, or with a wrong or revoked token, the command exits 1 and writes nothing."""
    decide = ("review", "decide", SHA_B, "--status", "violation", "--as", "root")
    r = run(seeded, *decide, env={"QQSCAN_REVIEW_TOKEN": None})
    assert r.exit_code == 1 and "needs its password" in r.output and "qqscan users token root" in r.output
    r = run(seeded, *decide, env={"QQSCAN_REVIEW_TOKEN": token_for(seeded, "bob")})  # bob's is not root's
    assert r.exit_code == 1 and "cannot act as root" in r.output
    wrong = run(seeded, "users", "token", "root", "--password-stdin", input="not the password\n")
    assert wrong.exit_code == 1 and "wrong password" in wrong.output and wrong.stdout.count("\n") <= 1
    with store(seeded) as s:
        assert Store(s.db).count("decisions") == 0
        assert not [a for a in s.audit.log(limit=1000) if a["action"] == "terminal_auth"]
    ok(run(seeded, *decide))  # with root's own token
    with store(seeded) as s:
        (auth,) = [a for a in s.audit.log(actor="root") if a["action"] == "terminal_auth"]
        assert auth["detail"]["auth"] == "token"
        assert auth["detail"]["host"] and auth["detail"]["os_user"]
    ok(run(seeded, "users", "logout", "root"))  # log out everywhere: the token goes too
    revoked = {"QQSCAN_REVIEW_TOKEN": token_for(seeded, "root")}
    r = run(seeded, *decide[:4], "pending", "--as", "root", env=revoked)
    assert r.exit_code == 1 and "expired or revoked" in r.output
    assert status_of(seeded, SHA_B) == "violation"


def test_bulk_decide_and_undo(seeded: str) -> None:
    r = ok(run(seeded, "review", "decide", SHA_A, SHA_B[:6], SHA_B, "--status", "escalated", "--as", "alice"))
    assert r.output.count("-> escalated") == 2  # the same image twice is decided once
    assert status_of(seeded, SHA_A) == status_of(seeded, SHA_B) == "escalated"
    with store(seeded) as s:
        assert {(h["sha256"], h["action"]) for h in s.decisions.history()} == {
            (SHA_A, "bulk"),
            (SHA_B, "bulk"),
        }

    ok(run(seeded, "review", "decide", SHA_C, "--status", "violation", "--as", "alice"))
    r = ok(run(seeded, "review", "undo", "--as", "alice"))
    assert f"on {SHA_C[:12]}: violation -> pending" in r.output
    assert status_of(seeded, SHA_C) == "pending"
    r = ok(run(seeded, "review", "undo", env={"QQSCAN_REVIEWER": "alice"}))  # the bulk one, next back
    assert "escalated -> pending" in r.output
    assert "nothing to undo for bob" in ok(run(seeded, "review", "undo", "--as", "bob")).output

    # Someone else changed the image after alice's decision: her undo is refused, nothing changes.
    ok(run(seeded, "review", "decide", SHA_C, "--status", "violation", "--as", "alice"))
    ok(run(seeded, "review", "decide", SHA_C, "--status", "false_positive", "--as", "bob"))
    with Store(seeded) as s:
        before = s.count("decisions")
    r = run(seeded, "review", "undo", "--as", "alice")
    assert r.exit_code == 1 and "cannot undo" in r.output and "by bob" in r.output
    assert status_of(seeded, SHA_C) == "false_positive"
    with Store(seeded) as s:
        assert s.count("decisions") == before
    r = run(seeded, "review", "undo", "--as", "nobody")
    assert r.exit_code == 1 and "no review account" in r.output


def test_decide_allow_adds_allow_list_entries(seeded: str) -> None:
    r = run(seeded, "review", "decide", SHA_A, "--status", "violation", "--allow", "--as", "alice")
    assert r.exit_code == 2 and "false_positive" in r.output
    r = run(seeded, "review", "decide", SHA_A, "--status", "violation", "--allow-shop", "S1", "--as", "alice")
    assert r.exit_code == 2 and "--allow-shop goes with --allow" in r.output
    # the scope is the request's, and must be a shop every decided image was seen in: B was not in S1,
    # so nothing is written for either image (one transaction)
    fp = ("--status", "false_positive", "--allow", "--as", "alice")
    r = run(seeded, "review", "decide", SHA_A, SHA_B, *fp, "--allow-shop", "S1")
    assert r.exit_code == 1 and "was not seen in shop S1" in r.output
    assert store(seeded).allowlist.entries() == [] and status_of(seeded, SHA_A) == "pending"
    r = ok(run(seeded, "review", "decide", SHA_A, *fp, "--allow-shop", "S1"))
    assert f"qq {QQ} (shop S1)" in r.output
    r = ok(run(seeded, "review", "decide", SHA_B, *fp[:-1], "root"))  # an admin's entry for every shop
    assert f"allow-listed #2: phone {PHONE} (all shops)" in r.output  # no --allow-shop: every shop
    with store(seeded) as s:
        allowed = {(a.kind, a.value, a.contact_type, a.shop_id) for a in Store(s.db).allowlist()}
        assert allowed == {("value", QQ, "qq", "S1"), ("value", PHONE, "phone", None)}
        assert {e["created_by"] for e in s.allowlist.entries()} == {"alice", "root"}
        assert status_of(seeded, SHA_A) == "false_positive"
    r = ok(run(seeded, "review", "decide", SHA_A, *fp[:-1], "bob", "--allow-shop", "S1"))
    assert f"already allowed: qq {QQ} (shop S1)" in r.output and "nothing new to add" in r.output
    assert len(allow_list(seeded)) == 2


def test_undo_of_an_allow_listing_decision_names_the_entries_and_offers_removal(seeded: str) -> None:
    fp = ("--status", "false_positive", "--allow", "--allow-shop", "S1")
    ok(run(seeded, "review", "decide", SHA_A, *fp, "--as", "alice"))
    with store(seeded) as s:
        (entry,) = s.allowlist.entries()
        assert entry["decision_id"] == s.decisions.history(sha256=SHA_A, limit=1)[0]["id"]
    # not a terminal and no flag: kept, and the output says which entries and how to remove them
    r = ok(run(seeded, "review", "undo", "--as", "alice"))
    assert "false_positive -> pending" in r.output
    assert f"allow-listed 1 value(s), still in force:\n  #{entry['id']} qq {QQ} (shop S1)" in r.output
    assert f"qqscan review allow remove {entry['id']}" in r.output
    assert len(allow_list(seeded)) == 1

    # --remove-allow removes them with the undo
    ok(run(seeded, "review", "decide", SHA_B, "--status", "false_positive", "--allow", "--as", "bob"))
    r = ok(run(seeded, "review", "undo", "--as", "bob", "--remove-allow"))
    with store(seeded) as s:
        assert [a.value for a in Store(s.db).allowlist()] == [
            QQ
        ]  # bob's phone entry went, alice's QQ entry stayed
        (phone,) = [e for e in s.allowlist.entries(include_removed=True) if e["value"] == PHONE]
    assert f"removed allow-list entry #{phone['id']}" in r.output and phone["removed_by"] == "bob"

    # an admin removes several at once
    r = ok(run(seeded, "review", "allow", "remove", str(entry["id"]), "--as", "root"))
    assert allow_list(seeded) == []
    assert run(seeded, "review", "allow", "remove", str(entry["id"]), "--as", "root").exit_code == 1


def test_a_moderators_allow_listing_for_every_shop_waits_for_an_admin(seeded: str) -> None:
    fp = ("--status", "false_positive", "--allow")
    r = ok(run(seeded, "review", "decide", SHA_B, *fp, "--as", "alice"))  # alice is a moderator
    assert f"requested #1: phone {PHONE} (all shops), in force once approved" in r.output
    assert "qqscan review allow approve 1" in r.output
    assert allow_list(seeded) == [] and status_of(seeded, SHA_B) == "false_positive"
    r = ok(run(seeded, "review", "decide", SHA_B, *fp, "--as", "bob"))  # asked again: no second request
    assert f"already requested: phone {PHONE} (all shops) by request #1" in r.output
    ok(run(seeded, "review", "decide", SHA_C, *fp, "--as", "bob"))
    pending = ok(run(seeded, "review", "allow", "pending")).output
    assert "AWAITING APPROVAL" in pending and PHONE in pending and WECHAT in pending
    assert "the allow-list is empty" in ok(run(seeded, "review", "allow", "list")).output

    r = run(seeded, "review", "allow", "approve", "1", "--as", "alice")
    assert r.exit_code == 1 and "needs an admin" in r.output
    r = run(seeded, "review", "allow", "approve", "1", "3", "--as", "root")  # all or nothing
    assert r.exit_code == 1 and "no allow-list request #3 waiting" in r.output and allow_list(seeded) == []
    r = ok(run(seeded, "review", "allow", "approve", "1", "--as", "root"))
    assert f"approved #1: phone {PHONE} (all shops)" in r.output
    assert allow_list(seeded) == [Allowed(1, "value", PHONE, "phone", None)]
    r = ok(run(seeded, "review", "allow", "reject", "2", "--note", "a real seller", "--as", "root"))
    assert f"rejected #2: wechat {WECHAT}" in r.output
    assert allow_list(seeded) == [Allowed(1, "value", PHONE, "phone", None)]
    assert "no requests waiting" in ok(run(seeded, "review", "allow", "pending")).output
    assert run(seeded, "review", "allow", "approve", "2", "--as", "root").exit_code == 1
    shown = ok(run(seeded, "review", "allow", "list", "--all")).output
    assert "REJECTED" in shown and "by root" in shown
    with store(seeded) as s:
        audit = [(e["actor"], e["action"], e["target"]) for e in s.audit.log()]
    assert ("alice", "allow_request", "1") in audit and ("bob", "allow_request", "2") in audit
    assert ("root", "allow_approve", "1") in audit and ("root", "allow_reject", "2") in audit


def test_undo_asks_on_a_terminal(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ok(run(seeded, "review", "decide", SHA_A, "--status", "false_positive", "--allow", "--as", "alice"))
    # CliRunner's stdin is not a terminal; pretend it is, as only a person at a terminal is asked
    monkeypatch.setattr("qqscan.review_cmds._interactive", lambda: True)
    r = ok(run(seeded, "review", "undo", "--as", "alice", input="y\n"))
    assert "remove these allow-list entries too? [y/N]" in r.output and "removed allow-list entry" in r.output
    assert allow_list(seeded) == []


# --- export -----------------------------------------------------------------------------------------------


def test_export_csv_and_json(seeded: str, tmp_path: Path) -> None:
    ok(run(seeded, "review", "decide", SHA_A, "--status", "violation", "--as", "alice", "--note", "qq 联系"))
    ok(run(seeded, "review", "decide", SHA_C, "--status", "violation", "--as", "bob"))
    ok(run(seeded, "review", "decide", SHA_B, "--status", "false_positive", "--as", "bob"))
    ok(run(seeded, "review", "decide", SHA_A2, "--status", "violation", "--as", "bob"))
    ok(run(seeded, "review", "decide", SHA_A2, "--status", "pending", "--as", "bob"))  # reset: not exported

    r = ok(run(seeded, "review", "export"))
    raw = r.stdout_bytes.decode("utf-8")
    assert f"微信 {WECHAT}" in raw
    rows = list(csv.DictReader(io.StringIO(raw)))
    with store(seeded) as s:
        keys = list(next(s.queue.violations()).keys())
    assert raw.splitlines()[0].split(",") == keys == list(EXPORT_COLUMNS)
    got = sorted((row["url"], row["value"], row["reviewer"], row["type"]) for row in rows)
    assert got == [
        ("https://img.example.com/a-copy.jpg", QQ, "alice", "qq"),
        ("https://img.example.com/a.jpg", QQ, "alice", "qq"),
        ("https://img.example.com/c.jpg", WECHAT, "bob", "wechat"),
    ]
    a_row = next(row for row in rows if row["url"].endswith("/a.jpg"))
    assert a_row["note"] == "qq 联系" and a_row["shop_id"] == "S1" and a_row["listing_id"] == "L1"
    assert "exported 3 row(s)" in r.stderr

    data = json.loads(ok(run(seeded, "review", "export", "--format", "json")).stdout)
    assert sorted(d["value"] for d in data) == [QQ, QQ, WECHAT]
    assert {d["sha256"] for d in data} == {SHA_A, SHA_C}
    lines = ok(run(seeded, "review", "export", "--format", "jsonl")).stdout.splitlines()
    assert [json.loads(x)["url"] for x in lines] == [d["url"] for d in data]

    out = tmp_path / "v.json"
    r = ok(run(seeded, "review", "export", "--format", "json", "-o", str(out)))
    assert r.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8")) == data
    assert f"微信 {WECHAT}" in out.read_text(encoding="utf-8")  # not \u-escaped

    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    empty = ok(run(seeded, "review", "export", "--since", tomorrow)).stdout
    assert empty.splitlines() == [",".join(keys)]
    assert (
        json.loads(ok(run(seeded, "review", "export", "--format", "json", "--since", tomorrow)).stdout) == []
    )


RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "s" + RLO + "gnp.exe" shows as "sexe.png"


def hostile_violation(url: str) -> None:
    """A confirmed violation whose seller-controlled text starts with spreadsheet formulas and carries bidi
    overrides and a terminal escape."""
    with ReviewStore(url) as s:
        results = Store(s.db)
        qq = finding("qq", "-391287654", '=HYPERLINK("http://x","y")', "qq.keyword", 0.9)
        results.save_scan(
            scan(SHA_A, "https://img.example.com/a.jpg", [qq], shop_id="@SUM(1+1)", listing_id="+L1",
                 page_url="\t=1+1", lines=[{"text": f"s{RLO}gnp.exe \x1b[2J QQ", "score": 0.9, "frame": 0}])
        )  # fmt: skip
        results.save_scan(scan(SHA_C, "https://img.example.com/c.jpg", [qq], shop_id=f"s{RLO}gnp.exe"))
        s.accounts.add("alice", PW)
        s.decisions.record(SHA_A, "violation", reviewer="alice", note="-2+3")
        s.decisions.record(SHA_C, "violation", reviewer="alice", note=f"ok{RLO}\u2066 then \u200f")


def test_export_csv_escapes_formula_cells_and_shows_bidi_controls(url: str) -> None:
    hostile_violation(url)
    raw = ok(run(url, "review", "export")).stdout_bytes.decode("utf-8")
    assert RLO not in raw and "\u2066" not in raw and "\u200f" not in raw
    rows = {r["sha256"]: r for r in csv.DictReader(io.StringIO(raw))}
    a, c = rows[SHA_A], rows[SHA_C]
    # OWASP: a cell starting with = + - @ tab or CR is prefixed with ' (every text column)
    assert a["value"] == "'-391287654"
    assert a["text"] == '\'=HYPERLINK("http://x","y")'
    assert a["shop_id"] == "'@SUM(1+1)" and a["listing_id"] == "'+L1" and a["page_url"] == "'\t=1+1"
    assert a["note"] == "'-2+3"
    assert a["url"] == "https://img.example.com/a.jpg" and a["confidence"] == "0.9"  # the rest as is
    assert c["shop_id"] == "s<U+202E>gnp.exe"
    assert c["note"] == "ok<U+202E><U+2066> then <U+200F>"
    for row in rows.values():
        for key, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (key, cell)

    # JSON keeps the exact text, the controls written as \u escapes
    out = ok(run(url, "review", "export", "--format", "jsonl")).stdout
    assert RLO not in out and "\\u202e" in out
    data = {d["sha256"]: d for d in map(json.loads, out.splitlines())}
    assert data[SHA_C]["shop_id"] == f"s{RLO}gnp.exe" and data[SHA_A]["value"] == "-391287654"


def test_terminal_output_shows_bidi_and_control_characters(url: str) -> None:
    hostile_violation(url)
    shown = ok(run(url, "review", "show", SHA_A)).output + ok(run(url, "review", "show", SHA_C)).output
    shown += ok(run(url, "review", "list", "--status", "all")).output
    assert RLO not in shown and "\x1b" not in shown and "\u2066" not in shown
    assert "s<U+202E>gnp.exe <U+001B>[2J QQ" in shown  # the OCR line
    assert "shop_id s<U+202E>gnp.exe" in shown  # the source's shop
    as_json = ok(run(url, "review", "show", SHA_C, "--json")).output
    assert RLO not in as_json and json.loads(as_json)["sources"][0]["shop_id"] == f"s{RLO}gnp.exe"


# --- allow-list -------------------------------------------------------------------------------------------


def test_allow_list_editing_needs_admin(seeded: str) -> None:
    r = run(seeded, "review", "allow", "add", "400-820-8820", "--type", "phone", "--as", "alice")
    assert r.exit_code == 1 and "needs an admin" in r.output
    assert store(seeded).allowlist.entries() == []

    r = ok(
        run(
            seeded,
            "review",
            "allow",
            "add",
            "400-820-8820",
            "--type",
            "phone",
            "--shop",
            "S2",
            "--as",
            "root",
        )
    )
    assert "allow-listed #1" in r.output
    ok(
        run(
            seeded,
            "review",
            "allow",
            "add",
            "官方客服",
            "--kind",
            "phrase",
            "--note",
            "slogan",
            "--as",
            "root",
        )
    )
    entries = [
        json.loads(x) for x in ok(run(seeded, "review", "allow", "list", "--json")).output.splitlines()
    ]
    assert [
        (e["id"], e["kind"], e["value"], e["contact_type"], e["shop_id"], e["created_by"]) for e in entries
    ] == [
        (1, "value", "400-820-8820", "phone", "S2", "root"),
        (2, "phrase", "官方客服", None, None, "root"),
    ]
    table = ok(run(seeded, "review", "allow", "list")).output
    assert "400-820-8820" in table and "官方客服" in table and "'slogan'" in table

    r = run(seeded, "review", "allow", "remove", "1", "--as", "bob")
    assert r.exit_code == 1 and "needs an admin" in r.output
    ok(run(seeded, "review", "allow", "remove", "1", env={"QQSCAN_REVIEWER": "root"}))
    with store(seeded) as s:
        assert [a.id for a in Store(s.db).allowlist()] == [2]
    r = run(seeded, "review", "allow", "remove", "1", "--as", "root")
    assert r.exit_code == 1 and "no active allow-list entry #1" in r.output
    assert "400-820-8820" not in ok(run(seeded, "review", "allow", "list")).output
    assert "REMOVED" in ok(run(seeded, "review", "allow", "list", "--all")).output
    r = run(seeded, "review", "allow", "add", "x", "--kind", "regex", "--as", "root")
    assert r.exit_code == 2


# --- SQLite and PostgreSQL --------------------------------------------------------------------------------


def test_round_trip_on_each_database(db_url: str) -> None:
    seed(db_url)
    ok(run(db_url, "users", "add", "alice", "--password-stdin", input=f"{PW}\n"))
    ok(run(db_url, "users", "add", "root", "--role", "admin", "--password-stdin", input=f"{PW}\n"))
    assert len(ok(run(db_url, "review", "list", "--json", "--shop", "S1")).output.splitlines()) == 2
    ok(run(db_url, "review", "decide", SHA_A[:8] + "0", SHA_C[:8], "--status", "violation", "--as", "alice"))
    ok(run(db_url, "review", "decide", SHA_B, "--status", "false_positive", "--allow", "--as", "alice"))
    rows = list(csv.DictReader(io.StringIO(ok(run(db_url, "review", "export")).stdout)))
    assert sorted(r["value"] for r in rows) == [QQ, QQ, WECHAT]
    assert {r["reviewer"] for r in rows} == {"alice"}
    r = ok(run(db_url, "review", "undo", "--as", "alice"))
    assert "false_positive -> pending" in r.output and "a request awaiting an admin" in r.output
    waiting = ok(run(db_url, "review", "allow", "pending")).output
    assert f"    1  value  phone   all          {PHONE}" in waiting
    ok(run(db_url, "review", "allow", "approve", "1", "--as", "root"))
    with store(db_url) as s:
        assert [a.value for a in Store(s.db).allowlist()] == [PHONE]
    ok(run(db_url, "review", "allow", "remove", "1", "--as", "root"))
    with store(db_url) as s:
        assert Store(s.db).allowlist() == []
        assert s.queue.page(QueueFilter(status=None)).counts == {
            "pending": 2,
            "violation": 2,
            "false_positive": 0,
            "escalated": 0,
        }


def test_users_disable_on_each_database(db_url: str) -> None:
    ok(run(db_url, "users", "add", "alice", "--password-stdin", input=f"{PW}\n"))
    ok(run(db_url, "users", "disable", "alice"))
    assert ok(run(db_url, "users", "list")).output.splitlines()[1].split() == ["alice", "moderator", "no"]


# --- serve ------------------------------------------------------------------------------------------------


def test_serve_options(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    help_text = ok(run(url, "review", "serve", "--help")).output
    for opt in ("--host", "--port", "--cookie-secure / --no-cookie-secure", "--threads"):
        assert opt in help_text
    calls: list[dict[str, Any]] = []
    fake = types.ModuleType("review.server")
    fake.run = lambda **kw: calls.append(kw)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "review.server", fake)
    ok(run(url, "review", "serve"))
    ok(
        run(
            url, "review", "serve", "--host", "0.0.0.0", "--port", "9000", "--cookie-secure", "--threads", "8"
        )
    )
    ok(run(url, "review", "serve", "--no-cookie-secure", "--no-access-log", "-v"))
    log = Path(url.removeprefix("sqlite:///")).with_name("access.log")
    ok(run(url, "review", "serve", "--port", "0", "--access-log", str(log)))
    logs = [c.pop("access_log") for c in calls]
    from store.database import database_url

    # the command's settings go down to the app: the store of --database-url (run passes it), read once
    assert {database_url(c.pop("settings")) for c in calls} == {url}
    assert calls == [
        {"host": "127.0.0.1", "port": 8080, "cookie_secure": None, "threads": 4, "verbose": False},
        {"host": "0.0.0.0", "port": 9000, "cookie_secure": True, "threads": 8, "verbose": False},
        {"host": "127.0.0.1", "port": 8080, "cookie_secure": False, "threads": 4, "verbose": True},
        {"host": "127.0.0.1", "port": 0, "cookie_secure": None, "threads": 4, "verbose": False},
    ]
    assert logs[0] is not None and logs[2] is None and logs[3].name == str(log) and logs[3].closed
    r = run(url, "review", "serve", "--access-log", str(log.parent / "missing" / "a.log"))
    assert r.exit_code == 1 and "cannot open the access log" in r.output
    assert run(url, "review", "serve", "--port", "70000").exit_code == 2


@pytest.fixture
def free_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


class Served:
    """The installed `qqscan review serve` in a subprocess, its stderr in a file."""

    def __init__(self, url: str, tmp: Path, *args: str) -> None:
        self.err = tmp / f"serve-{time.monotonic_ns()}.log"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen(
            [QQSCAN, "review", "serve", "--port", str(self.port), *args],
            env={**os.environ, "QQSCAN_DATABASE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=self.err.open("wb"),
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("review serve did not listen within 30 s")

    def get(self, path: str) -> int:
        with urllib.request.urlopen(self.base + path, timeout=10) as resp:
            resp.read()
            return resp.status

    def wait_for_lines(self, pattern: re.Pattern[str], n: int) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(pattern.findall(self.output())) < n:
            time.sleep(0.05)

    def output(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.output()


CLF = re.compile(
    r'^(\S+) - (\S+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "([^"]*)" (\d{3}) (\d+|-)$',
    re.MULTILINE,
)


def test_serve_says_where_after_binding_and_logs_each_request(url: str, tmp_path: Path) -> None:
    served = Served(url, tmp_path, "--no-cookie-secure")
    try:
        served.wait()
        assert served.get("/login?next=/history") == 200
        try:
            served.get("/nowhere")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
    finally:
        served.wait_for_lines(CLF, 2)  # a line is written once its response is finished
        out = served.stop()
    lines = out.splitlines()
    assert lines[0].startswith(f"qqscan review: serving http://127.0.0.1:{served.port}/ (database "), out
    log = [m.groups() for m in map(CLF.match, lines) if m]
    assert [(g[0], g[1], g[3], g[4]) for g in log] == [
        ("127.0.0.1", "-", "GET /login?next=/history HTTP/1.1", "200"),
        ("127.0.0.1", "-", "GET /nowhere HTTP/1.1", "404"),
    ], out
    assert int(log[0][5]) > 500 and datetime.strptime(log[0][2], "%d/%b/%Y:%H:%M:%S +0000")
    assert "Task queue depth" not in out and "Traceback" not in out


def test_serve_on_a_port_in_use_fails_with_one_line_and_no_serving_line(url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = subprocess.run(
            [QQSCAN, "review", "serve", "--port", str(port)],
            env={**os.environ, "QQSCAN_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"qqscan: cannot serve on 127.0.0.1:{port}: Address already in use"
    ], r.stderr
    assert "serving" not in r.stderr


def test_waitress_queue_warnings_only_with_verbose(url: str, tmp_path: Path) -> None:
    """One thread and 16 clients at once: requests wait for the thread, which waitress reports as
    "Task queue depth is N" warnings. Hidden by default; shown with -v (so the load really queues)."""
    from concurrent.futures import ThreadPoolExecutor

    def burst(*args: str) -> str:
        served = Served(url, tmp_path, "--threads", "1", "--no-access-log", *args)
        try:
            served.wait()
            for _ in range(5):
                with ThreadPoolExecutor(16) as pool:
                    assert set(pool.map(lambda _: served.get("/login"), range(64))) == {200}
                if args and "Task queue depth" in served.output():
                    break
        finally:
            out = served.stop()
        return out

    assert "Task queue depth" not in burst()
    assert "Task queue depth" in burst("-v")
