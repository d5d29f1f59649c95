"""Product image URLs from a listing page: HTML (lazy-loading attributes, srcset, inline styles, embedded
JSON) or a JSON API response. Pure functions over text: fetching and queueing live elsewhere.

Shops lazy-load nearly every detail image, so `src` is often a 1x1 placeholder and the real URL sits in
data-src, data-original, data-ks-lazyload (Taobao's KISSY), data-lazy-src, srcset candidates or a JSON
blob in a <script>. We take every candidate: a placeholder costs one cheap scan, a missed image is a
missed contact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp|avif|heic)(?:$|[_?!#@.])", re.I)
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.I)
# A quoted string in script text that looks like an image URL (absolute, protocol-relative or a path).
QUOTED_IMAGE = re.compile(
    r"""["']((?:https?:)?(?:\\?/\\?/)?[^"'\s<>]*?\.(?:jpe?g|png|gif|webp|bmp)(?:[_?!][^"'\s<>]*)?)["']""",
    re.I,
)
IMAGE_KEYS = re.compile(r"img|image|pic|photo|thumb|cover|src|url", re.I)
URL_ATTRS = {"src", "data-src", "data-original", "data-ks-lazyload", "data-lazyload", "poster"}
SRCSET_ATTRS = {"srcset", "data-srcset", "data-lazy-srcset"}


def _looks_like_image(value: str, *, keyed: bool = False) -> bool:
    """An image URL by its extension, or (under an image-ish JSON key) any http(s) URL."""
    v = value.strip()
    if not v or len(v) > 2048 or v.startswith(("data:", "javascript:", "#", "mailto:")):
        return False
    if any(c.isspace() for c in v):
        return False
    path = urlsplit(v if "://" in v or v.startswith("//") else "x://h/" + v.lstrip("/")).path
    if IMAGE_EXT.search(path) or IMAGE_EXT.search(v):
        return True
    return keyed and v.startswith(("http://", "https://", "//"))


def parse_srcset(value: str) -> list[str]:
    """Every candidate URL of a srcset ("a.jpg 1x, b.jpg 2x"), per the HTML spec's parsing: a URL runs to
    whitespace and may itself contain commas; trailing commas end a candidate without descriptors."""
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        j = i
        while j < n and not value[j].isspace():
            j += 1
        url = value[i:j]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            depth = 0  # descriptors run to the next comma outside parentheses
            while j < n and not (value[j] == "," and depth <= 0):
                depth += {"(": 1, ")": -1}.get(value[j], 0)
                j += 1
            j += 1
        if url:
            out.append(url)
        i = j
    return out


def json_image_urls(data: Any, *, key: str = "") -> Iterator[str]:
    """Every string value in a JSON document that looks like an image URL."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from json_image_urls(v, key=str(k))
    elif isinstance(data, list):
        for v in data:
            yield from json_image_urls(v, key=key)
    elif isinstance(data, str) and _looks_like_image(data, keyed=bool(IMAGE_KEYS.search(key))):
        yield data.strip()


def _script_urls(text: str) -> Iterator[str]:
    body = text.strip()
    if body[:1] in "[{":
        try:
            yield from json_image_urls(json.loads(body))
            return
        except ValueError:
            pass
    for m in QUOTED_IMAGE.finditer(text):  # `window.__DATA__ = {...}` and friends: not JSON on its own
        yield m.group(1).replace("\\/", "/")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.base: str | None = None
        self._in: str | None = None  # "script" or "style" while inside one
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v for k, v in attrs if v is not None}
        if tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"]
        for name, value in a.items():
            if name in URL_ATTRS or (name.startswith("data-") and ("lazy" in name or "original" in name)):
                if name in SRCSET_ATTRS or "srcset" in name:
                    self.urls.extend(parse_srcset(value))
                elif name in ("src", "poster") and tag not in ("img", "source", "video", "input"):
                    continue  # <script src>, <iframe src>: not images
                else:
                    self.urls.append(value)
            elif name in SRCSET_ATTRS or name.endswith("srcset"):
                self.urls.extend(parse_srcset(value))
            elif name == "style":
                self.urls.extend(m.group(2) for m in CSS_URL.finditer(value))
            elif name.startswith("data-") and _looks_like_image(value):
                self.urls.append(value)  # data-zoom-image, data-big, data-hires ...
        if tag == "meta" and (a.get("property") or a.get("name") or "").lower() in (
            "og:image",
            "og:image:url",
            "twitter:image",
        ):
            self.urls.append(a.get("content", ""))
        if tag == "link" and "image_src" in (a.get("rel") or "").lower():
            self.urls.append(a.get("href", ""))
        if tag == "a" and _looks_like_image(a.get("href", "")):
            self.urls.append(a["href"])
        if tag in ("script", "style"):
            self._in, self._buf = tag, []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self._buf.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != self._in:
            return
        text = "".join(self._buf)
        if tag == "style":
            self.urls.extend(m.group(2) for m in CSS_URL.finditer(text))
        else:
            self.urls.extend(_script_urls(text))
        self._in = None


def _resolve(urls: Iterable[str], base: str) -> list[str]:
    out: dict[str, None] = {}
    for raw in urls:
        u = (raw or "").strip().strip("'\"")
        if not u or u.startswith(("data:", "javascript:", "about:", "blob:")):
            continue
        absolute = urljoin(base, u).split("#", 1)[0]
        if urlsplit(absolute).scheme in ("http", "https"):
            out[absolute] = None
    return list(out)


def extract_image_urls(text: str, page_url: str, content_type: str = "text/html") -> list[str]:
    """Absolute, de-duplicated image URLs in page order. JSON when the content type or the text says so."""
    body = text.lstrip("\ufeff \t\r\n")
    if "json" in content_type or body[:1] in "[{":
        try:
            return _resolve(json_image_urls(json.loads(body)), page_url)
        except ValueError:
            pass  # "{" can also start a broken page; parse it as HTML
    parser = _Collector()
    parser.feed(text)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    return _resolve(parser.urls, base)
