"""Listing pages -> image URLs -> scan jobs: the extractor on the lazy-loading patterns shops use, and the
crawl against a loopback HTTP server and a real Redis (no OCR here)."""

from __future__ import annotations

import json

import pytest
from redis import Redis
from rq import Queue

from jobs.crawl import extract_image_urls, parse_srcset

# Fixtures: http_server (tests/conftest.py), redis_server / redis_url (tests/redis_server.py).
pytest_plugins = ("tests.redis_server",)


LISTING = """<!doctype html>
<html><head><meta charset="utf-8">
<meta property="og:image" content="//img.shop.test/og.jpg">
<style>.hero { background-image: url("/img/hero.png") }</style>
</head><body>
<script src="/static/app.js"></script>
<img src="//g.alicdn.com/s.gif" data-src="/img/detail-1.jpg">
<img data-ks-lazyload="https://img.shop.test/detail-2.jpg_400x400.jpg">
<img data-original="detail-3.webp" class="lazy">
<img data-lazy-src="/img/detail-4.png">
<img src="/img/detail-5.jpg" srcset="/img/detail-5.jpg 1x, /img/detail-5@2x.jpg 2x">
<picture><source srcset="/img/w400.jpg 400w, /img/w800.jpg 800w"><img src="/img/w400.jpg"></picture>
<div class="desc" style="background-image:url('/img/detail-6.jpg')"></div>
<div data-src="/img/detail-7.jpg" data-zoom-image="/img/detail-7-zoom.jpg"></div>
<a href="/item/2.html">next</a>
<script type="application/json" id="gallery">{"images": ["/img/g1.jpg", {"big": "/img/g2.jpg"}],
  "title": "not an image.jpg here", "sku": "123"}</script>
<script>window.__INIT__ = {"descPics":["https:\\/\\/img.shop.test\\/desc-1.png"]};</script>
<img data-src="/img/detail-1.jpg">
</body></html>"""

EXPECTED_PATHS = {
    "//img.shop.test/og.jpg",
    "/img/hero.png",
    "//g.alicdn.com/s.gif",
    "/img/detail-1.jpg",
    "https://img.shop.test/detail-2.jpg_400x400.jpg",
    "/item/detail-3.webp",
    "/img/detail-4.png",
    "/img/detail-5.jpg",
    "/img/detail-5@2x.jpg",
    "/img/w400.jpg",
    "/img/w800.jpg",
    "/img/detail-6.jpg",
    "/img/detail-7.jpg",
    "/img/detail-7-zoom.jpg",
    "/img/g1.jpg",
    "/img/g2.jpg",
    "https://img.shop.test/desc-1.png",
}


def _absolute(base: str, paths: set[str]) -> set[str]:
    from urllib.parse import urljoin

    return {urljoin(base, p) for p in paths}


def test_extracts_every_lazy_loaded_image_once_resolved_against_the_page():
    page = "https://shop.test/item/1.html"
    urls = extract_image_urls(LISTING, page)
    assert len(urls) == len(set(urls)), "duplicates"
    assert set(urls) == _absolute(page, EXPECTED_PATHS)
    assert "https://shop.test/static/app.js" not in urls and "https://shop.test/item/2.html" not in urls


def test_base_href_changes_how_relative_urls_resolve():
    html = '<base href="https://cdn.shop.test/assets/"><img data-src="a.jpg">'
    assert extract_image_urls(html, "https://shop.test/p/1") == ["https://cdn.shop.test/assets/a.jpg"]


def test_json_listing_any_string_that_looks_like_an_image_url():
    doc = {
        "items": [
            {"id": 1, "pic_url": "//img.shop.test/1.jpg", "detail": {"imgs": ["/d/1.png", "/d/2.webp"]}},
            {"id": 2, "image": "https://img.shop.test/i?id=9", "link": "https://shop.test/item/2"},
        ],
        "note": "see 3.jpg",
    }
    urls = extract_image_urls(json.dumps(doc), "https://api.shop.test/list?page=1", "application/json")
    assert urls == [
        "https://img.shop.test/1.jpg",
        "https://api.shop.test/d/1.png",
        "https://api.shop.test/d/2.webp",
        "https://img.shop.test/i?id=9",  # under an image-ish key, no extension needed
    ]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("a.jpg 1x, b.jpg 2x", ["a.jpg", "b.jpg"]),
        ("a.jpg 400w,b.jpg 800w", ["a.jpg", "b.jpg"]),
        ("/p/x.jpg?w=1,2 2x, y.jpg", ["/p/x.jpg?w=1,2", "y.jpg"]),  # commas inside a URL stay
        ("  single.png  ", ["single.png"]),
        ("", []),
    ],
)
def test_srcset_candidates(value, expected):
    assert parse_srcset(value) == expected


@pytest.fixture
def allow_loopback(monkeypatch):
    monkeypatch.setenv("QQSCAN_ALLOW_PRIVATE_NETWORKS", "1")
    monkeypatch.setenv("QQSCAN_FETCH_RATE", "0")


