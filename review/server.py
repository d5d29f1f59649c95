"""Serve the review web app with waitress (a production WSGI server; no Flask debug server).

`run()` is what `qqscan review serve` calls. Choices:
- It listens on 127.0.0.1:8080 by default: reachable from this machine only.
- cookie_secure=None (the default) means: Secure session cookies unless the host is a loopback address
  ("127.0.0.1", "::1", "localhost"). A browser sends Secure cookies over HTTPS only, so plain HTTP on a
  laptop still logs in, while a server listening on other addresses must sit behind HTTPS (a reverse
  proxy that terminates TLS) for logins to work. Pass True/False to decide yourself.
- Behind a reverse proxy every request comes from the proxy's address, so the login rate limit (per
  client address) becomes one limit shared by everyone; X-Forwarded-For is not trusted. The proxy must
  pass the browser's Host header through (nginx: `proxy_set_header Host $host;`): form posts whose
  Origin names another host are refused.
"""

from __future__ import annotations

import ipaddress
import sys

from review.app import create_app
from review.store import ReviewStore


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(
    host: str = "127.0.0.1",
    port: int = 8080,
    database_url: str | None = None,
    cookie_secure: bool | None = None,
    threads: int = 4,
) -> None:
    """Open the store (migrating it if needed), build the app, and serve until interrupted."""
    from waitress import serve

    secure = (not is_loopback(host)) if cookie_secure is None else cookie_secure
    store = ReviewStore(database_url)
    app = create_app(store, cookie_secure=secure)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"qqscan review: serving http://{shown}:{port}/ (database {store.safe_url}; "
        f"{'Secure' if secure else 'non-Secure'} session cookies; Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    try:
        serve(app, host=host, port=port, threads=threads, ident="qqscan-review")
    finally:
        store.close()
