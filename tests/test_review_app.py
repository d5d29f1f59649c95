"""The review web app's accounts and security, through Flask's test client on a real SQLite store (a few
over PostgreSQL too, see test_review_pages.py): login/logout, refusal of anonymous requests on every
route, CSRF (enabled, tokens read from the rendered forms), the login rate limit, open redirects, escaping
of hostile data, security headers, evidence pictures, the 503 page, admin-only pages.

The helpers here (a template database with accounts, `seed`, `login`, `token`) are shared with
test_review_pages.py.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image
from sqlalchemy import create_engine

from review.app import CSP, create_app
from store.results import EvidenceBlob, Store
from store.review import ReviewStore

PASSWORD = "correct horse 42"
RULES = "2026.11.1"
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


# --- test data ------------------------------------------------------------------------------------------


def png(width: int, height: int, colour: tuple[int, int, int] = (220, 220, 220)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def sha_of(n: int | str) -> str:
    return hashlib.sha256(f"image-{n}".encode()).hexdigest()


def finding(
    type_: str = "qq",
    value: str | None = "391287654",
    *,
    text: str | None = None,
    rule: str | None = None,
    confidence: float = 0.9,
    box: Any = None,
    frame: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": type_,
        "value": value,
        "text": text if text is not None else f"扣扣{value}",
        "box": box if box is not None else [[20.0, 40.0], [120.0, 40.0], [120.0, 60.0], [20.0, 60.0]],
        "frame": frame,
        "confidence": confidence,
        "rule": rule or f"{type_}.keyword",
        **extra,
    }


def seed(
    store: ReviewStore,
    n: int | str,
    *,
    findings: list[dict[str, Any]] | None = None,
    url: str | None = None,
    shop: str | None = "shop-1",
    listing: str | None = "L-1",
    page_url: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    frames: int = 1,
    kept: int = 1,
    crop: bool = True,
    colour: tuple[int, int, int] = (220, 220, 220),
) -> str:
    """One scanned image with evidence: frame blobs 100x80 at scale 0.5 (the image is 200x160) and a crop
    per finding (scale 2 around its box). Returns its sha256."""
    sha = sha_of(n)
    fs = [finding()] if findings is None else findings
    result = {
        "sha256": sha,
        "source": url or f"https://img.example.com/{n}.jpg",
        "url": url or f"https://img.example.com/{n}.jpg",
        "shop_id": shop,
        "listing_id": listing,
        "page_url": page_url,
        "rules_version": RULES,
        "engine_version": "test-engine 1",
        "findings": fs,
        "lines": [{"text": f.get("text"), "score": 0.97, "frame": 0} for f in fs] if lines is None else lines,
        "width": 200,
        "height": 160,
        "format": "PNG",
        "frames": frames,
        "bytes": 4321,
    }
    evidence = []
    for i in range(kept):
        picture = png(100, 80, (colour[0], colour[1], (colour[2] + i) % 256))
        evidence.append(EvidenceBlob("frame", i, -1, "image/png", picture, 100, 80, scale=0.5))
    for i in range(len(fs) if crop else 0):
        picture = png(60, 30, (200, 30 + i, 30))
        evidence.append(EvidenceBlob("crop", 0, i, "image/png", picture, 60, 30, scale=2.0, x0=10, y0=30))
    assert Store(store.db).save_scan(result, evidence)
    return sha


# --- store, app, client -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite store with the accounts (argon2 hashing is slow on purpose: made once, copied)."""
    path = tmp_path_factory.mktemp("review-template") / "store.sqlite3"
    s = ReviewStore(f"sqlite:///{path}")
    s.accounts.add("alice", PASSWORD, "admin")
    s.accounts.add("bob", PASSWORD)
    s.accounts.add("carol", PASSWORD)
    s.accounts.secret_key()
    s.close()
    return path