@pytest.fixture
def store_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    monkeypatch.setenv("QQSCAN_DATABASE_URL", url)
    return url


def test_crawl_enqueues_each_image_once_and_a_recrawl_adds_nothing(
    http_server, redis_url, store_url, allow_loopback
):
    from jobs.queueing import fetch_job, job_id
    from jobs.tasks import crawl

    http_server.route("/item/1.html", body=LISTING.encode(), content_type="text/html; charset=utf-8")
    page = http_server.url("/item/1.html")
    conn = Redis.from_url(redis_url)

    first = crawl(conn, page, shop_id="s1")
    assert first["status"] == "ok" and first["images"] == len(EXPECTED_PATHS)
    q = Queue("scan", connection=conn)
    queued = q.get_job_ids()
    expected = _absolute(page, EXPECTED_PATHS)
    assert len(queued) == len(expected) == first["enqueued"]
    assert set(queued) == {job_id("scan", u) for u in expected}  # ids derived from the URL
    job = fetch_job(job_id("scan", http_server.url("/img/detail-1.jpg")), conn)
    assert job.kwargs == {"url": http_server.url("/img/detail-1.jpg"), "shop_id": "s1", "page_url": page}
    assert job.retries_left and job.retry_intervals  # RQ's Retry set at enqueue

    again = crawl(conn, page, shop_id="s1")
    assert again["enqueued"] == 0 and again["already_queued"] == len(expected)
    assert q.get_job_ids() == queued


def test_crawl_of_a_json_api_page(http_server, redis_url, store_url, allow_loopback):
    from jobs.tasks import crawl

    body = json.dumps({"data": {"list": [{"mainPic": "/p/1.jpg"}, {"mainPic": "/p/2.jpg"}]}})
    http_server.route("/api/list", body=body.encode(), content_type="application/json")
    result = crawl(Redis.from_url(redis_url), http_server.url("/api/list"))
    assert result["images"] == 2 and result["enqueued"] == 2


def test_crawl_cli_queues_crawl_jobs_with_deterministic_ids(redis_url, store_url):
    from click.testing import CliRunner

    from jobs.queueing import job_id
    from qqscan.cli import cli

    pages = ["https://shop.test/list?page=1", "https://shop.test/list?page=2"]
    r = CliRunner().invoke(cli, ["crawl", *pages, pages[0]])
    assert r.exit_code == 0, r.output
    assert "queued 2 page(s)" in r.output
    ids = Queue("crawl", connection=Redis.from_url(redis_url)).get_job_ids()
    assert ids == [job_id("crawl", p) for p in pages]


def test_a_page_refused_by_the_ssrf_guard_is_a_failed_source_not_an_exception(
    http_server, redis_url, store_url, monkeypatch
):
    from jobs.tasks import crawl
    from store.results import get_store

    monkeypatch.delenv("QQSCAN_ALLOW_PRIVATE_NETWORKS", raising=False)
    http_server.route("/item/1.html", body=LISTING.encode(), content_type="text/html")
    page = http_server.url("/item/1.html")
    result = crawl(Redis.from_url(redis_url), page)
    assert result["status"] == "failed" and "loopback" in result["error"]
    assert http_server.connections == 0  # refused before connecting
    assert "loopback" in get_store(store_url).source(page)["error"]


