"""Accounts in the review app: login and logout, the session's user, who may see what.

Choices:
- Every route needs a logged-in, enabled user except /login, static files and /favicon.ico (empty).
  The check is one before_request hook (registered before CSRF and the rate limiter), so an anonymous
  request is refused the same way everywhere: a GET for a page redirects (302) to
  /login?next=<that page>; a POST, or a GET for /blob (pictures, not pages), gets 401.
- The user is loaded from the store on every request: a disabled (or deleted) account, or one whose
  password was changed since this login, stops working on its next request, not when its cookie expires.
- Server-side sessions (table review_sessions): login stores a random token's hash and puts the token in
  the signed cookie; each request needs that row. Logout deletes it, so a copy of the cookie taken before
  logout (a shared computer, a proxy log, malware) is refused from then on; an admin can end one session
  or log a user out everywhere (/sessions, or `qqscan users logout NAME`); a password change or disabling
  the account ends them all.
- Sessions: Flask's signed cookie, HttpOnly, SameSite=Lax, Secure when the app is told so. Flask-Login
  session protection "strong" (a session used from another address or browser is dropped); its
  identifier uses the client address (review/app.py: the socket's peer, or the trusted proxy's
  X-Forwarded-For entry), never a header the client itself can set. The session is a
  browser-session cookie (Flask-Login's strong mode does nothing for "permanent" sessions) and also
  ends REVIEW_SESSION_HOURS (default 12) after login, checked server-side from the signed login time.
- Login: argon2 via Accounts.verify (same cost for unknown names). Every login, failed login and logout
  is written to the audit log. The session is cleared on login (no fixation) and on logout.
- Login limits (Flask-Limiter, in memory per server process; only failed logins count, so a moderator
  who logs in and out all day is never limited):
  * per client address: LOGIN_RATE_LIMIT failures (5 per minute), then that address waits;
  * per account: LOGIN_ACCOUNT_LIMIT failures (10 per hour) from addresses that have not logged in to
    that account in the last KNOWN_ADDRESS_DAYS days, then such addresses wait for that account. Many
    addresses guessing one password are stopped, yet the owner is not locked out: from an address they
    logged in from (audit log) their login goes through, subject only to that address's own limit. A
    guess for one account never limits another account. While an account waits, even the right password
    from a new address is refused (no oracle), and unknown names are limited alike (no account probing).
  A refused attempt is a 429 page and never reaches the password check.
- /login?next= follows only a local path ("/queue?x=1"); anything else ("//evil", "/\\evil",
  "https://...", control characters) falls back to "/".
- Logout is POST only (with CSRF), so a link or an image elsewhere cannot log a moderator out.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter import Limiter
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from store.accounts import UserInfo
from store.models import utcnow
from store.review import ReviewStore

PUBLIC_ENDPOINTS = frozenset({"login", "static", "favicon", "healthz"})
NOT_PAGES = frozenset({"blob"})  # GETs that are not pages: 401 instead of a redirect to the login form
DEFAULT_LOGIN_LIMIT = "5 per minute"  # failed logins per client address
DEFAULT_ACCOUNT_LIMIT = "10 per hour"  # failed logins per account from addresses it never logged in from
# An address the account logged in from within this many days is its owner's: the account limit spares it.
KNOWN_ADDRESS_DAYS = 90
DEFAULT_SESSION_HOURS = 12


def current_store() -> ReviewStore:
    return current_app.extensions["qqscan_review_store"]


class ReviewUser(UserMixin):
    """The logged-in account as Flask-Login sees it."""

    def __init__(self, info: UserInfo) -> None:
        self.info = info
        self.id = str(info.id)
        self.name = info.name
        self.role = info.role

    @property
    def is_admin(self) -> bool:
        return self.info.is_admin


def _session_identifier() -> str:
    """Flask-Login's "strong" protection fingerprint, from the socket address (not X-Forwarded-For)."""
    base = f"{request.remote_addr}|{request.headers.get('User-Agent', '')}"
    return hashlib.sha512(base.encode("utf-8", "surrogatepass")).hexdigest()


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, else "/"."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _requested_path() -> str:
    return request.full_path.rstrip("?") if request.query_string else request.path


def refuse_anonymous() -> Any:
    if request.method in ("GET", "HEAD") and request.endpoint not in NOT_PAGES:
        return redirect(url_for("login", next=_requested_path()))
    abort(401)


