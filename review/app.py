"""The moderator review web app: `create_app()` builds it on a ReviewStore; review/server.py serves it.

Server-rendered Jinja2 pages (autoescaped; no data is ever marked safe), one static CSS and one static JS
file (keyboard shortcuts), no front-end build. Routes live in review/auth.py (login, logout),
review/views.py (queue, image detail, decisions, history, evidence pictures) and review/admin.py (audit
log, allow-list; admins only).

Security choices made here, for every response:
- Content-Security-Policy without 'unsafe-inline' (so templates use no inline scripts, styles or style
  attributes; SVG overlays are drawn with attributes and CSS classes), nosniff, Referrer-Policy
  no-referrer, X-Frame-Options DENY, Cross-Origin-Opener/Resource-Policy same-origin; HTML is never
  cached (Cache-Control: no-store).
- CSRF tokens (Flask-WTF) on every POST, the login form included. Because the pages send no Referer,
  Flask-WTF's "strict referrer" check for HTTPS is turned off (it would refuse every HTTPS form post);
  instead a POST whose Origin header names another host is refused. Token + SameSite=Lax cookie remain.
- The database being down (StoreUnavailable) is a 503 page with the store's message (it has no password).
- The client address is the socket's peer, or, with QQSCAN_REVIEW_PROXY_HOPS = N behind N reverse proxies,
  the address the outermost of them saw (Werkzeug's ProxyFix on X-Forwarded-For; nothing else it sends is
  trusted). The login limits, the audit log, the sessions list and the access log all see that address.
  Without the setting X-Forwarded-For is ignored, since any client can send one; the first request that
  carries it logs a warning, as the login limits then count the proxy's address for everyone.
- Remote URLs (listing and image URLs) are shown as text, linked only when http(s), never fetched.
- Bidi overrides and control characters in any shown text become visible markers (`<U+202E>`), through
  Jinja's finalize hook (review/safetext.py), so no template can forget them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ground.settings import DEFAULTS, Settings
from review.accesslog import USER_KEY
from review.auth import init_auth
from review.safetext import visible
from store.database import StoreUnavailable
from store.review import ReviewStore

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
ERROR_TITLES = {
    400: "Bad request",
    401: "Login required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    429: "Too many requests",
    503: "Database unavailable",
}


def create_app(
    store: ReviewStore | str | None = None,
    *,
    cookie_secure: bool = False,
    config: dict[str, Any] | None = None,
    settings: Settings = DEFAULTS,
) -> Flask:
    """The review app on `store` (a ReviewStore, a database URL, or None for the settings' database).
    `settings`: the process's (`qqscan review serve` reads them). `cookie_secure` marks the session cookie
    Secure (HTTPS only). `config` overrides Flask settings and these app settings: SECRET_KEY (default: the
    store's shared session secret), LOGIN_RATE_LIMIT (failed logins per client address, "5 per minute"),
    LOGIN_ACCOUNT_LIMIT (failed logins per account from addresses it has not logged in from, "10 per
    hour"), REVIEW_PROXY_HOPS (QQSCAN_REVIEW_PROXY_HOPS), REVIEW_SESSION_HOURS (12), REVIEW_PER_PAGE (50)."""
    if not isinstance(store, ReviewStore):
        from store.database import database_url

        store = ReviewStore(store or database_url(settings))
    app = Flask(__name__)
    app.config.update(
        SESSION_COOKIE_NAME="qqscan_review",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=cookie_secure,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_SSL_STRICT=False,  # pages send no Referer (Referrer-Policy); see _check_origin
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session (which itself expires)
        MAX_CONTENT_LENGTH=1 << 20,
        LOGIN_RATE_LIMIT="5 per minute",
        LOGIN_ACCOUNT_LIMIT="10 per hour",
        REVIEW_PROXY_HOPS=settings["QQSCAN_REVIEW_PROXY_HOPS"],
        REVIEW_SESSION_HOURS=12,
        REVIEW_PER_PAGE=50,
        KNOWN_CONTACT_AUTO_CONFIRM=bool(settings["QQSCAN_KNOWN_CONTACT_AUTO_CONFIRM"]),
    )
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = store.accounts.secret_key()
    app.extensions["qqscan_review_store"] = store
    app.extensions["qqscan_settings"] = settings  # the dashboard reaches Redis with them
    hops = int(app.config["REVIEW_PROXY_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=0, x_host=0, x_port=0, x_prefix=0)
    else:
        app.before_request(_untrusted_forwarding)

    app.add_url_rule("/healthz", "healthz", _healthz)  # public (auth.PUBLIC_ENDPOINTS); GET and HEAD
    app.before_request(_check_origin)
    init_auth(app)  # login check, then the login rate limit: both before the CSRF check
    CSRFProtect(app)

    from review import admin, dashboard, views

    views.register(app)
    admin.register(app)
    dashboard.register(app)

    app.after_request(_security_headers)
    app.after_request(_note_user)
    _error_pages(app)
    _jinja(app)
    return app


def _healthz() -> Any:
    """GET /healthz for load balancers and supervisors: 200 {"status": "ok"} when the database answers,
    503 {"status": "unavailable"} otherwise. Nothing else (no URL, no error text: it is public)."""
    from flask import current_app, jsonify
    from sqlalchemy import text

    store = current_app.extensions["qqscan_review_store"]
    try:
        with store.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any failure to answer is "unavailable"; the reason stays in the server's logs
        current_app.logger.warning("healthz: database unavailable", exc_info=True)
        resp = jsonify(status="unavailable")
        resp.status_code = 503
    else:
        resp = jsonify(status="ok")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _untrusted_forwarding() -> None:
    """Say once that requests come through a proxy whose X-Forwarded-For is not trusted (hops = 0)."""
    from flask import current_app

    if "X-Forwarded-For" in request.headers and not current_app.extensions.get("qqscan_forwarding_noted"):
        current_app.extensions["qqscan_forwarding_noted"] = True
        current_app.logger.warning(
            "requests carry X-Forwarded-For but QQSCAN_REVIEW_PROXY_HOPS is 0: the client address (login "
            "limits, audit) is the proxy's; set it to the number of reverse proxies in front of the app"
        )


def _check_origin() -> None:
    """A browser's cross-site POST carries the other site's Origin: refuse it (defence in depth)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        from flask import abort

        abort(
            400,
            f"The form was sent from another site ({origin}), not from {request.host}. Behind a reverse "
            "proxy, pass the original Host header through (nginx: proxy_set_header Host $host).",
        )


def _note_user(resp: Any) -> Any:
    """Who made the request, for the access log (only when this request already loaded the user)."""
    user = g.get("_login_user")
    if user is not None and user.is_authenticated:
        request.environ[USER_KEY] = user.name
    return resp


def _security_headers(resp: Any) -> Any:
    for k, v in SECURITY_HEADERS.items():
        resp.headers.setdefault(k, v)
    if resp.mimetype == "text/html":
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _error_pages(app: Flask) -> None:
    def page(code: int, message: str, *, bare: bool = False) -> Any:
        return (
            render_template(
                "error.html", code=code, title=ERROR_TITLES.get(code, "Error"), message=message, bare=bare
            ),
            code,
        )

    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError) -> Any:
        return page(400, f"The form's security token is missing or invalid ({e.description}). "
                    "Reload the page and try again.")  # fmt: skip

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(e: StoreUnavailable) -> Any:
        # Rendering must not ask the store for the user again (Flask-Login's context processor would).
        g._login_user = app.login_manager.anonymous_user()  # type: ignore[attr-defined]
        return page(503, str(e), bare=True)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        code = e.code or 500
        if request.endpoint == "blob" or code == 401:
            bare = True  # no navigation (needs the user) on a login-required page
        else:
            bare = False
        return page(code, e.description or ERROR_TITLES.get(code, "Error"), bare=bare)


def http_url(value: Any) -> bool:
    """True when `value` is an http(s) URL with a host: only those are rendered as links."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and value == value.strip()


def fmt_time(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


def fmt_conf(value: Any) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return "–"


def status_label(value: Any) -> str:
    return {"false_positive": "false positive", "escalated": "escalated"}.get(str(value), str(value))


def show_text(value: Any) -> Any:
    """Jinja's finalize hook: every `{{ value }}` that is text goes through review.safetext.visible, so a
    bidi override or control character in data is shown as a marker, never obeyed. Markup (macro output,
    whose own expressions were finalized already, and `|exact`) passes as is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


def exact(value: Any) -> Markup:
    """For form values that must come back unchanged (a shop id in a radio button or a filter box):
    escaped, but without visible markers (a marker would be sent back instead of the character)."""
    return escape("" if value is None else value)


def _jinja(app: Flask) -> None:
    app.jinja_env.autoescape = True  # also for templates without .html (none today): never off
    app.jinja_env.finalize = show_text
    app.jinja_env.filters["exact"] = exact
    app.jinja_env.tests["http_url"] = http_url
    app.jinja_env.filters["when"] = fmt_time
    app.jinja_env.filters["conf"] = fmt_conf
    app.jinja_env.filters["status_label"] = status_label
