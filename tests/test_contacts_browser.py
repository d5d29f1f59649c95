"""Review by contact in a real headless Chromium against `qqscan review serve`: one QQ number scanned
into images of three shops is one contact with 3 shops; found by pasting the number as written; confirming
it decides its pending images in one action that "Undo" takes back whole; a later image with that number
arrives at the top of the queue marked "known contact". The shop page lists the contact and its images."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.results import EvidenceBlob, Store
from store.review import ReviewStore
from tests.test_contacts import doc, finding
from tests.test_review_browser import PASSWORD, Server, login, png

QQ = "391287654"


def sha(n: str) -> str:
    return hashlib.sha256(n.encode()).hexdigest()


def frame() -> list[EvidenceBlob]:
    """A kept frame and a crop around finding 0, as jobs.evidence keeps them."""
    return [
        EvidenceBlob("frame", 0, -1, "image/png", png(300, 400), 300, 400),
        EvidenceBlob("crop", 0, 0, "image/png", png(120, 40), 120, 40, scale=2.0),
    ]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with ReviewStore(url) as review:
        review.accounts.add("alice", PASSWORD)
    store = Store(url)
    shops = {"s1": QQ, "s2": "391 287 654", "s3": "391-287-654"}  # one number, three spellings
    for shop, spelled in shops.items():
        store.save_scan(
            doc(sha(shop), finding("qq", spelled)), frame(), shop_id=shop, url=f"https://e.com/{shop}"
        )
    store.save_scan(doc(sha("other"), finding("wechat", "Someone_Else")), frame(), shop_id="s1")
    server = Server({**os.environ, "QQSCAN_DATABASE_URL": url})
    server.start()
    try:
        yield {"base": server.base, "store": store, "server": server}
    finally:
        server.stop()
        store.close()


def statuses(store: Store, *names: str) -> list[str]:
    return [store.result(sha(n))["review_status"] for n in names]


def test_a_contact_across_three_shops_decided_undone_and_known_in_the_queue(site, chromium_page):
    page, base, store = chromium_page, site["base"], site["store"]
    login(page, base)
    page.click("#nav-contacts")
    first = page.locator("#contacts tbody tr").first
    assert first.locator(".contact-link").inner_text() == QQ
    assert first.locator("[data-shops]").inner_text() == "3"
    assert first.locator("[data-pending]").inner_text() == "3"

    page.fill("#contact-q", "QQ: 391 287-654")  # pasted as a listing writes it
    page.click("#contact-search-go")
    page.wait_for_selector("#contact-value")
    assert page.locator("#contact-value").inner_text() == QQ
    assert page.locator("#contact-shops li").all_inner_texts()[0].startswith("s1")
    assert page.locator("#contact-shops li").count() == 3
    thumbs = page.locator("#thumbs .contact-thumb")
    assert thumbs.count() == 3
    pictures = page.locator("#thumbs img.thumb-closeup, #thumbs img.thumb-large")
    assert pictures.count() == 6  # each image's close-up of the number and its page
    assert all(pictures.nth(i).evaluate("i => i.complete && i.naturalWidth > 0") for i in range(6))
    contact_url = page.url

    page.fill("#contact-note", "same seller QQ in three shops")
    page.click("#contact-violation")
    page.wait_for_selector("#contact-known")
    assert "3 pending images" in page.locator("#flash").inner_text()
    assert statuses(store, "s1", "s2", "s3", "other") == ["violation", "violation", "violation", "pending"]

    page.click("#undo")
    page.wait_for_selector("#contact-status")
    assert "back to new and 3 images" in page.locator("#flash").inner_text()
    assert statuses(store, "s1", "s2", "s3") == ["pending"] * 3
    page.click("#contact-violation")
    page.wait_for_selector("#contact-known")

    # a later image with the number, then an unrelated newer one: the later one comes first, badged
    store.save_scan(
        doc(sha("later"), finding("qq", "391 287 654")), frame(), shop_id="s4", url="https://e.com/l"
    )
    store.save_scan(
        doc(sha("newest"), finding("qq", "11112222")), frame(), shop_id="s5", url="https://e.com/n"
    )
    page.click("#nav-queue")
    rows = page.locator("#queue tbody tr")
    assert rows.first.get_attribute("data-sha") == sha("later")
    assert rows.first.locator(".known-contact").inner_text() == "known contact"
    assert rows.nth(1).get_attribute("data-known") is None
    shot = os.environ.get("QQSCAN_SCREENSHOTS")
    if shot:
        Path(shot).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shot) / "queue-known-contact.png"))

    page.goto(contact_url)
    assert page.locator("[data-shops]").first.inner_text() == "4"
    page.click("#contact-shops li[data-shop='s2'] a")
    page.wait_for_selector("#shop-id")
    assert page.locator("#shop-contacts tbody tr").count() == 1
    assert page.locator("#shop-images tbody tr").first.get_attribute("data-sha") == sha("s2")
    assert page.locator("#shop-decisions tbody tr").count() == 3  # decide, undo, decide again
    if shot:
        page.goto(contact_url)
        page.screenshot(path=str(Path(shot) / "contact.png"), full_page=True)
    assert not getattr(page, "errors", [])
