"""An access log in the Common Log Format, as a WSGI middleware around the review app:

    127.0.0.1 - alice [27/Nov/2026:11:50:31 +0000] "GET /?status=all HTTP/1.1" 200 5123

host, identity ("-"), the logged-in user (or "-"), the time in UTC, the request line as the client sent
it, the status, and the body bytes sent ("-" for none). One line per request, written when the response
is finished (so the byte count is what was sent). Bytes outside printable ASCII and `"`/`\\` in the
request line are written as `\\xhh`, as Apache does, so a request cannot forge log lines or carry
terminal or bidi controls into a log viewer. The address is the socket's (X-Forwarded-For is not trusted).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from review.safetext import visible

USER_KEY = "qqscan.review.user"  # set by the app (review/app.py) for requests made by a logged-in user
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clf_escape(text: str) -> str:
    """`text` (a WSGI string: one character per byte) with non-printable-ASCII, `"` and `\\` as \\xhh."""
    out = []
    for c in text:
        if " " <= c <= "~" and c not in '"\\':
            out.append(c)
        else:  # a WSGI string has only U+0000-00FF; anything above is written as its UTF-8 bytes
            out.extend(f"\\x{b:02x}" for b in (c.encode("latin-1") if ord(c) < 256 else c.encode()))
    return "".join(out)


def clf_time(when: datetime) -> str:
    when = when.astimezone(UTC)
    return f"{when.day:02d}/{MONTHS[when.month - 1]}/{when:%Y:%H:%M:%S} +0000"


class AccessLog:
    """Wraps a WSGI app; writes one Common Log Format line per request to `stream`."""

    def __init__(self, app: Callable[..., Any], stream: TextIO) -> None:
        self.app, self.stream = app, stream
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = datetime.now(UTC)
        seen: dict[str, str] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        return _Counted(body, lambda sent: self.write(environ, seen.get("status", "-"), sent, started))

    def write(self, environ: dict[str, Any], status: str, sent: int, when: datetime) -> None:
        target = environ.get("REQUEST_URI") or (
            environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
        )  # fmt: skip
        request_line = f"{environ.get('REQUEST_METHOD', '-')} {target} {environ.get('SERVER_PROTOCOL', '-')}"
        user = environ.get(USER_KEY) or "-"
        line = (
            f"{environ.get('REMOTE_ADDR') or '-'} - {visible(user).replace(' ', '_')} [{clf_time(when)}] "
            f'"{clf_escape(request_line)}" {status} {sent or "-"}\n'
        )
        with self._lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):  # a closed or full log must not fail the request
                pass


class _Counted:
    """The app's response body, counted as it is sent; `done(bytes)` runs once when the server closes it."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body, self.done, self.sent = body, done, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.sent)