@pytest.fixture
def store(template_db: Path, tmp_path: Path) -> Iterator[ReviewStore]:
    dst = tmp_path / "store.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(template_db) + suffix)
        if src.exists():
            shutil.copy(src, str(dst) + suffix)
    s = ReviewStore(f"sqlite:///{dst}")
    yield s
    s.close()


@pytest.fixture
def app(store: ReviewStore) -> Any:
    return create_app(store)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(client: Any, path: str = "/") -> str:
    """The CSRF token from a form on `path` (as a browser would have it)."""
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    m = TOKEN_RE.search(resp.get_data(as_text=True))
    assert m, f"no CSRF token in {path}"
    return m.group(1)


def login(client: Any, name: str = "alice", password: str = PASSWORD, next_: str | None = None) -> Any:
    data = {"csrf_token": token(client, "/login"), "username": name, "password": password}
    if next_ is not None:
        data["next"] = next_
    return client.post("/login", data=data)


@pytest.fixture
def alice(client: Any) -> Any:
    """The client logged in as alice (admin)."""
    assert login(client, "alice").status_code == 302
    return client


@pytest.fixture
def bob(client: Any) -> Any:
    """The client logged in as bob (moderator)."""
    assert login(client, "bob").status_code == 302
    return client


def text(resp: Any) -> str:
    return resp.get_data(as_text=True)


# --- login, logout, sessions ------------------------------------------------------------------------------


def test_login_page_has_a_csrf_form_and_every_security_header(client):
    resp = client.get("/login")
    assert resp.status_code == 200
    body = text(resp)
    assert 'id="login-form"' in body and 'name="username"' in body and 'name="password"' in body
    assert TOKEN_RE.search(body)
    assert resp.headers["Content-Security-Policy"] == CSP
    assert "unsafe-inline" not in CSP and "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    # no inline script or style anywhere (the CSP would block it)
    assert "<script>" not in body and "style=" not in body and "<style" not in body


def test_static_files_are_public_and_the_script_is_same_origin(client):
    js = client.get("/static/review.js")
    assert js.status_code == 200 and "javascript" in js.headers["Content-Type"]
    assert "decision-form" in text(js)
    js.close()
    css = client.get("/static/review.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    css.close()
    assert client.get("/favicon.ico").status_code == 204  # asked for by browsers on their own


def test_login_then_logout_with_audit(client, store):
    resp = login(client, "bob")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200 and 'data-user="bob"' in text(page)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    assert client.get("/logout").status_code == 405  # POST only
    out = client.post("/logout", data={"csrf_token": token(client)})
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    actions = [(a["actor"], a["action"]) for a in store.audit.log(limit=10)]
    assert ("bob", "login") in actions and ("bob", "logout") in actions


@pytest.mark.parametrize(("name", "password"), [("bob", "wrong password"), ("nobody", PASSWORD), ("", "")])
def test_failed_logins_are_refused_and_audited(client, store, name, password):
    resp = login(client, name, password)
    assert resp.status_code == 401
    assert "Wrong user name or password" in text(resp)
    assert client.get("/").status_code == 302  # still anonymous
    failed = [a for a in store.audit.log(actor="anonymous") if a["action"] == "login_failed"]
    assert len(failed) == 1 and failed[0]["target"] == (name or None)
    assert failed[0]["detail"]["ip"] == "127.0.0.1"


def steal_and_log_out(app: Any, victim: str = "bob") -> tuple[Any, str, str]:
    """Log `victim` in, copy the session cookie and a CSRF token (what a thief or a shared computer keeps),
    log out. Returns (a client holding only the copied cookie, the cookie, the token)."""
    client = app.test_client()
    assert login(client, victim).status_code == 302
    tok = token(client)
    cookie = client.get_cookie("qqscan_review").value
    assert client.post("/logout", data={"csrf_token": tok}).status_code == 302
    thief = app.test_client()  # same address and browser, so session protection cannot tell
    thief.set_cookie("qqscan_review", cookie)
    return thief, cookie, tok


def test_a_cookie_saved_before_logout_gets_the_login_page_and_cannot_write(db_url):
    store = ReviewStore(db_url)
    try:
        store.accounts.add("bob", PASSWORD)
        sha = seed(store, 1)
        blob = store.queue.item(sha)["frames"][0]["blob"]
        app = create_app(store)
        thief, _, tok = steal_and_log_out(app)
        for path in ("/", f"/image/{sha}", "/history"):
            resp = thief.get(path)
            assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), path
        assert thief.get(f"/blob/{blob}").status_code == 401
        form = {"csrf_token": tok, "status": "violation", "sha": sha}
        for path in (f"/image/{sha}/decide", "/bulk", "/undo"):
            assert thief.post(path, data=form).status_code == 401, path
        assert store.queue.item(sha)["review_status"] == "pending" and Store(store.db).count("decisions") == 0
        assert store.accounts.sessions() == []
    finally:
        store.close()


