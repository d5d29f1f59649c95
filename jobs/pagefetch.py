"""fetch_page: a listing page (HTML or JSON) through the same SSRF guard, DNS pinning, limits and error
classes as worker.fetch.fetch_image, which only accepts images.

It reuses fetch.py's per-hop pieces (pin, pinned request, transport-error classification, capped read) so
the guard cannot drift between the two; only the "is this what we asked for" check differs. If fetch.py
grows a public variant that accepts text, this module shrinks to a call.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin

import httpx

from worker import fetch as _f
from worker import netguard
from worker.config import Settings
from worker.fetch import PermanentFetchError, TransientFetchError
from worker.ratelimit import limiter_for

MAX_PAGE_BYTES = 8 * 1024 * 1024  # a listing page; far below the image cap
_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.I)


@dataclass(frozen=True)
class Page:
    url: str
    final_url: str  # after redirects: relative image URLs resolve against this
    text: str = field(repr=False)
    content_type: str  # "text/html", "application/json", ...


def _decode(data: bytes, declared: str) -> str:
    m = re.search(r"charset=([A-Za-z0-9_-]+)", declared, re.I)
    charset = m.group(1) if m else None
    if not charset:
        mb = _CHARSET.search(data[:4096])  # Chinese shops often declare gbk/gb2312 only in <meta>
        charset = mb.group(1).decode("ascii") if mb else "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name: utf-8 is right far more often than not
        return data.decode("utf-8", errors="replace")


def _request(
    client: httpx.Client, request: httpx.Request, url: str, where: str, settings: Settings, started: float
) -> Page | str:
    resp = client.send(request, stream=True)
    try:
        status = resp.status_code
        if status in _f.REDIRECT_CODES:
            location = resp.headers.get("location")
            if not location:
                raise PermanentFetchError(
                    f"HTTP {status} without Location from {where}", url=url, status=status
                )
            return location
        if status in _f.TRANSIENT_CODES or status >= 500:
            raise TransientFetchError(
                f"HTTP {status} {resp.reason_phrase} from {where}; try again later",
                url=url,
                status=status,
                retry_after=_f._retry_after(resp.headers.get("retry-after")),
            )
        if status >= 400 or status < 200:
            raise PermanentFetchError(
                f"HTTP {status} {resp.reason_phrase} from {where}", url=url, status=status
            )
        data = _f._read_capped(resp, url, settings, started)
        if _f.sniff(data):
            raise PermanentFetchError(f"not a page: {where} is an image; use `qqscan enqueue`", url=url)
        declared = resp.headers.get("content-type", "")
        kind = declared.split(";", 1)[0].strip().lower() or "text/html"
        return Page(url=url, final_url=url, text=_decode(data, declared), content_type=kind)
    finally:
        resp.close()


def fetch_page(url: str, *, settings: Settings | None = None) -> Page:
    """GET a listing page. Raises worker.fetch.TransientFetchError / PermanentFetchError like fetch_image."""
    settings = settings or Settings.from_env()
    settings = replace(settings, max_bytes=min(settings.max_bytes, MAX_PAGE_BYTES))
    started = time.monotonic()
    limiter = limiter_for(settings.rate_per_host, settings.burst_per_host)
    timeout = httpx.Timeout(
        connect=settings.connect_timeout, read=settings.read_timeout, write=settings.read_timeout, pool=5.0
    )
    headers = {
        "User-Agent": settings.user_agent,
        "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.5",
        "Accept-Encoding": "gzip, deflate",
    }
    current = url
    redirects = 0
    with httpx.Client(
        timeout=timeout,
        follow_redirects=False,  # every hop must pass the guard
        trust_env=False,
        verify=_f._tls_context(settings),
        headers=headers,
    ) as client:
        while True:
            where = current if current == url else f"{current} (redirected from {url})"
            try:
                target = netguard.pin(current, settings)
            except netguard.BlockedAddress as exc:
                raise PermanentFetchError(f"{exc}; url {where}", url=url) from None
            except netguard.ResolveError as exc:
                cls = TransientFetchError if exc.temporary else PermanentFetchError
                raise cls(f"{exc}; url {where}", url=url) from None
            limiter.acquire(target.host)
            got: Page | str | None = None
            for n, ip in enumerate(target.ips, start=1):
                try:
                    req = _f._pinned_request(client, current, target, ip)
                    got = _request(client, req, url, where, settings, started)
                    break
                except httpx.ConnectError as exc:
                    if n == len(target.ips):
                        raise _f._classify_transport_error(exc, where, url) from exc
                except httpx.TransportError as exc:
                    raise _f._classify_transport_error(exc, where, url) from exc
                except httpx.InvalidURL as exc:
                    raise PermanentFetchError(f"invalid URL {where}: {exc}", url=url) from None
            if isinstance(got, Page):
                return replace(got, final_url=current)
            assert isinstance(got, str)
            if redirects >= settings.max_redirects:
                raise PermanentFetchError(f"too many redirects: {url}", url=url)
            redirects += 1
            current = urljoin(current, got)