def test_a_page_that_is_an_image_is_refused_with_a_hint(http_server, redis_url, store_url, allow_loopback):
    from jobs.tasks import crawl

    http_server.route("/x.png", body=b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")
    result = crawl(Redis.from_url(redis_url), http_server.url("/x.png"))
    assert result["status"] == "failed" and "qqscan enqueue" in result["error"]


# --- bounded parsing (issue #23 items 4 and 6) -----------------------------------------------------------

MiB = 1024 * 1024


def test_a_page_keeps_the_first_image_urls_up_to_the_cap_and_counts_the_rest():
    from jobs.crawl import page_image_urls

    html = "".join(f'<img data-src="/i/{n}.jpg">' for n in range(600))
    links = page_image_urls(html, "https://shop.test/p")
    assert links.found == 600 and links.dropped == 100
    assert links.urls == [f"https://shop.test/i/{n}.jpg" for n in range(500)]  # page order
    assert links.note("queued") == "page had 600 image URLs, queued the first 500 (QQSCAN_PAGE_MAX_IMAGES)"
    assert page_image_urls(html, "https://shop.test/p", cap=2).urls == [
        "https://shop.test/i/0.jpg",
        "https://shop.test/i/1.jpg",
    ]
    assert page_image_urls(html[:60], "https://shop.test/p").note("queued") is None


def nested_json(depth: int = 200_000) -> str:
    """Issue #23: a listing "page" of JSON nested 200,000 deep raised RecursionError out of the parser."""
    return "[" * depth + '"/x.jpg"' + "]" * depth


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
def test_deeply_nested_json_is_a_page_error_not_a_recursion_error(content_type):
    from jobs.crawl import MAX_JSON_DEPTH, PageError

    with pytest.raises(PageError, match=f"JSON nested deeper than {MAX_JSON_DEPTH} levels"):
        extract_image_urls(nested_json(), "https://api.shop.test/", content_type)
    # Past our depth but within json's own: the walk refuses it the same way, without recursion.
    with pytest.raises(PageError):
        extract_image_urls(nested_json(MAX_JSON_DEPTH + 1), "https://api.shop.test/", content_type)
    assert extract_image_urls(nested_json(MAX_JSON_DEPTH - 1), "https://api.shop.test/", content_type) == [
        "https://api.shop.test/x.jpg"
    ]


def test_a_url_urllib_cannot_parse_is_skipped_not_raised():
    # "Invalid IPv6 URL" from urljoin stopped `qqscan scan` like the RecursionError did.
    html = '<base href="http://[x/"><img src="http://[::1/a.jpg"><img data-src="/b.jpg">'
    assert extract_image_urls(html, "https://s.test/p") == ["https://s.test/b.jpg"]
    html = '<a href="http://[x/a.jpg"></a><div data-big="http://[y/c.png"></div><img data-src="/b.jpg">'
    assert extract_image_urls(html, "https://s.test/p") == ["https://s.test/b.jpg"]
    doc = '{"img": "http://[bad/a.jpg", "list": [{"pic": "/b.jpg"}]}'
    assert extract_image_urls(doc, "https://s.test/p", "application/json") == ["https://s.test/b.jpg"]


def test_deep_json_inside_a_script_is_searched_by_pattern():
    html = '<img data-src="/a.jpg"><script type="application/json">' + nested_json() + "</script>"
    assert extract_image_urls(html, "https://s.test/") == ["https://s.test/a.jpg", "https://s.test/x.jpg"]


# Markup that made Python 3.11's html.parser (on close) or our patterns search the rest of the page again
# at every position: 1-4 MiB of each took minutes to hours, or raised out of the parser.
HOSTILE = {
    "end tags": "</" * (MiB // 2),
    "declarations": "<!" * (2 * MiB),
    "comments never closed": "<!--x>" * (MiB // 6),
    "marked sections (html.parser raises AssertionError)": "<![" * (MiB // 3),
    "css url( never closed": "<style>" + "url(" * (MiB // 4) + "</style>",
    "css url( in a style attribute": '<div style="' + "url(" * (MiB // 4) + '">',
    "quoted token of .jpg_": '<script>var a = "' + ".jpg_" * (MiB // 5) + "<</script>",
}


@pytest.mark.timeout(120)  # a hang guard, not a speed check: the old parser ran for hours on these
@pytest.mark.parametrize("filler", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_markup_is_parsed_in_one_pass(filler):
    urls = extract_image_urls('<img data-src="/before.jpg">' + filler, "https://shop.test/p")
    assert urls[:1] == ["https://shop.test/before.jpg"]


def test_what_the_parser_cannot_finish_is_still_searched():
    # An unterminated script at the end, and an unterminated tag: their quoted image URLs are found.
    page = '<img data-src="/a.jpg"><script>var d = {"pic": "/b.jpg"};'
    assert extract_image_urls(page, "https://s.test/") == ["https://s.test/a.jpg", "https://s.test/b.jpg"]
    page = '<img data-src="/a.jpg"><img data-src="/c.png"'
    assert extract_image_urls(page, "https://s.test/") == ["https://s.test/a.jpg", "https://s.test/c.png"]


@pytest.mark.timeout(300)
def test_a_page_of_20000_image_urls_queues_the_cap(http_server, redis_url, store_url, allow_loopback):
    """Issue #23: 20,000 URLs on one page became 20,000 jobs (41 MB of Redis)."""
    from jobs.tasks import crawl

    html = "<html><body>" + "".join(f'<img data-src="/i/{n}.jpg">' for n in range(20_000)) + "</body></html>"
    http_server.route("/big.html", body=html.encode(), content_type="text/html")
    conn = Redis.from_url(redis_url)
    result = crawl(conn, http_server.url("/big.html"))
    assert result["status"] == "ok" and result["images"] == 20_000
    assert result["enqueued"] == 500 and result["dropped"] == 19_500
    assert result["note"] == "page had 20000 image URLs, queued the first 500 (QQSCAN_PAGE_MAX_IMAGES)"
    assert Queue("scan", connection=conn).count == 500


def test_a_nested_json_page_is_a_failed_crawl_with_one_line(
    http_server, redis_url, store_url, allow_loopback
):
    from click.testing import CliRunner

    from jobs.tasks import crawl
    from qqscan.cli import cli
    from store.results import get_store

    http_server.route("/api/deep", body=nested_json().encode(), content_type="application/json")
    page = http_server.url("/api/deep")
    result = crawl(Redis.from_url(redis_url), page)
    assert result["status"] == "failed" and "JSON nested deeper than 100 levels" in result["error"]
    assert page in get_store(store_url).source(page)["error"]

    r = CliRunner().invoke(cli, ["crawl", "--now", page])
    assert r.exit_code == 2 and r.exception is None or isinstance(r.exception, SystemExit)
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"{page}: FAILED JSON nested deeper than 100 levels")
    assert "Traceback" not in r.output