def test_an_admin_ends_one_session_or_logs_a_user_out_everywhere(store):
    app = create_app(store)
    laptop, phone, admin = app.test_client(), app.test_client(), app.test_client()
    for c, name in ((laptop, "bob"), (phone, "bob"), (admin, "alice")):
        assert login(c, name).status_code == 302
    page = text(admin.get("/sessions"))
    assert page.count('data-session-user="bob"') == 2 and page.count('data-session-user="alice"') == 1
    assert 'id="this-session"' in page
    listed = {s["user"]: s for s in store.accounts.sessions()}
    assert listed["bob"]["ip"] == "127.0.0.1" and listed["bob"]["expires_at"] > listed["bob"]["created_at"]

    # end one of bob's sessions: that one browser is out, the other still works
    laptop_id = store.accounts.session_id(_sid(laptop))
    resp = admin.post("/sessions/end", data={"csrf_token": token(admin, "/sessions"), "user": "bob",
                                             "session": laptop_id})  # fmt: skip
    assert resp.status_code == 303 and "Ended bob" in text(admin.get("/sessions"))
    assert laptop.get("/").status_code == 302 and phone.get("/").status_code == 200

    # log out everywhere
    assert login(laptop, "bob").status_code == 302
    resp = admin.post("/sessions/end", data={"csrf_token": token(admin, "/sessions"), "user": "bob"})
    assert resp.status_code == 303
    assert "Logged bob out everywhere: 2 sessions ended" in text(admin.get("/sessions"))
    assert laptop.get("/").status_code == 302 and phone.get("/").status_code == 302
    assert admin.get("/").status_code == 200  # the admin's own session is untouched
    (event,) = [
        a
        for a in store.audit.log(actor="alice")
        if a["action"] == "sessions_end" and not a["detail"].get("session")
    ]
    assert event["target"] == "bob" and event["detail"]["sessions"] == 2
    assert (
        admin.post(
            "/sessions/end", data={"csrf_token": token(admin, "/sessions"), "user": "nobody"}
        ).status_code
        == 400
    )
    bad = {"csrf_token": token(admin, "/sessions"), "user": "bob", "session": "not-an-id"}
    assert admin.post("/sessions/end", data=bad).status_code == 400


def _sid(client: Any) -> str:
    with client.session_transaction() as sess:
        return sess["sid"]


def test_a_password_change_or_disabling_ends_every_session(store):
    app = create_app(store)
    for name in ("bob", "carol"):
        assert login(app.test_client(), name).status_code == 302
    store.accounts.set_password("bob", "a brand new password")
    store.accounts.set_disabled("carol", True)
    assert store.accounts.sessions() == []


def test_a_disabled_account_cannot_log_in_and_its_session_stops_working(client, store):
    assert login(client, "bob").status_code == 302
    tok = token(client)
    store.accounts.set_disabled("bob", True)
    assert client.get("/").status_code == 302  # the next request, not when the cookie expires
    sha = seed(store, 1)
    assert (
        client.post(f"/image/{sha}/decide", data={"csrf_token": tok, "status": "violation"}).status_code
        == 401
    )
    assert store.queue.item(sha)["review_status"] == "pending"
    assert login(client, "bob").status_code == 401


