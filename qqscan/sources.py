"""What `qqscan scan` reads: files, folders (recursive), http(s) URLs (an image, or a listing page whose
images are scanned), or `-` for a list on stdin.

`expand` checks what can be checked without reading anything (missing files, empty folders) so a mistake
is answered at once, before the OCR engine is built; `prefetched` reads the rest in background threads,
in order, so fetching overlaps OCR.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ground.errors import UsageError

if TYPE_CHECKING:
    from fetch.client import Body
    from jobs.scanner import Scanner

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".jfif"}
PREFETCH = 4  # sources read ahead (files or URLs) while the engine is busy


class SourceError(UsageError):
    """A source that could not be read; the message names it and says why."""


@dataclass(frozen=True)
class Source:
    name: str  # as given (file path or URL), or an image URL found on a page
    page: str | None = None  # the listing page the image URL was found on


@dataclass(frozen=True)
class Problem:
    """A source refused before anything was read."""

    name: str
    error: str
    remember: bool = True  # a source for the store's failed list (a file), or just a mistake (a folder)


@dataclass(frozen=True)
class PageImages:
    """A URL that served a listing page instead of an image: the image URLs taken from it (at most
    QQSCAN_PAGE_MAX_IMAGES, in page order)."""

    page: str
    urls: list[str] = field(default_factory=list)
    over_cap: str | None = None  # "page had N image URLs, scanning the first M (...)" when it had more

    @property
    def summary(self) -> str:
        """The operator's line about this page."""
        return f"{self.page}: {self.over_cap or f'a page, {len(self.urls)} image URL(s) on it'}"


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _check_file(path: str) -> str | None:
    if not os.path.lexists(path):
        return f"cannot read {path}: No such file or directory"
    if not os.path.exists(path):
        return f"cannot read {path}: a broken symbolic link"
    if not os.path.isfile(path):
        return f"cannot read {path}: not a regular file"
    if not os.access(path, os.R_OK):
        return f"cannot read {path}: Permission denied"
    return None


def listed(lines: Iterable[str]) -> Iterator[str]:
    """The entries of a list (stdin, a --file): stripped, blank lines and # comments skipped."""
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def expand(args: Iterable[str], stdin: TextIO) -> Iterator[Source | Problem]:
    """Sources in order, and a Problem for each argument refused without reading it. Folders yield their
    image files (by suffix) sorted; files named explicitly are always taken, whatever their suffix, so a
    mislabeled file gets a clear decode error, not silence."""
    for arg in args:
        if arg == "-":
            yield from expand(listed(stdin), stdin)
        elif is_url(arg):
            yield Source(arg)
        elif os.path.isdir(arg):
            found = False
            for path in sorted(Path(arg).rglob("*")):
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    found = True
                    yield Source(str(path))
            if not found:
                suffixes = "/".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))
                yield Problem(
                    arg, f"no images in folder {arg} (looked for files ending in {suffixes})", remember=False
                )
        elif (error := _check_file(arg)) is not None:
            yield Problem(arg, error)
        else:
            yield Source(arg)


def load(source: Source, scanner: Scanner) -> bytes | PageImages:
    """The bytes of one image; for a URL given on the command line that serves a page (HTML or JSON),
    the image URLs on it, extracted as `qqscan crawl` does. Raises SourceError."""
    if is_url(source.name):
        return _load_url(source, scanner)
    max_bytes = scanner.limits.max_bytes
    try:
        with open(source.name, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise SourceError(f"cannot read {source.name}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise SourceError(f"{source.name} is larger than the {max_bytes} byte cap (QQSCAN_MAX_BYTES)")
    return data


def _load_url(source: Source, scanner: Scanner) -> bytes | PageImages:
    from fetch.client import FetchError, NotAnImage, fetch_image

    try:
        return fetch_image(source.name, settings=scanner.fetch).data
    except NotAnImage as exc:
        # A 2xx body that is no image may be a listing page; only URLs given by the operator are
        # crawled (one level: a page's own links are images or nothing). The body is parsed, not fetched
        # again.
        if source.page is not None:
            raise SourceError(str(exc)) from exc
        return _page_images(source.name, str(exc), exc.body, scanner.settings["QQSCAN_PAGE_MAX_IMAGES"])
    except FetchError as exc:
        raise SourceError(str(exc)) from exc


def _page_images(url: str, not_an_image: str, body: Body, cap: int) -> PageImages:
    """The page in `body` parsed as `qqscan crawl` does (fetch.page, jobs.crawl)."""
    from fetch.client import FetchError
    from fetch.page import page_from
    from jobs.crawl import PageError, page_image_urls

    try:
        page = page_from(body)
    except FetchError as exc:
        raise SourceError(f"{not_an_image}; read as a page: {exc}") from exc
    text = page.text.lstrip("\ufeff \t\r\n")
    if not any(k in page.content_type for k in ("html", "json", "xml")) and text[:1] not in ("<", "{", "["):
        raise SourceError(not_an_image)  # binary or plain text: no page to crawl
    try:
        links = page_image_urls(page.text, page.final_url, page.content_type, cap=cap)
    except PageError as exc:
        raise SourceError(f"{not_an_image}; read as a page: {exc}") from exc
    if not links.urls:
        raise SourceError(f"{not_an_image}; no image URLs found on it either")
    return PageImages(url, links.urls, links.note("scanning"))


def prefetched(
    sources: Iterable[Source],
    scanner: Scanner,
    on_page: Callable[[PageImages], None] = lambda page: None,
) -> Iterator[tuple[Source, bytes | SourceError]]:
    """Each source with its bytes (or why it has none), in input order, read ahead in background threads.
    A page's images take its place in the order; `on_page` hears of each page found."""

    def get(src: Source) -> bytes | PageImages | SourceError:
        try:
            return load(src, scanner)
        except SourceError as exc:
            return exc

    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="qqscan-read")
    queue: deque[tuple[Source, Future | None]] = deque((src, None) for src in sources)
    try:
        while queue:
            for i in range(min(PREFETCH, len(queue))):  # keep the next few in flight
                if queue[i][1] is None:
                    queue[i] = (queue[i][0], pool.submit(get, queue[i][0]))
            src, fut = queue.popleft()
            assert fut is not None
            got = fut.result()
            if isinstance(got, PageImages):
                on_page(got)
                queue.extendleft(reversed([(Source(u, page=src.name), None) for u in got.urls]))
                continue
            yield src, got
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C or a broken pipe: do not wait for reads
