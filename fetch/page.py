"""fetch_page: a listing page (HTML or JSON) through fetch.client.fetch_body, the same SSRF guard, DNS
pinning, limits (the byte cap counts decoded bytes, one gzip/deflate layer at most), deadline and error
classes as fetch_image; only the "is this what we asked for" check differs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from fetch.client import Body, PermanentFetchError, fetch_body
from fetch.settings import FetchSettings
from ocr.decode import sniff_format

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
    except (LookupError, UnicodeError):
        # An unknown charset name, or a codec that is no text encoding or cannot replace (idna, punycode,
        # undefined raise even with errors="replace"): utf-8 is right far more often than not.
        return data.decode("utf-8", errors="replace")


def fetch_page(url: str, *, settings: FetchSettings | None = None) -> Page:
    """GET a listing page. Raises fetch.client.TransientFetchError / PermanentFetchError like fetch_image."""
    settings = settings or FetchSettings.from_settings()
    settings = replace(settings, max_bytes=min(settings.max_bytes, MAX_PAGE_BYTES))
    body = fetch_body(
        url,
        settings=settings,
        accept="text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.5",
        accept_encoding="gzip, deflate",
    )
    return page_from(body)


def page_from(body: Body) -> Page:
    """The page in a fetched body (fetch_page's, or one fetch_image refused as no image)."""
    url = body.url
    if sniff_format(body.data):
        raise PermanentFetchError(f"not a page: {body.where} is an image; use `qqscan enqueue`", url=url)
    if len(body.data) > MAX_PAGE_BYTES:
        raise PermanentFetchError(f"not a page: {body.where} is over {MAX_PAGE_BYTES} bytes", url=url)
    kind = body.declared_type.split(";", 1)[0].strip().lower() or "text/html"
    return Page(
        url=url, final_url=body.final_url, text=_decode(body.data, body.declared_type), content_type=kind
    )