def test_a_password_change_ends_existing_sessions(client, store):
    assert login(client, "bob").status_code == 302
    assert client.get("/").status_code == 200
    store.accounts.set_password("bob", "a brand new password")
    assert client.get("/").status_code == 302  # the old session no longer counts
    assert login(client, "bob").status_code == 401  # nor does the old password
    assert login(client, "bob", "a brand new password").status_code == 302
    assert client.get("/").status_code == 200


def test_session_protection_strong_drops_a_session_used_from_another_browser(client):
    assert login(client, "bob").status_code == 302
    assert client.get("/", headers={"User-Agent": "Werkzeug/other"}).status_code == 302
    assert client.get("/").status_code == 302  # dropped, not just refused once


def test_sessions_end_after_their_lifetime(client, monkeypatch):
    import review.auth

    assert login(client, "bob").status_code == 302
    assert client.get("/").status_code == 200
    real = review.auth.time.time
    monkeypatch.setattr(review.auth.time, "time", lambda: real() + 13 * 3600)
    assert client.get("/").status_code == 302


def test_login_clears_whatever_the_session_held_before(client):
    with client.session_transaction() as sess:
        sess["planted"] = "by someone else"
    assert login(client, "bob").status_code == 302
    with client.session_transaction() as sess:
        assert "planted" not in sess


def test_secure_cookies_and_login_over_https_without_a_referer(store):
    app = create_app(store, cookie_secure=True)
    client = app.test_client()
    base = "https://review.example"
    tok = TOKEN_RE.search(text(client.get("/login", base_url=base))).group(1)
    resp = client.post(
        "/login", base_url=base, data={"csrf_token": tok, "username": "bob", "password": PASSWORD}
    )
    assert resp.status_code == 302, text(resp)  # no Referer (Referrer-Policy: no-referrer) and still fine
    assert "Secure" in resp.headers["Set-Cookie"]
    assert client.get("/", base_url=base).status_code == 200


def test_the_session_secret_lives_in_the_store_so_a_restart_keeps_sessions(store):
    first = create_app(store)
    client = first.test_client()
    assert login(client, "bob").status_code == 302
    second = create_app(store)  # "restarted" server on the same database
    cookie = client.get_cookie("qqscan_review")
    other = second.test_client()
    other.set_cookie("qqscan_review", cookie.value)
    assert other.get("/").status_code == 200
    third = create_app(store, config={"SECRET_KEY": "something else entirely"})
    stranger = third.test_client()
    stranger.set_cookie("qqscan_review", cookie.value)
    assert stranger.get("/").status_code == 302


# --- anonymous requests, CSRF, rate limit, redirects ------------------------------------------------------

