"""Product image URLs from a listing page: HTML (lazy-loading attributes, srcset, inline styles, embedded
JSON) or a JSON API response. Pure functions over text: fetching and queueing live elsewhere.

Shops lazy-load nearly every detail image, so `src` is often a 1x1 placeholder and the real URL sits in
data-src, data-original, data-ks-lazyload (Taobao's KISSY), data-lazy-src, srcset candidates or a JSON
blob in a <script>. We take every candidate: a placeholder costs one cheap scan, a missed image is a
missed contact.

Bounded, because pages come from anyone (`page_image_urls` is the entry point `scan` and `crawl` share):
- size: fetch.page caps a page at 8 MiB, and every step here is linear in it. The HTML parser is fed the
  page once and never closed: closing makes Python 3.11's html.parser search to the end of the page again
  for every unterminated construct (`</` a million times took hours). What it could not finish (the tail
  after an unterminated comment, tag or script) is searched with the quoted-URL pattern instead, as is a
  page the parser gives up on: a broken page hides no image URL from us.
- depth: JSON nested deeper than MAX_JSON_DEPTH is refused as a page (PageError); inside a <script> it is
  searched with the pattern. The walk over parsed JSON is iterative, so no depth can exhaust the stack.
- count: at most QQSCAN_PAGE_MAX_IMAGES image URLs per page, in page order; `PageLinks.found` says how many
  the page had, so the caller can say how many were left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from ground.errors import QqscanError
from ground.settings import SETTINGS

MAX_JSON_DEPTH = 100  # product and listing APIs nest a dozen levels; deeper is built to break parsers
IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp|avif|heic)(?:$|[_?!#@.])", re.I)
# Each alternative stops at its own delimiter (an unquoted CSS URL has no quote, bracket or space), so a
# page of "url(" a million times is read in one pass; the lazy `(.*?)\1` form took minutes per 0.2 MB.
CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^"'()\s]*))\s*\)""", re.I)
# A quoted string in script text that looks like an image URL (absolute, protocol-relative or a path): a
# whole quoted token first, then its extension. One pattern doing both backtracked over every ".jpg_" in
# a long token (100 KB of them took a minute).
QUOTED = re.compile(r"""["']([^"'\s<>]+)["']""")
QUOTED_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp)(?:$|[_?!])", re.I)
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
    if IMAGE_EXT.search(v):  # the path's extension is followed by its end, "?" or "#": all in IMAGE_EXT
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


class PageError(QqscanError):
    """A listing page that cannot be read within the bounds above; the message says why."""


_TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels; not a listing page"


def _load_json(text: str) -> Any:
    """json.loads (ValueError if it is not JSON); PageError past the C parser's recursion limit."""
    try:
        return json.loads(text)
    except RecursionError:
        raise PageError(_TOO_DEEP) from None


def json_image_urls(data: Any, *, key: str = "") -> list[str]:
    """Every string value in a JSON document that looks like an image URL, in document order.
    PageError past MAX_JSON_DEPTH levels."""
    out: list[str] = []
    stack: list[tuple[Any, str, int]] = [(data, key, 0)]
    while stack:
        value, name, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise PageError(_TOO_DEEP)
            items = value.items() if isinstance(value, dict) else ((name, v) for v in value)
            stack.extend(reversed([(v, str(k), depth + 1) for k, v in items]))
        elif isinstance(value, str) and _looks_like_image(value, keyed=bool(IMAGE_KEYS.search(name))):
            out.append(value.strip())
    return out


def _quoted_urls(text: str) -> Iterator[str]:
    for m in QUOTED.finditer(text):  # `window.__DATA__ = {...}` and friends: not JSON on its own
        if QUOTED_EXT.search(m.group(1)):
            yield m.group(1).replace("\\/", "/")


def _css_urls(text: str) -> Iterator[str]:
    for m in CSS_URL.finditer(text):
        yield m.group(1) or m.group(2) or m.group(3) or ""


def _script_urls(text: str) -> Iterator[str]:
    body = text.strip()
    if body[:1] in "[{":
        try:
            yield from json_image_urls(_load_json(body))
            return
        except (ValueError, PageError):  # not JSON on its own, or too deep: the pattern finds quoted URLs
            pass
    yield from _quoted_urls(text)


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
                self.urls.extend(_css_urls(value))
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
            self.urls.extend(_css_urls(text))
        else:
            self.urls.extend(_script_urls(text))
        self._in = None


def _resolve(urls: Iterable[str], base: str) -> list[str]:
    out: dict[str, None] = {}
    for raw in urls:
        u = (raw or "").strip().strip("'\"")
        if not u or u.startswith(("data:", "javascript:", "about:", "blob:")):
            continue
        absolute = _join(base, u)
        if absolute and urlsplit(absolute).scheme in ("http", "https"):
            out[absolute] = None
    return list(out)


def _join(base: str, url: str) -> str | None:
    """`url` made absolute against `base`, without its fragment; None when urllib cannot parse either
    (`http://[x/a.jpg`: "Invalid IPv6 URL"), so one broken link costs its page nothing."""
    try:
        return urljoin(base, url).split("#", 1)[0]
    except ValueError:
        return None


def extract_image_urls(text: str, page_url: str, content_type: str = "text/html") -> list[str]:
    """Absolute, de-duplicated image URLs in page order, all of them. JSON when the content type or the
    text says so. PageError for JSON nested past MAX_JSON_DEPTH."""
    body = text.lstrip("\ufeff \t\r\n")
    if "json" in content_type or body[:1] in "[{":
        try:
            return _resolve(json_image_urls(_load_json(body)), page_url)
        except ValueError:
            pass  # "{" can also start a broken page; parse it as HTML
    parser = _Collector()
    try:
        parser.feed(text)  # not close(): see the module docstring
        rest = parser.rawdata  # what the parser could not finish
    except Exception:  # html.parser gives up on some markup (an AssertionError on "<![<!["): search it all
        rest = text
    parser.urls.extend(_quoted_urls(rest))
    parser.urls.extend(_css_urls(rest))
    base = (_join(page_url, parser.base) if parser.base else None) or page_url
    return _resolve(parser.urls, base)


@dataclass(frozen=True)
class PageLinks:
    """The image URLs taken from one page (at most the cap, in page order) and how many it had."""

    urls: list[str]
    found: int

    @property
    def dropped(self) -> int:
        return self.found - len(self.urls)

    def note(self, verb: str) -> str | None:
        """ "page had N image URLs, <verb> the first M (QQSCAN_PAGE_MAX_IMAGES)", or None under the cap."""
        if not self.dropped:
            return None
        return f"page had {self.found} image URLs, {verb} the first {len(self.urls)} (QQSCAN_PAGE_MAX_IMAGES)"


def page_image_urls(
    text: str, page_url: str, content_type: str = "text/html", *, cap: int | None = None
) -> PageLinks:
    """extract_image_urls, kept to the first `cap` (QQSCAN_PAGE_MAX_IMAGES; default its default): 20,000
    URLs on a page would otherwise be 20,000 jobs. PageError as extract_image_urls."""
    urls = extract_image_urls(text, page_url, content_type)
    cap = SETTINGS["QQSCAN_PAGE_MAX_IMAGES"].default if cap is None else cap
    return PageLinks(urls[:cap], len(urls))