def require_login() -> Any:
    """before_request: the single place where anonymous requests are refused."""
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None  # routing failed (404/405 follow) or a public page
    if not current_user.is_authenticated:
        return refuse_anonymous()
    hours = float(current_app.config.get("REVIEW_SESSION_HOURS", DEFAULT_SESSION_HOURS))
    login_at = session.get("login_at")
    if not isinstance(login_at, int | float) or time.time() - login_at > hours * 3600:
        current_store().accounts.end_session(session.get("sid"))
        logout_user()
        session.clear()
        return refuse_anonymous()
    return None


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return refuse_anonymous()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def _client() -> dict[str, Any]:
    return {"ip": request.remote_addr, "user_agent": (request.headers.get("User-Agent") or "")[:200]}


def _client_address() -> str:
    return request.remote_addr or "-"


def _posted_name() -> str:
    return (request.form.get("username") or "").strip()[:64]


def _account_key() -> str:
    return f"account:{_posted_name()}"


def _known_address() -> bool:
    """The login is for an account that logged in from this address lately: the account limit spares it."""
    name = _posted_name()
    if request.method != "POST" or not name:
        return False
    since = utcnow() - timedelta(days=KNOWN_ADDRESS_DAYS)
    return current_store().audit.logged_in_from(name, request.remote_addr, since)


def _failed(response: Any) -> bool:
    return response.status_code == 401


def login() -> Any:
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(nxt)
        return render_template("login.html", next=nxt, username="")
    store = current_store()
    name = _posted_name()
    password = request.form.get("password") or ""
    info = store.accounts.verify(name, password) if name and password else None
    if info is None:
        store.audit.record("anonymous", "login_failed", name or None, _client())
        flash("Wrong user name or password, or the account is disabled.", "error")
        return render_template("login.html", next=nxt, username=name), 401
    store.accounts.end_session(session.get("sid"))  # a login over a live session replaces it
    session.clear()  # nothing from before the login survives into the user's session
    hours = float(current_app.config.get("REVIEW_SESSION_HOURS", DEFAULT_SESSION_HOURS))
    seen = _client()
    session["sid"] = store.accounts.start_session(
        info.id, hours=hours, ip=seen["ip"], user_agent=seen["user_agent"]
    )
    login_user(ReviewUser(info))
    session["login_at"] = int(time.time())
    session["credential"] = info.credential  # a later password change ends this session
    store.audit.record(info.name, "login", info.name, _client())
    return redirect(nxt)


def logout() -> Any:
    name = current_user.name
    current_store().accounts.end_session(session.get("sid"))  # the cookie, and any copy of it, stops working
    logout_user()
    session.clear()
    current_store().audit.record(name, "logout", name, _client())
    flash("Logged out.", "info")
    return redirect(url_for("login"))


def init_auth(app: Flask) -> None:
    """Flask-Login, the login check, the login rate limit and the /login, /logout routes. Call before
    CSRFProtect.init_app so anonymous POSTs get 401 before the CSRF check answers 400."""
    manager = LoginManager()
    manager.session_protection = "strong"
    manager._session_identifier_generator = _session_identifier  # type: ignore[attr-defined]
    manager.init_app(app)

    @manager.user_loader
    def load_user(user_id: str) -> ReviewUser | None:
        try:
            uid = int(user_id)
        except (TypeError, ValueError):
            return None
        info = current_store().accounts.session_user(uid, session.get("sid"))  # None once logged out or ended
        if info is None or info.disabled or session.get("credential") != info.credential:
            return None
        return ReviewUser(info)

    manager.unauthorized_handler(refuse_anonymous)
    app.before_request(require_login)

    limiter = Limiter(
        _client_address,
        app=app,
        storage_uri="memory://",
        headers_enabled=False,
        default_limits=[],
    )
    app.extensions["qqscan_review_limiter"] = limiter
    per_address = limiter.limit(
        lambda: current_app.config.get("LOGIN_RATE_LIMIT", DEFAULT_LOGIN_LIMIT),
        methods=["POST"],
        deduct_when=_failed,
        error_message="Too many failed logins from this address; wait a minute and try again.",
    )
    per_account = limiter.limit(
        lambda: current_app.config.get("LOGIN_ACCOUNT_LIMIT", DEFAULT_ACCOUNT_LIMIT),
        key_func=_account_key,
        methods=["POST"],
        deduct_when=_failed,
        exempt_when=_known_address,
        error_message="Too many failed logins for this account from new addresses; try again later, or "
        "from a computer you have logged in from before.",
    )
    limited_login = per_account(per_address(login))
    app.add_url_rule("/login", "login", limited_login, methods=["GET", "POST"])
    app.add_url_rule("/logout", "logout", logout, methods=["POST"])
