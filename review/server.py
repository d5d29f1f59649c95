"""Serve the review web app with waitress (a production WSGI server; no Flask debug server).

`run()` is what `qqscan review serve` calls. Choices:
- It listens on 127.0.0.1:8080 by default: reachable from this machine only.
- It binds first and only then says where it serves, so a port in use is the one message you see (no
  "serving ..." line before "Address already in use"). Port 0 picks a free port; the line names it.
- cookie_secure=None (the default) means: Secure session cookies unless the host is a loopback address
  ("127.0.0.1", "::1", "localhost"). A browser sends Secure cookies over HTTPS only, so plain HTTP on a
  laptop still logs in, while a server listening on other addresses must sit behind HTTPS (a reverse
  proxy that terminates TLS) for logins to work. Pass True/False to decide yourself.
- An access log in the Common Log Format (review/accesslog.py) on stderr by default, or appended to a file.
- waitress's "Task queue depth is N" warnings (every request that waits for a free thread) are hidden
  unless `verbose`: under a burst of thumbnails they filled the log while nothing was wrong.
- Behind a reverse proxy every request comes from the proxy's address: set QQSCAN_REVIEW_PROXY_HOPS to
  the number of proxies so the login limits and the audit see each client's own address (review/app.py),
  and listen where only the proxy can reach the app (127.0.0.1), or a client could name any address. The
  proxy must pass the browser's Host header through (nginx: `proxy_set_header Host $host;`): form posts
  whose Origin names another host are refused.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from typing import Any, TextIO

from ground.settings import DEFAULTS, Settings
from review.accesslog import AccessLog
from review.app import create_app
from store.database import database_url as db_url
from store.review import ReviewStore


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def urls(server: Any) -> list[str]:
    """Where a bound waitress server listens (several addresses when a name like localhost has both)."""
    listen = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
    return [f"http://{f'[{h}]' if ':' in str(h) else h}:{p}/" for h, p in listen]


def make_server(
    host: str = "127.0.0.1",
    port: int = 8080,
    database_url: str | None = None,
    cookie_secure: bool | None = None,
    threads: int = 4,
    access_log: TextIO | None = None,
    verbose: bool = False,
    settings: Settings = DEFAULTS,
) -> tuple[Any, ReviewStore]:
    """The bound (listening, not yet serving) waitress server and its store. OSError when the address is
    in use or not allowed; the store is closed again then."""
    from waitress import create_server

    logging.getLogger("waitress.queue").setLevel(logging.DEBUG if verbose else logging.ERROR)
    secure = (not is_loopback(host)) if cookie_secure is None else cookie_secure
    store = ReviewStore(database_url or db_url(settings))
    try:
        app = create_app(store, cookie_secure=secure, settings=settings)
        wsgi: Any = app if access_log is None else AccessLog(app, access_log)
        server = create_server(wsgi, host=host, port=port, threads=threads, ident="qqscan-review")
    except BaseException:
        store.close()
        raise
    server.qqscan_app = app  # type: ignore[attr-defined]
    server.qqscan_secure = secure  # type: ignore[attr-defined]
    return server, store


def run(
    host: str = "127.0.0.1",
    port: int = 8080,
    database_url: str | None = None,
    cookie_secure: bool | None = None,
    threads: int = 4,
    access_log: TextIO | None = sys.stderr,
    verbose: bool = False,
    settings: Settings = DEFAULTS,
) -> None:
    """Open the store (migrating it if needed), build the app, bind, say where, serve until interrupted."""
    server, store = make_server(
        host, port, database_url, cookie_secure, threads, access_log, verbose, settings
    )
    try:
        secure = server.qqscan_secure
        print(
            f"qqscan review: serving {' and '.join(urls(server))} (database {store.db.safe_url}; "
            f"{'Secure' if secure else 'non-Secure'} session cookies; Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        store.close()
