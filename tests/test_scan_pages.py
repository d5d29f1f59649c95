"""`qqscan scan URL` where the URL serves a listing page: the page is crawled with `qqscan crawl`'s
extraction and its images scanned inline (no Redis), each result naming its page. A real loopback HTTP
server, the real fetcher (guard opened with QQSCAN_ALLOW_PRIVATE_NETWORKS=1), the session's engine."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qqscan.cli import cli

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>商品详情</title></head><body>
<img data-src="/img/detail-1.jpg">
<img data-ks-lazyload="/img/detail-2.jpg">
<img data-src="/img/login.jpg">
<img data-src="/img/gone.jpg">
</body></html>"""

LOGIN = b'<!doctype html><html><body>please log in <img src="/img/behind-login.jpg"></body></html>'


@pytest.fixture
def shop(http_server, fixture_dir, monkeypatch):
    monkeypatch.setenv("QQSCAN_ALLOW_PRIVATE_NETWORKS", "1")
    route, image = http_server.route, lambda name: (fixture_dir / name).read_bytes()
    route("/item.html", body=PAGE.encode(), content_type="text/html; charset=utf-8")
    route("/img/detail-1.jpg", body=image("test/main_01.jpg"), content_type="image/jpeg")
    route("/img/detail-2.jpg", body=image("test/clean_01.jpg"), content_type="image/jpeg")
    route("/img/login.jpg", body=LOGIN, content_type="text/html")
    route("/img/behind-login.jpg", body=image("test/main_02.png"))
    api = b'{"data": {"images": ["/img/detail-1.jpg"]}}'
    route("/api/item.json", body=api, content_type="application/json")
    http_server.route("/blank.html", body=b"<html><body>sold out</body></html>", content_type="text/html")
    return http_server


def test_a_listing_page_is_crawled_and_its_images_scanned(shop, engine):
    page, blank = shop.url("/item.html"), shop.url("/blank.html")
    res = CliRunner().invoke(cli, ["scan", "--json", page, blank])
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    img = [shop.url(f"/img/{n}") for n in ("detail-1.jpg", "detail-2.jpg", "login.jpg", "gone.jpg")]
    assert [r["source"] for r in rows] == [*img, blank]  # the page's images take its place, in page order
    by_source = {r["source"]: r for r in rows}
    for url in img:
        assert by_source[url]["page"] == page
    assert by_source[img[0]]["flagged"] and by_source[img[0]]["findings"][0]["value"] == "391287654"
    assert by_source[img[1]]["error"] is None and not by_source[img[1]]["flagged"]
    assert "not an image" in by_source[img[2]]["error"]  # an image URL serving HTML is not crawled in turn
    assert shop.hits["/img/behind-login.jpg"] == 0
    assert shop.hits["/item.html"] == 1  # GET once: the body fetch_image refused is parsed as the page
    assert "404" in by_source[img[3]]["error"]
    assert "page" not in by_source[blank] and "no image URLs found on it" in by_source[blank]["error"]
    assert res.exit_code == 2  # the dead image and the blank page failed
    assert f"qqscan: {page}: a page, " in res.stderr


def test_line_output_names_the_page_and_json_listings_work(shop, engine):
    api = shop.url("/api/item.json")
    res = CliRunner().invoke(cli, ["scan", api])
    (line,) = res.stdout.splitlines()
    assert line.startswith(f"FLAGGED  {shop.url('/img/detail-1.jpg')} (page {api}): qq 391287654")
    assert res.exit_code == 1


def test_with_store_the_page_is_recorded_with_each_image(shop, engine, tmp_path, monkeypatch):
    from store.results import Store

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    monkeypatch.setenv("QQSCAN_DATABASE_URL", url)
    page = shop.url("/item.html")
    res = CliRunner().invoke(cli, ["scan", "--store", "--json", "--shop", "shop-7", page])
    rows = {r["source"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert rows[shop.url("/img/detail-1.jpg")]["stored"] is True
    store = Store(url)
    try:
        for name in ("detail-1.jpg", "gone.jpg"):  # scanned, and failed before any bytes
            source = store.source(shop.url(f"/img/{name}"))
            assert source is not None and source["page_url"] == page and source["shop_id"] == "shop-7"
    finally:
        store.close()


def test_bytes_that_are_neither_image_nor_page_keep_their_own_error(shop):
    shop.route("/download", body=b"\x00\x01\x02 not a picture " * 40, content_type="application/octet-stream")
    res = CliRunner().invoke(cli, ["scan", "--json", shop.url("/download")])
    (row,) = [json.loads(x) for x in res.stdout.splitlines()]
    assert row["error"].startswith("not an image: unrecognised bytes")
    assert row["error"].endswith(shop.url("/download"))  # the fetcher's message, nothing about pages
    assert res.exit_code == 2


def test_a_nested_json_page_between_two_images_gets_its_own_error(shop, engine):
    """Issue #23: JSON nested 200,000 deep raised RecursionError: `qqscan scan` stopped and the URLs after
    the page were never scanned."""
    deep = "[" * 200_000 + "]" * 200_000
    shop.route("/api/deep.json", body=deep.encode(), content_type="application/json")
    first, page, last = (shop.url(p) for p in ("/img/detail-2.jpg", "/api/deep.json", "/img/detail-1.jpg"))
    res = CliRunner().invoke(cli, ["scan", "--json", first, page, last])
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["source"] for r in rows] == [first, page, last]
    assert rows[0]["error"] is None and rows[2]["error"] is None
    assert rows[2]["flagged"] and rows[2]["findings"][0]["value"] == "391287654"  # scanned after the page
    assert "JSON nested deeper than 100 levels" in rows[1]["error"] and "\n" not in rows[1]["error"]
    assert "Traceback" not in res.stderr and "RecursionError" not in res.output
    assert res.exit_code == 2


def test_a_page_over_the_image_cap_scans_the_first_ones_and_says_so(shop, monkeypatch):
    monkeypatch.setenv("QQSCAN_PAGE_MAX_IMAGES", "2")
    shop.route("/img/detail-1.jpg", status=404)  # no OCR needed: every image here is an error
    shop.route("/img/detail-2.jpg", status=404)
    page = shop.url("/item.html")
    res = CliRunner().invoke(cli, ["scan", "--json", page])
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["source"] for r in rows] == [shop.url("/img/detail-1.jpg"), shop.url("/img/detail-2.jpg")]
    assert (
        f"qqscan: {page}: page had 4 image URLs, scanning the first 2 (QQSCAN_PAGE_MAX_IMAGES)" in res.stderr
    )
    assert shop.hits["/img/login.jpg"] == 0 and shop.hits["/img/gone.jpg"] == 0