SHA = sha_of(1)
PAGES = ["/", f"/image/{SHA}", "/history", "/audit", "/allowlist", "/sessions", "/?status=all&type=qq"]
POSTS = [f"/image/{SHA}/decide", "/bulk", "/undo", "/logout", "/allowlist", "/allowlist/1/remove",
         "/sessions/end"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_page_requests_go_to_the_login_form(client, store, path):
    seed(store, 1)
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")
    from urllib.parse import parse_qs, urlsplit

    assert parse_qs(urlsplit(resp.headers["Location"]).query)["next"] == [path]


@pytest.mark.parametrize("path", POSTS)
def test_anonymous_posts_are_refused_with_401_and_change_nothing(client, store, path):
    sha = seed(store, 1)
    entry = store.allowlist.add("value", "4008208820", created_by="alice")
    tok = token(client, "/login")  # even with a valid token for the anonymous session
    resp = client.post(path, data={"csrf_token": tok, "status": "violation", "sha": sha, "kind": "value",
                                   "value": "123456789"})  # fmt: skip
    assert resp.status_code == 401
    assert store.queue.item(sha)["review_status"] == "pending"
    assert Store(store.db).count("decisions") == 0
    assert [e["id"] for e in store.allowlist.entries()] == [entry]


def test_anonymous_blob_requests_get_401_not_a_redirect(client, store):
    sha = seed(store, 1)
    blob = store.queue.item(sha)["frames"][0]["blob"]
    resp = client.get(f"/blob/{blob}")
    assert resp.status_code == 401
    assert b"\x89PNG" not in resp.get_data()


def test_posts_without_or_with_a_wrong_csrf_token_are_refused_and_change_nothing(alice, store):
    sha = seed(store, 1)
    store.decisions.record(sha, "violation", reviewer="alice")
    good = token(alice)
    attempts = [
        (f"/image/{sha}/decide", {"status": "false_positive"}),
        ("/bulk", {"status": "false_positive", "sha": sha}),
        ("/undo", {}),
        ("/allowlist", {"kind": "value", "value": "4008208820"}),
    ]
    for path, data in attempts:
        for bad in (None, "wrong", good[:-4] + "AAAA"):
            form = dict(data) if bad is None else {**data, "csrf_token": bad}
            resp = alice.post(path, data=form)
            assert resp.status_code == 400, (path, bad, resp.status_code)
            assert "security token" in text(resp)
    assert store.queue.item(sha)["review_status"] == "violation"
    assert Store(store.db).count("decisions") == 1
    assert store.allowlist.entries(include_removed=True) == []
    # logout without a token keeps the session
    assert alice.post("/logout").status_code == 400
    assert alice.get("/").status_code == 200
    # and the good token does work
    resp = alice.post(f"/image/{sha}/decide", data={"csrf_token": good, "status": "false_positive"})
    assert resp.status_code == 303
    assert store.queue.item(sha)["review_status"] == "false_positive"


def test_login_without_a_csrf_token_is_refused(client, store):
    resp = client.post("/login", data={"username": "bob", "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/").status_code == 302
    assert not [a for a in store.audit.log() if a["action"] == "login"]


def test_a_cross_site_post_is_refused_by_its_origin(alice, store):
    sha = seed(store, 1)
    data = {"csrf_token": token(alice), "status": "violation"}
    resp = alice.post(f"/image/{sha}/decide", data=data, headers={"Origin": "https://evil.example"})
    assert resp.status_code == 400
    assert store.queue.item(sha)["review_status"] == "pending"
    resp = alice.post(f"/image/{sha}/decide", data=data, headers={"Origin": "http://localhost"})
    assert resp.status_code == 303  # the same site's Origin is fine


def test_the_sixth_login_attempt_in_a_minute_is_rate_limited(client, store):
    for _ in range(5):
        assert login(client, "bob", "wrong password").status_code == 401
    resp = login(client, "bob", PASSWORD)  # even the right password: the address is limited
    assert resp.status_code == 429
    assert "Too many" in text(resp)
    assert resp.headers["Content-Security-Policy"] == CSP
    assert client.get("/").status_code == 302
    assert client.get("/login").status_code == 200  # only POST is limited
    other = create_app(store).test_client()  # another process (own in-memory limiter) is not affected
    assert login(other, "bob").status_code == 302


def client_at(app: Any, address: str, *, forwarded: str | None = None) -> Any:
    """A test client whose requests come from `address` (the socket's peer), optionally through a proxy that
    sends X-Forwarded-For: `forwarded`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if forwarded is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
    return client


def log_out(client: Any) -> None:
    assert client.post("/logout", data={"csrf_token": token(client)}).status_code == 302


def test_only_failed_logins_count_toward_an_addresss_limit(app):
    desk = client_at(app, "192.0.2.10")
    for _ in range(6):  # a moderator logging in and out all day is never limited
        assert login(desk, "bob").status_code == 302
        log_out(desk)
    for _ in range(5):
        assert login(desk, "bob", "wrong password").status_code == 401
    assert login(desk, "bob").status_code == 429  # five failures: this address waits
    assert login(client_at(app, "192.0.2.11"), "bob").status_code == 302  # another address does not


def test_guessing_one_account_from_many_addresses_is_stopped_without_locking_out_its_owner(app, store):
    owner = client_at(app, "192.0.2.10")  # bob's desk: he logged in from here before
    assert login(owner, "bob").status_code == 302
    log_out(owner)
    statuses = []
    for n in range(5):  # 20 guesses from 5 addresses: 4 each, under any per-address limit
        guesser = client_at(app, f"198.51.100.{n}")
        statuses += [login(guesser, "bob", f"guess {n}-{i}").status_code for i in range(4)]
    assert statuses == [401] * 10 + [429] * 10  # ten failures from new addresses: the account waits
    # the right password from yet another new address is refused too (no oracle for the guesser) ...
    assert login(client_at(app, "198.51.100.99"), "bob").status_code == 429
    # ... but bob, from an address he logged in from, is not locked out
    assert login(owner, "bob").status_code == 302
    # and the attack on bob locks out nobody else, from a new address or one the guesser used
    assert login(client_at(app, "198.51.100.98"), "carol").status_code == 302
    assert login(client_at(app, "198.51.100.0"), "alice").status_code == 302
    failed = [a for a in store.audit.log(actor="anonymous", limit=100) if a["action"] == "login_failed"]
    assert len(failed) == 10  # refused attempts never reached the password check


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(store):
    from ground.settings import Settings

    app = create_app(store, settings=Settings.load({"QQSCAN_REVIEW_PROXY_HOPS": "1"}))
    proxy = "127.0.0.1"  # every request reaches the app from the reverse proxy
    attacker = client_at(app, proxy, forwarded="203.0.113.5")
    for _ in range(5):
        assert login(attacker, "bob", "wrong password").status_code == 401
    assert login(attacker, "bob").status_code == 429
    # another moderator behind the same proxy is not locked out, and is recorded with their own address
    assert login(client_at(app, proxy, forwarded="203.0.113.6"), "carol").status_code == 302
    (event,) = [a for a in store.audit.log(actor="carol") if a["action"] == "login"]
    assert event["detail"]["ip"] == "203.0.113.6"
    # only the hop the proxy appended is trusted: a client's own X-Forwarded-For entry is not
    spoofed = client_at(app, proxy, forwarded="192.0.2.77, 203.0.113.5")
    assert login(spoofed, "bob").status_code == 429


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(app, store):
    for n in range(5):  # a client cannot escape its limit by making up addresses
        assert login(client_at(app, "192.0.2.20", forwarded=f"10.0.0.{n}"), "bob", "x").status_code == 401
    assert login(client_at(app, "192.0.2.20", forwarded="10.0.0.9"), "bob").status_code == 429
    ips = {a["detail"]["ip"] for a in store.audit.log(actor="anonymous")}
    assert ips == {"192.0.2.20"}


def test_an_untrusted_x_forwarded_for_is_reported_once(app, caplog):
    with caplog.at_level("WARNING", logger=app.logger.name):
        for _ in range(2):
            client_at(app, "127.0.0.1", forwarded="203.0.113.5").get("/login")
    said = [r.getMessage() for r in caplog.records if "X-Forwarded-For" in r.getMessage()]
    assert len(said) == 1 and "QQSCAN_REVIEW_PROXY_HOPS is 0" in said[0]


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "/\\evil.example", "https://evil.example/", "http:evil", "javascript:alert(1)",
     "/\r\nSet-Cookie: x=1", "\\\\evil.example", "evil.example", "/%5Cevil.example"],
)  # fmt: skip
def test_login_next_never_leaves_the_site(client, target):
    resp = login(client, "bob", next_=target)
    assert resp.status_code == 302
    loc = resp.headers["Location"]
    if target == "/%5Cevil.example":  # a literal path with an encoded backslash is a local path
        assert loc == target
    else:
        assert loc == "/"


def test_login_next_follows_a_local_path_with_its_query(client, store):
    resp = client.get("/history?reviewer=bob")
    form = client.get(resp.headers["Location"])
    assert 'name="next" value="/history?reviewer=bob"' in text(form)
    resp = login(client, "bob", next_="/history?reviewer=bob")
    assert resp.headers["Location"] == "/history?reviewer=bob"
    # already logged in: /login with next goes straight there (and refuses foreign ones the same way)
    assert client.get("/login?next=/history").headers["Location"] == "/history"
    assert client.get("/login?next=//evil.example").headers["Location"] == "/"


# --- hostile data, pictures, errors -----------------------------------------------------------------------


def test_hostile_text_and_urls_are_escaped_on_every_page(alice, store):
    hostile_url = 'https://img.example.com/x.jpg?"><script>alert(1)</script>'
    sha = seed(
        store,
        "xss",
        findings=[finding("qq", XSS, text=XSS, rule=XSS)],
        url=hostile_url,
        shop=XSS,
        listing=XSS,
        page_url="javascript:alert(1)",
        lines=[{"text": XSS, "score": 0.9, "frame": 0}],
    )
    Store(store.db).record_source(
        "javascript:alert(document.cookie)", sha256=sha, page_url='http://a"onmouseover="x'
    )
    store.decisions.record(sha, "escalated", reviewer="alice", note=XSS)
    store.allowlist.add("phrase", XSS, created_by="alice", note=XSS)
    failed = create_app(store).test_client()
    login(failed, XSS, "whatever")  # a failed login's name lands in the audit log

    pages = ["/?status=all", f"/image/{sha}?status=all", "/history", "/audit", "/allowlist"]
    for path in pages:
        resp = alice.get(path)
        assert resp.status_code == 200, path
        body = text(resp)
        assert XSS not in body, path
        assert XSS_ESCAPED in body, path
        assert 'href="javascript:' not in body.lower(), path
        assert 'onmouseover="' not in body, path
    detail = text(alice.get(f"/image/{sha}?status=all"))
    assert "javascript:alert(document.cookie)" in detail  # shown as text...
    assert '<span class="url-text">javascript:alert(document.cookie)</span>' in detail  # ...not a link
    # the http(s) URL is a link, attribute-escaped, with rel noopener noreferrer nofollow
    escaped = "https://img.example.com/x.jpg?&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f'<a href="{escaped}" rel="noopener noreferrer nofollow"' in detail


RLO = "\u202e"
BIDI = ("\u202a", "\u202b", "\u202c", "\u202d", RLO, "\u2066", "\u2067", "\u2068", "\u2069", "\u200e",
        "\u200f")  # fmt: skip


def test_bidi_controls_are_shown_as_markers_on_every_page_never_obeyed(alice, store):
    sneaky = f"s{RLO}gnp.exe"  # shows as "sexe.png" if obeyed
    every = "x" + "".join(BIDI) + "\x1b[31m"
    sha = seed(
        store,
        "bidi",
        findings=[finding("qq", "391287654", text=f"QQ {sneaky} {every}", rule="qq.keyword")],
        shop=sneaky,
        listing=every,
        url=f"https://img.example.com/{sneaky}",
        lines=[{"text": f"OCR {sneaky}", "score": 0.9, "frame": 0}],
    )
    store.decisions.record(sha, "escalated", reviewer="alice", note=f"note {sneaky}")
    store.allowlist.add("phrase", sneaky, created_by="alice", note=every, shop_id=sneaky)
    pages = ["/?status=all", f"/image/{sha}?status=all", "/history", "/audit", "/allowlist"]
    for path in pages:
        body = text(alice.get(path))
        # Form values that must come back unchanged (a shop in a filter box or radio button) keep the
        # character inside their attribute; nowhere else does any bidi or control character appear.
        outside_values = re.sub(r' value="[^"]*"', "", body)
        for ch in (*BIDI, "\x1b"):
            assert ch not in outside_values, (path, hex(ord(ch)))
        assert "s&lt;U+202E&gt;gnp.exe" in body, path
    detail = text(alice.get(f"/image/{sha}?status=all"))
    assert "x&lt;U+202A&gt;&lt;U+202B&gt;&lt;U+202C&gt;&lt;U+202D&gt;&lt;U+202E&gt;&lt;U+2066&gt;" in detail
    assert "&lt;U+2069&gt;&lt;U+200E&gt;&lt;U+200F&gt;&lt;U+001B&gt;[31m" in detail
    assert "OCR s&lt;U+202E&gt;gnp.exe" in detail and "note s&lt;U+202E&gt;gnp.exe" in detail
    # the allow-list scope radio sends the shop id exactly, so allow-listing from this image still works
    assert f'name="allow_shop" value="{sneaky}"' in detail
    resp = alice.post(
        f"/image/{sha}/decide",
        data={"csrf_token": token(alice), "status": "false_positive", "allow": "0", "allow_shop": sneaky},
    )
    assert resp.status_code == 303
    assert [e["shop_id"] for e in store.allowlist.entries() if e["kind"] == "value"] == [sneaky]
    # and a shop filter with the character still finds the image
    assert f'data-sha="{sha}"' in text(alice.get("/?status=all&shop=" + quote(sneaky)))


def test_blobs_serve_only_image_types_with_nosniff_and_no_caching(alice, store):
    sha = seed(store, 1)
    frame = store.queue.item(sha)["frames"][0]["blob"]
    resp = alice.get(f"/blob/{frame}")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.get_data()[:8] == b"\x89PNG\r\n\x1a\n"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # not kept by the browser: after logout a shared computer's cache holds no evidence
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert "Content-Disposition" not in resp.headers

    html = b"<html><script>alert(1)</script></html>"
    Store(store.db).save_scan(
        {"sha256": sha_of("html"), "rules_version": RULES, "findings": [finding()], "source": "x"},
        [EvidenceBlob("frame", 0, -1, "text/html", html, 10, 10)],
    )
    hsha = hashlib.sha256(html).hexdigest()
    resp = alice.get(f"/blob/{hsha}")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith("attachment")

    assert alice.get(f"/blob/{'0' * 64}").status_code == 404
    assert alice.get(f"/blob/{frame.upper()}").status_code == 404
    assert alice.get("/blob/../../etc/passwd").status_code == 404
    assert alice.get("/blob/abc").status_code == 404


def test_unknown_images_and_routes_are_404_pages_with_headers(alice):
    for path in (f"/image/{'0' * 64}", "/image/not-a-hash", "/nowhere"):
        resp = alice.get(path)
        assert resp.status_code == 404, path
        assert resp.headers["Content-Security-Policy"] == CSP
        assert 'id="error"' in text(resp)


def test_a_database_outage_is_a_503_page_with_the_stores_message(alice, store, tmp_path):
    store.db.engine.dispose()
    store.db.engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'nope' / 'x.sqlite3'}")
    resp = alice.get("/")
    assert resp.status_code == 503
    body = text(resp)
    assert "Database unavailable" in body and "is unavailable" in body
    assert resp.headers["Content-Security-Policy"] == CSP
    assert alice.post("/undo", data={"csrf_token": "x"}).status_code == 503


def test_moderators_get_403_on_admin_pages(bob, store):
    entry = store.allowlist.add("value", "4008208820", created_by="alice")
    tok = token(bob)
    assert bob.get("/audit").status_code == 403
    assert bob.get("/allowlist").status_code == 403
    assert bob.get("/sessions").status_code == 403
    assert bob.post("/sessions/end", data={"csrf_token": tok, "user": "alice"}).status_code == 403
    assert [s["user"] for s in store.accounts.sessions()] == ["bob"]
    assert bob.post("/allowlist", data={"csrf_token": tok, "kind": "value", "value": "1"}).status_code == 403
    assert bob.post(f"/allowlist/{entry}/remove", data={"csrf_token": tok}).status_code == 403
    assert [e["id"] for e in store.allowlist.entries()] == [entry]
    queue = text(bob.get("/"))
    assert 'id="nav-audit"' not in queue and 'id="nav-allowlist"' not in queue and "nav-sessions" not in queue
