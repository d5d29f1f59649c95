"""The contact and shop pages through Flask's test client on real SQLite and PostgreSQL: CSRF and login as
everywhere, a decision refused when someone else decided the contact since the page was drawn, a
moderator's "allowed" makes a request an admin approves, the auto-confirm setting reaches the decision,
and a search that names several contacts lists them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from ground.settings import Settings
from review.app import create_app
from store.results import Store
from store.review import ReviewStore
from tests.test_contacts import doc, finding, sha

PW = "correct-horse-battery"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def review(db_url: str) -> Iterator[ReviewStore]:
    r = ReviewStore(db_url)
    r.accounts.add("mod", PW)
    r.accounts.add("boss", PW, role="admin")
    s = Store(r.db)
    for i, shop in enumerate(["s1", "s2", "s3"]):
        s.save_scan(doc(sha(i), finding("qq", "391287654")), shop_id=shop, url=f"https://e.com/{i}")
    s.save_scan(doc(sha("p"), finding("phone", "+86 139 1287 6543")), shop_id="s1")
    yield r
    r.close()


def client_for(review: ReviewStore, name: str, **settings: str) -> Any:
    app = create_app(review, settings=Settings.load(settings))
    c = app.test_client()
    token = TOKEN_RE.search(c.get("/login").get_data(as_text=True)).group(1)
    assert c.post("/login", data={"csrf_token": token, "username": name, "password": PW}).status_code == 302
    return c


def form_token(c: Any, path: str) -> str:
    return TOKEN_RE.search(c.get(path).get_data(as_text=True)).group(1)


def test_contact_pages_need_a_login(review):
    c = create_app(review).test_client()
    for path in ("/contacts", "/contact/1", "/shop/s1"):
        assert "/login" in c.get(path).headers["Location"]


def test_deciding_needs_the_csrf_token_and_is_refused_after_someone_else_decided(review):
    cid = review.contacts.resolve("qq:391287654")
    mod = client_for(review, "mod")
    assert mod.post(f"/contact/{cid}/decide", data={"status": "violation"}).status_code == 400  # no token
    token = form_token(mod, f"/contact/{cid}")
    review.contacts.decide(cid, "escalated", reviewer="boss")  # meanwhile
    resp = mod.post(f"/contact/{cid}/decide", data={"csrf_token": token, "status": "violation", "seen": "0"})
    assert resp.status_code == 303
    assert "boss decided this contact meanwhile" in mod.get(resp.headers["Location"]).get_data(as_text=True)
    assert review.contacts.get(cid)["status"] == "escalated"


def test_a_moderators_allowed_contact_is_a_request_and_auto_confirm_comes_from_the_setting(review):
    qq = review.contacts.resolve("qq:391287654")
    phone = review.contacts.resolve("phone:13912876543")
    mod = client_for(review, "mod", QQSCAN_KNOWN_CONTACT_AUTO_CONFIRM="1")
    token = form_token(mod, f"/contact/{phone}")
    resp = mod.post(f"/contact/{phone}/decide", data={"csrf_token": token, "status": "false_positive"})
    page = mod.get(resp.headers["Location"]).get_data(as_text=True)
    assert "a request until an admin approves it" in page
    (req,) = review.allowlist.requests()
    assert (req["value"], req["contact_type"], req["shop_id"]) == ("13912876543", "phone", None)
    resp = mod.post(f"/contact/{qq}/decide", data={"csrf_token": token, "status": "violation"})
    assert "confirmed as they are stored" in mod.get(resp.headers["Location"]).get_data(as_text=True)
    assert review.contacts.get(qq)["auto_confirm"] is True


def test_search_lists_several_matches_and_the_shop_page_shows_its_contacts(review):
    mod = client_for(review, "mod")
    page = mod.get("/contacts?q=39128").get_data(as_text=True)  # part of both numbers
    assert page.count('class="contact-row"') == 2
    one = mod.get("/contacts?q=391-287-654")
    assert one.status_code == 303 and "/contact/" in one.headers["Location"]
    shop = mod.get("/shop/s1").get_data(as_text=True)
    assert "391287654" in shop and "13912876543" in shop
    assert mod.get("/contact/99999").status_code == 404
