"""The review web app's pages and decisions through Flask's test client on a real SQLite store, and the
main path over PostgreSQL too: queue (filters, sort, pagination, bulk), image detail (evidence overlay,
crops, OCR lines, sources, history), decisions (persisted, next image, conflicts, undo, allow-list),
history, admin audit and allow-list pages, and review.server.run's choices.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_review_app are redefined as arguments)

from __future__ import annotations

import io
import re
import socket
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from detectors.allowlist import Allowed
from review.app import create_app
from store.models import Scan
from store.results import Store
from store.review import ReviewStore
from tests.test_review_app import (  # noqa: F401  (fixtures)
    PASSWORD,
    alice,
    app,
    bob,
    client,
    finding,
    login,
    seed,
    store,
    template_db,
    text,
    token,
)

ROW_RE = re.compile(r'<tr data-sha="([0-9a-f]{64})"')


def rows(resp: Any) -> list[str]:
    assert resp.status_code == 200, resp.status_code
    return ROW_RE.findall(text(resp))


def location(resp: Any) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(resp.headers["Location"])
    return parts.path, parse_qs(parts.query)


def scanned_on(store: ReviewStore, sha: str, day: str) -> None:
    """Move an image's scan to another day (the queue's date filters look at scan time)."""
    when = datetime.fromisoformat(day).replace(tzinfo=UTC)
    with store.db.engine.begin() as conn:
        conn.execute(update(Scan).where(Scan.image_sha256 == sha).values(created_at=when))


def decide(client: Any, sha: str, status: str, query: str = "", **form: Any) -> Any:
    return client.post(
        f"/image/{sha}/decide{query}", data={"csrf_token": token(client), "status": status, **form}
    )


# --- the queue ---------------------------------------------------------------------------------------------


def test_queue_shows_flagged_images_with_thumbnail_summary_and_counts(alice, store):
    a = seed(store, "a", findings=[finding("qq", "391287654", confidence=0.81)], shop="shop-1")
    b = seed(
        store,
        "b",
        findings=[
            finding("phone", "13812345678", confidence=0.95),
            finding("wechat", "wx_abc", confidence=0.7),
        ],
        shop="shop-2",
    )
    Store(store.db).record_source("https://cdn.example.com/b-copy.jpg", sha256=b, shop_id="shop-3")
    clean = seed(store, "clean", findings=[])
    store.decisions.record(a, "violation", reviewer="bob")

    resp = alice.get("/")
    assert rows(resp) == [b]  # pending by default; the decided one and the unflagged one are not listed
    body = text(resp)
    # the row's picture is the first finding's close-up (the whole frame only when no crop was kept)
    closeup = store.queue.item(b)["findings"][0]["crop"]["blob"]
    assert f'src="/blob/{closeup}" alt="close-up of {b[:12]}"' in body
    assert "13812345678" in body and "wx_abc" in body and "0.95" in body
    assert 'href="https://img.example.com/b.jpg" rel="noopener noreferrer nofollow"' in body
    assert "+1 more" in body and "shop-2, shop-3" in body
    no_crop = seed(store, "no-crop", crop=False)
    frame = store.queue.item(no_crop)["frames"][0]["blob"]
    assert f'src="/blob/{frame}" alt="evidence of {no_crop[:12]}" class="thumb whole"' in text(alice.get("/"))
    # an allow-listed finding's close-up is not the one shown
    allowed = seed(
        store, "allowed", findings=[finding("qq", "1", allowed_by=7), finding("phone", "13800000000")]
    )
    second = store.queue.item(allowed)["findings"][1]["crop"]["blob"]
    assert f'src="/blob/{second}" alt="close-up of {allowed[:12]}"' in text(alice.get("/"))
    assert '<span class="count" data-count="pending">1</span>' in body
    assert '<span class="count" data-count="violation">1</span>' in body
    assert '<span class="count" data-count="all">2</span>' in body
    assert clean not in body
    assert set(rows(alice.get("/?status=all"))) == {a, b, no_crop, allowed}
    assert rows(alice.get("/?status=violation")) == [a]


def test_queue_sorts_newest_or_most_confident_first(alice, store):
    low = seed(store, 1, findings=[finding(confidence=0.55)])
    high = seed(store, 2, findings=[finding(confidence=0.99)])
    mid = seed(store, 3, findings=[finding(confidence=0.75)])
    assert rows(alice.get("/")) == [mid, high, low]
    assert rows(alice.get("/?sort=newest")) == [mid, high, low]
    assert rows(alice.get("/?sort=confidence")) == [high, mid, low]


def test_queue_filters_by_type_rule_shop_dates_and_status(alice, store):
    qq = seed(store, 1, findings=[finding("qq", "391287654", rule="qq.keyword")], shop="s-1")
    phone = seed(store, 2, findings=[finding("phone", "13812345678", rule="phone.mobile")], shop="s-2")
    wx = seed(store, 3, findings=[finding("wechat", "wx_abc", rule="wechat.keyword")], shop="s-1")
    scanned_on(store, qq, "2026-01-05T10:00:00")
    scanned_on(store, phone, "2026-02-10T10:00:00")
    scanned_on(store, wx, "2026-03-15T10:00:00")
    store.decisions.record(wx, "escalated", reviewer="bob")

    assert rows(alice.get("/?type=phone")) == [phone]
    assert rows(alice.get("/?rule=qq.keyword")) == [qq]
    assert rows(alice.get("/?shop=s-1")) == [qq]
    assert rows(alice.get("/?shop=s-1&status=all")) == [wx, qq]
    assert rows(alice.get("/?status=escalated")) == [wx]
    assert rows(alice.get("/?status=all&since=2026-02-01")) == [wx, phone]
    assert rows(alice.get("/?status=all&until=2026-02-10")) == [phone, qq]  # inclusive
    assert rows(alice.get("/?status=all&since=2026-02-01&until=2026-02-28")) == [phone]
    assert rows(alice.get("/?type=qq_group")) == []
    # the rule filter offers the rules in use; invalid values are dropped and said so
    body = text(alice.get("/"))
    for rule in ("qq.keyword", "phone.mobile", "wechat.keyword"):
        assert f'<option value="{rule}"' in body
    bad = alice.get("/?status=bogus&sort=random")  # a stale bookmark: unknown choices are dropped, said so
    assert rows(bad) == [phone, qq]
    assert "Ignored invalid filter values" in text(bad) and "bogus" in text(bad)


@pytest.mark.parametrize(
    "query",
    ["until=9999-12-31", "since=9999-12-31", "since=yesterday", "until=2026-02-30", "since=20260101",
     "until=0001-01-01", "page=abc", "page=-1", "page=0", "page=1e3", "page=%EF%BC%92"],
)  # fmt: skip
def test_unreadable_dates_and_numbers_are_a_400_that_says_why(alice, store, query):
    sha = seed(store, 1)
    key = query.split("=")[0]
    paths = ["/", "/history", "/audit"] if key == "page" else ["/", f"/image/{sha}"]
    for path in paths:
        resp = alice.get(f"{path}?{query}")
        assert resp.status_code == 400, (path, query, resp.status_code)
        body = text(resp)
        assert f"The {key} " in body and ("YYYY-MM-DD" in body or "whole number" in body), body
    form = {"csrf_token": token(alice), "status": "violation"}
    resp = alice.post(f"/image/{sha}/decide?{query}", data=form)
    assert resp.status_code == (400 if key != "page" else 303)  # decisions read only the filters' dates
    assert store.queue.item(sha)["review_status"] == ("pending" if key != "page" else "violation")


def test_queue_pagination_keeps_the_filters(store):
    app = create_app(store, config={"REVIEW_PER_PAGE": 2})
    client = app.test_client()
    login(client, "bob")
    shas = [seed(store, i, shop="s-1") for i in range(5)]
    seed(store, "other-shop", shop="s-9")
    newest_first = shas[::-1]

    first = client.get("/?shop=s-1")
    assert rows(first) == newest_first[:2]
    body = text(first)
    assert "page 1 of 3" in body
    nxt = re.search(r'href="([^"]+)" id="page-next"', body).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(nxt).query) == {"shop": ["s-1"], "page": ["2"]}
    assert rows(client.get(nxt)) == newest_first[2:4]
    assert rows(client.get("/?shop=s-1&page=3")) == newest_first[4:]
    assert rows(client.get("/?shop=s-1&page=99")) == newest_first[4:]  # past the end: the last page
    assert client.get("/?shop=s-1&page=nonsense").status_code == 400
    # links into the detail page carry the filters
    assert f'href="/image/{newest_first[0]}?shop=s-1"' in body


def test_bulk_decision_on_the_selected_rows(alice, store):
    a, b, c = (seed(store, i) for i in range(3))
    resp = alice.post(
        "/bulk?type=qq",
        data={"csrf_token": token(alice), "status": "violation", "note": "same seller", "sha": [a, b]},
    )
    assert resp.status_code == 303
    assert location(resp) == ("/", {"type": ["qq"]})
    assert [store.queue.item(s)["review_status"] for s in (a, b, c)] == ["violation", "violation", "pending"]
    decisions = store.decisions.history(limit=10)
    assert {d["sha256"] for d in decisions} == {a, b}
    assert all(
        d["action"] == "bulk" and d["note"] == "same seller" and d["reviewer"] == "alice" for d in decisions
    )
    assert "Marked 2 images as violation" in text(alice.get("/"))

    tok = token(alice)
    assert (
        alice.post("/bulk", data={"csrf_token": tok, "status": "violation", "sha": ["../x"]}).status_code
        == 400
    )
    assert alice.post("/bulk", data={"csrf_token": tok, "status": "nonsense", "sha": [c]}).status_code == 400
    empty = alice.post("/bulk", data={"csrf_token": tok, "status": "violation"})
    assert empty.status_code == 303 and "No images selected" in text(alice.get("/"))
    unknown = alice.post("/bulk", data={"csrf_token": tok, "status": "violation", "sha": [c, "0" * 64]})
    assert unknown.status_code == 303
    assert store.queue.item(c)["review_status"] == "pending"  # all or nothing
    assert "Nothing was changed" in text(alice.get("/"))


# --- one image ----------------------------------------------------------------------------------------------


def test_detail_draws_every_kept_frame_with_every_box_scaled_onto_it(alice, store):
    sha = seed(
        store,
        1,
        findings=[
            finding("qq", "391287654", box=[[20, 40], [120, 40], [120, 60], [20, 60]], confidence=0.93),
            finding("phone", "13812345678", box=[[100, 100], [180, 100], [180, 120], [100, 120]], frame=1),
            finding("wechat", "wx_abc", allowed_by=7, confidence=0.5),
        ],
        frames=3,
        kept=2,
    )
    resp = alice.get(f"/image/{sha}?status=all&type=qq")
    assert resp.status_code == 200
    body = text(resp)
    item = store.queue.item(sha)
    f0, f1 = item["frames"]
    assert 'viewBox="0 0 100 80"' in body
    assert f'<image href="/blob/{f0["blob"]}"' in body and f'<image href="/blob/{f1["blob"]}"' in body
    # image pixels * scale 0.5 (x0 = y0 = 0) on the frame blob, numbered 1..n
    box0 = '<polygon class="box" points="10.0,20.0 60.0,20.0 60.0,30.0 10.0,30.0" data-finding-box="0"'
    box0 += ' id="box-0">'
    assert box0 in body
    assert 'points="50.0,50.0 90.0,50.0 90.0,60.0 50.0,60.0" data-finding-box="1"' in body
    assert '<polygon class="box allowed"' in body and 'data-finding-box="2"' in body
    assert len(re.findall(r"data-finding-box=", body)) == 3
    # boxes sit on their own frame
    frame1 = body[body.index('data-frame="1"') :]
    assert 'data-finding-box="1"' in frame1 and 'data-finding-box="0"' not in frame1
    assert "This image has 3 frames; 2 were kept" in body
    # crops: (x - 10) * 2, (y - 30) * 2, shown enlarged, before the frames, each linked to its box
    assert body.index('id="crops"') < body.index('class="frame"') and 'href="#box-0"' in body
    assert 'points="20.0,20.0 220.0,20.0 220.0,60.0 20.0,60.0" data-crop-box="0"' in body
    assert 'viewBox="0 0 60 30" width="240" height="120"' in body
    # findings: value, type, rule, confidence, rules version, allowed by
    for piece in ("391287654", "qq.keyword", "0.93", "2026.11.1", "allowed by entry", "wx_abc"):
        assert piece in body, piece
    assert re.search(r'allowed by entry <a href="/allowlist#entry-7">7</a>', body)
    # OCR lines, sources, history, decision form with the filters in its action
    assert 'id="ocr-lines"' in body and "扣扣391287654" in body
    assert 'id="sources"' in body and "L-1" in body and "shop-1" in body
    assert 'id="history"' in body and "No decisions yet." in body
    assert f'action="/image/{sha}/decide?status=all&amp;type=qq" id="decision-form"' in body
    assert "Applies to this image's bytes: all 1 source below" in body
    assert 'href="/?status=all&amp;type=qq" id="back-to-queue"' in body
    # no inline styles or scripts (CSP), and the image's own URL is never fetched by the page
    assert "style=" not in body and "<script>" not in body and "<style" not in body
    assert 'src="https://' not in body and 'href="https://img.example.com/1.jpg" rel=' in body


def test_detail_copes_with_findings_without_box_or_frame_and_images_without_evidence(alice, store):
    qr = {"type": "qrcode", "value": "https://u.wechat.com/abc", "text": "", "box": None, "frame": None,
          "confidence": 1.0, "rule": "qrcode.decode"}  # fmt: skip
    sha = seed(store, 1, findings=[qr, finding()], kept=1)
    body = text(alice.get(f"/image/{sha}"))
    assert 'data-finding-box="1"' in body and 'data-finding-box="0"' not in body
    assert "https://u.wechat.com/abc" in body and "qrcode.decode" in body
    bare = seed(store, 2, kept=0, crop=False)
    body = text(alice.get(f"/image/{bare}"))
    assert 'id="no-frames"' in body and "data-finding-box" not in body
    assert 'class="no-thumb"' in text(alice.get("/"))


def test_detail_previous_and_next_follow_the_filtered_queue(alice, store):
    a = seed(store, "a", shop="s-1")
    seed(store, "b", shop="s-2")
    c = seed(store, "c", shop="s-1")
    body = text(alice.get(f"/image/{c}?shop=s-1"))
    assert f'href="/image/{a}?shop=s-1" id="next"' in body
    assert 'id="prev-none"' in body
    body = text(alice.get(f"/image/{a}?shop=s-1"))
    assert f'href="/image/{c}?shop=s-1" id="prev"' in body and 'id="next-none"' in body


# --- decisions ---------------------------------------------------------------------------------------------


def test_a_decision_persists_and_opens_the_next_image_in_the_same_queue(alice, store):
    old = seed(store, "old", findings=[finding(confidence=0.99)])
    mid = seed(store, "mid", findings=[finding(confidence=0.50)])
    new = seed(store, "new", findings=[finding(confidence=0.70)])

    resp = decide(alice, new, "violation", note="QQ in the banner")
    assert resp.status_code == 303
    assert location(resp) == (f"/image/{mid}", {})
    item = store.queue.item(new)
    assert item["review_status"] == "violation"
    assert [(d["status"], d["reviewer"], d["note"]) for d in item["decisions"]] == [
        ("violation", "alice", "QQ in the banner")
    ]
    page = text(alice.get(location(resp)[0]))
    assert f"Marked {new[:12]} as violation" in page  # the flash message follows the redirect

    # the confidence order, kept through the redirect
    # new (0.70) left the pending queue: after old (0.99) comes mid (0.50)
    resp = decide(alice, old, "false_positive", "?sort=confidence&status=pending")
    assert location(resp) == (f"/image/{mid}", {"sort": ["confidence"], "status": ["pending"]})

    # the last one: back to the queue
    resp = decide(alice, mid, "escalated", "?type=qq")
    assert location(resp) == ("/", {"type": ["qq"]})
    assert "last image in this queue" in text(alice.get("/?type=qq"))

    # the history page and the image's own history show it, newest first
    hist = text(alice.get("/history"))
    ids = re.findall(r'<tr data-decision-id="(\d+)" data-sha="([0-9a-f]{64})" data-status="(\w+)"', hist)
    assert [(s, st) for _, s, st in ids] == [(mid, "escalated"), (old, "false_positive"), (new, "violation")]
    assert "QQ in the banner" in text(alice.get(f"/image/{new}?status=all"))


def test_decision_input_is_validated(alice, store):
    sha = seed(store, 1)
    assert decide(alice, sha, "deleted").status_code == 400
    assert decide(alice, "0" * 64, "violation").status_code == 404
    assert (
        alice.post("/image/xyz/decide", data={"csrf_token": token(alice), "status": "violation"}).status_code
        == 404
    )
    assert Store(store.db).count("decisions") == 0


def test_a_stale_decision_over_someone_elses_is_refused(store):
    sha = seed(store, 1)
    seed(store, 2)
    bob = create_app(store).test_client()
    carol = create_app(store).test_client()
    login(bob, "bob")
    login(carol, "carol")
    seen = re.search(r'name="seen" value="(\d+)"', text(bob.get(f"/image/{sha}"))).group(1)
    assert seen == "0"
    assert decide(carol, sha, "violation", seen="0").status_code == 303
    resp = decide(bob, sha, "false_positive", seen=seen)
    assert resp.status_code == 303 and location(resp)[0] == f"/image/{sha}"
    assert store.queue.item(sha)["review_status"] == "violation"
    assert "carol changed this image to violation meanwhile" in text(bob.get(location(resp)[0]))
    # having seen carol's decision, bob may overrule it
    seen = re.search(r'name="seen" value="(\d+)"', text(bob.get(f"/image/{sha}"))).group(1)
    assert decide(bob, sha, "false_positive", seen=seen).status_code == 303
    assert store.queue.item(sha)["review_status"] == "false_positive"


def test_undo_takes_back_my_last_decision(alice, store):
    a = seed(store, 1)
    b = seed(store, 2)
    decide(alice, b, "violation")
    resp = alice.post("/undo?type=qq", data={"csrf_token": token(alice), "here": a})
    assert resp.status_code == 303
    assert location(resp) == (f"/image/{b}", {"type": ["qq"]})
    assert store.queue.item(b)["review_status"] == "pending"
    assert store.decisions.history(limit=1)[0]["action"] == "undo"
    assert "is back to pending (was violation)" in text(alice.get(f"/image/{b}"))

    resp = alice.post("/undo", data={"csrf_token": token(alice), "here": a})
    assert location(resp) == (f"/image/{a}", {})
    assert "Nothing to undo" in text(alice.get(f"/image/{a}"))


def test_undo_is_refused_when_someone_else_changed_the_image_since(store):
    sha = seed(store, 1)
    bob = create_app(store).test_client()
    login(bob, "bob")
    decide(bob, sha, "violation")
    store.decisions.record(sha, "escalated", reviewer="carol")
    resp = bob.post("/undo", data={"csrf_token": token(bob), "here": sha})
    assert resp.status_code == 303 and location(resp) == (f"/image/{sha}", {})
    assert store.queue.item(sha)["review_status"] == "escalated"
    assert store.decisions.history(limit=1)[0]["reviewer"] == "carol"
    page = text(bob.get(f"/image/{sha}"))
    assert "Cannot undo: image" in page and "by carol" in page
    # `here` is an image hash or nothing: anything else goes back to the queue
    resp = bob.post("/undo?status=all", data={"csrf_token": token(bob), "here": "//evil.example"})
    assert location(resp) == ("/", {"status": ["all"]})


def test_allow_listing_findings_from_a_false_positive_decision(alice, store):
    sha = seed(
        store,
        1,
        findings=[finding("phone", "400-820-8820"), finding("qq", "391287654"), finding("qrcode", None)],
        shop="shop-7",
    )
    Store(store.db).record_source("https://img.example.com/other.jpg", sha256=sha, shop_id="shop-8")
    body = text(alice.get(f"/image/{sha}"))
    assert 'name="allow" value="0"' in body and 'name="allow" value="1"' in body
    assert 'name="allow" value="2"' not in body  # no value to allow
    assert 'name="allow_shop" value="shop-7" checked' in body and 'name="allow_shop" value="shop-8"' in body

    # only with a false positive decision: nothing is written otherwise
    resp = decide(alice, sha, "violation", allow=["0"], allow_shop="shop-7")
    assert location(resp)[0] == f"/image/{sha}"
    assert Store(store.db).allowlist() == [] and store.queue.item(sha)["review_status"] == "pending"
    # scope must be one of the image's shops (or everywhere)
    assert decide(alice, sha, "false_positive", allow=["0"], allow_shop="shop-x").status_code == 400
    assert decide(alice, sha, "false_positive", allow=["2"], allow_shop="").status_code == 400
    assert decide(alice, sha, "false_positive", allow=["9"], allow_shop="").status_code == 400
    assert Store(store.db).allowlist() == [] and Store(store.db).count("decisions") == 0

    resp = decide(alice, sha, "false_positive", allow=["0"], allow_shop="shop-7", note="shop hotline")
    assert resp.status_code == 303
    assert store.queue.item(sha)["review_status"] == "false_positive"
    (entry,) = Store(store.db).allowlist()
    assert entry == Allowed(entry.id, "value", "400-820-8820", "phone", "shop-7")
    assert store.allowlist.entries()[0]["created_by"] == "alice"

    decide(alice, sha, "false_positive", allow=["1"], allow_shop="")
    assert Store(store.db).allowlist()[1] == Allowed(
        Store(store.db).allowlist()[1].id, "value", "391287654", "qq", None
    )
    # de-duplicated: a value an entry already allows in that scope (every shop covers shop-7) gets none
    everywhere = Store(store.db).allowlist()[1].id
    resp = decide(alice, sha, "false_positive", allow=["0", "1"], allow_shop="shop-7")
    assert (
        len(Store(store.db).allowlist()) == 2 and store.queue.item(sha)["review_status"] == "false_positive"
    )
    page = text(alice.get(resp.headers["Location"]))
    assert "Allow-listed 0 values (shop shop-7)" in page
    assert f"already allowed: 400-820-8820 (entry {entry.id}), 391287654 (entry {everywhere})" in page


def test_undoing_a_false_positive_names_its_allow_list_entries_and_offers_to_remove_them(store):
    sha = seed(store, 1, findings=[finding("phone", "400-820-8820"), finding("qq", "391287654")], shop="s-7")
    bob = create_app(store).test_client()
    login(bob, "bob")
    resp = decide(bob, sha, "false_positive", allow=["0", "1"], allow_shop="s-7")
    assert resp.status_code == 303
    made = store.allowlist.entries()
    (decision,) = store.queue.item(sha)["decisions"]
    assert [e["decision_id"] for e in made] == [decision["id"]] * 2  # linked to the decision

    resp = bob.post("/undo", data={"csrf_token": token(bob), "here": sha})
    path, query = location(resp)
    assert path == f"/image/{sha}" and query["undone"] == [str(decision["id"])]
    page = text(bob.get(resp.headers["Location"]))
    # the undo says which entries it left in force...
    for e in made:
        assert f"entry {e['id']} ({e['contact_type']} {e['value']}, shop s-7)" in page
    assert "still in force" in page
    # ...and offers to remove them
    assert 'id="undo-allow-form"' in page and f'name="decision" value="{decision["id"]}"' in page
    assert store.queue.item(sha)["review_status"] == "pending" and len(Store(store.db).allowlist()) == 2
    # the offer is only for the decision's author (or an admin)
    carol = create_app(store).test_client()
    login(carol, "carol")
    assert 'id="undo-allow-form"' not in text(carol.get(f"/image/{sha}?undone={decision['id']}"))
    form = {"csrf_token": token(carol), "here": sha, "decision": str(decision["id"])}
    assert carol.post("/undo/allow", data=form).status_code == 403
    assert len(Store(store.db).allowlist()) == 2

    resp = bob.post("/undo/allow", data={"csrf_token": token(bob), "here": sha, "decision": decision["id"]})
    assert location(resp)[0] == f"/image/{sha}"
    page = text(bob.get(f"/image/{sha}?undone={decision['id']}"))
    assert f"Removed allow-list entries {made[0]['id']}, {made[1]['id']}" in page
    assert 'id="undo-allow-form"' not in page  # nothing left to offer
    assert Store(store.db).allowlist() == []
    assert {e["removed_by"] for e in store.allowlist.entries(include_removed=True)} == {"bob"}
    # an undo of a decision without entries says nothing about the allow-list
    decide(bob, sha, "violation")
    resp = bob.post("/undo", data={"csrf_token": token(bob), "here": sha})
    assert "undone" not in location(resp)[1] and "still in force" not in text(bob.get(f"/image/{sha}"))


def test_a_moderators_allow_listing_for_every_shop_waits_for_an_admin(store):
    a = seed(store, "a", findings=[finding("phone", "400-820-8820"), finding("qq", "391287654")], shop="s-7")
    b = seed(store, "b", findings=[finding("qq", "391287654"), finding("wechat", "wxid_abc")], shop="s-8")
    bob = create_app(store).test_client()
    login(bob, "bob")
    assert "(an admin approves it first)" in text(bob.get(f"/image/{a}"))

    resp = decide(bob, a, "false_positive", allow=["1"], allow_shop="", note="our QQ group")
    assert resp.status_code == 303
    # the decision is saved, the entry is not in force: scans still flag the value
    assert store.queue.item(a)["review_status"] == "false_positive" and Store(store.db).allowlist() == []
    page = text(bob.get(resp.headers["Location"]))
    (request,) = store.allowlist.requests()
    assert f"Asked an admin to allow-list 1 value everywhere (request {request['id']}, in force" in page
    assert (request["created_by"], request["shop_id"], request["status"]) == ("bob", None, "pending")
    assert request["decision_id"] == store.queue.item(a)["decisions"][-1]["id"]
    assert ("bob", "allow_request") in [(e["actor"], e["action"]) for e in store.audit.log()]
    # asked twice, one request; a moderator cannot approve it
    resp = decide(bob, b, "false_positive", allow=["0", "1"], allow_shop="")
    assert f"already requested: 391287654 (request {request['id']})" in text(
        bob.get(resp.headers["Location"])
    )
    (_, wechat) = store.allowlist.requests()
    assert bob.post(f"/allowlist/{request['id']}/approve", data={"csrf_token": token(bob)}).status_code == 403
    # for one shop a moderator's entry is in force at once, as before
    decide(bob, a, "false_positive", allow=["0"], allow_shop="s-7")
    assert [(e.value, e.shop_id) for e in Store(store.db).allowlist()] == [("400-820-8820", "s-7")]

    alice = create_app(store).test_client()
    login(alice, "alice")
    listing = text(alice.get("/allowlist"))
    assert 'id="nav-allow-requests"' in listing and "(2)" in listing
    assert f'data-approve-request="{request["id"]}"' in listing and "our QQ group" in listing
    tok = token(alice, "/allowlist")
    assert alice.post(f"/allowlist/{request['id']}/approve", data={"csrf_token": tok}).status_code == 303
    assert Allowed(request["id"], "value", "391287654", "qq", None) in Store(store.db).allowlist()
    form = {"csrf_token": tok, "note": "a real seller id"}
    assert alice.post(f"/allowlist/{wechat['id']}/reject", data=form).status_code == 303
    assert (
        "wxid_abc" not in {e.value for e in Store(store.db).allowlist()} and store.allowlist.requests() == []
    )
    # decided once: a second approval of the rejected request changes nothing
    alice.post(f"/allowlist/{wechat['id']}/approve", data={"csrf_token": tok})
    listing = text(alice.get("/allowlist"))
    assert f"no allow-list request #{wechat['id']} waiting for approval" in listing
    assert 'id="nav-allow-requests"' not in listing
    assert f'data-entry-id="{wechat["id"]}" data-status="rejected" class="removed"' in listing
    events = [(e["actor"], e["action"], e["target"], e["detail"]) for e in store.audit.log(actor="alice")]
    assert ("alice", "allow_approve", str(request["id"]), None) in events
    assert ("alice", "allow_reject", str(wechat["id"]), {"note": "a real seller id"}) in events


def test_an_allow_list_entry_the_allow_list_refuses_saves_no_decision_either(alice, store):
    qr = "https://u.wechat.com/" + "x" * 600  # longer than an entry may be
    sha = seed(store, 1, findings=[finding("qrcode", qr)])
    resp = decide(alice, sha, "false_positive", allow=["0"], allow_shop="")
    assert location(resp)[0] == f"/image/{sha}"
    assert "Not saved" in text(alice.get(f"/image/{sha}"))
    assert Store(store.db).allowlist() == [] and Store(store.db).count("decisions") == 0  # one transaction


# --- history, admin pages --------------------------------------------------------------------------------


def test_history_filters_by_reviewer_and_pages(store):
    app = create_app(store, config={"REVIEW_PER_PAGE": 2})
    client = app.test_client()
    login(client, "bob")
    shas = [seed(store, i) for i in range(4)]
    for s in shas[:3]:
        store.decisions.record(s, "violation", reviewer="bob")
    store.decisions.record(shas[3], "escalated", reviewer="carol", note="ask legal")

    def hist(query: str) -> list[str]:
        return re.findall(r'data-sha="([0-9a-f]{64})"', text(client.get(f"/history{query}")))

    assert hist("") == [shas[3], shas[2]]
    assert hist("?page=2") == [shas[1], shas[0]]
    assert hist("?page=3") == []
    assert hist("?reviewer=carol") == [shas[3]]
    assert hist("?reviewer=bob&page=2") == [shas[0]]
    page1 = text(client.get("/history?reviewer=bob"))
    assert 'href="/history?page=2&amp;reviewer=bob" id="page-next"' in page1
    assert "ask legal" in text(client.get("/history"))


def test_audit_page_shows_logins_failures_and_decisions(alice, store):
    sha = seed(store, 1)
    decide(alice, sha, "violation", note="clear case")
    other = create_app(store).test_client()
    login(other, "bob", "wrong password")
    body = text(alice.get("/audit"))
    assert 'data-action="login"' in body and 'data-action="login_failed"' in body
    assert 'id="audit-decisions"' in body and "clear case" in body
    only_bob = text(alice.get("/audit?actor=anonymous"))
    assert 'data-action="login_failed"' in only_bob and 'data-action="login"' not in only_bob


def test_admin_adds_and_removes_allow_list_entries(alice, store):
    tok = token(alice, "/allowlist")
    resp = alice.post(
        "/allowlist",
        data={
            "csrf_token": tok,
            "kind": "phrase",
            "value": "官方客服",
            "contact_type": "",
            "shop_id": "",
            "note": "n",
        },
    )
    assert resp.status_code == 303 and location(resp)[0] == "/allowlist"
    resp = alice.post(
        "/allowlist",
        data={
            "csrf_token": tok,
            "kind": "value",
            "value": "4008208820",
            "contact_type": "phone",
            "shop_id": "s-1",
        },
    )
    phrase, value = Store(store.db).allowlist()
    assert (phrase.kind, phrase.value, phrase.contact_type, phrase.shop_id) == (
        "phrase",
        "官方客服",
        None,
        None,
    )
    assert (value.kind, value.value, value.contact_type, value.shop_id) == (
        "value",
        "4008208820",
        "phone",
        "s-1",
    )
    assert (
        alice.post("/allowlist", data={"csrf_token": tok, "kind": "value", "value": "  "}).status_code == 303
    )
    assert "Not added" in text(alice.get("/allowlist"))
    assert (
        alice.post("/allowlist", data={"csrf_token": tok, "kind": "regex", "value": "x"}).status_code == 400
    )

    assert alice.post(f"/allowlist/{phrase.id}/remove", data={"csrf_token": tok}).status_code == 303
    assert [e.id for e in Store(store.db).allowlist()] == [value.id]
    body = text(alice.get("/allowlist"))
    assert (
        f'<tr id="entry-{phrase.id}" data-entry-id="{phrase.id}" data-status="active" class="removed">'
        in body
    )
    assert f'data-remove-entry="{value.id}"' in body and f'data-remove-entry="{phrase.id}"' not in body
    assert alice.post(f"/allowlist/{phrase.id}/remove", data={"csrf_token": tok}).status_code == 303
    assert "already removed" in text(alice.get("/allowlist"))
    actions = [a["action"] for a in store.audit.log(actor="alice")]
    assert actions.count("allow_add") == 2 and actions.count("allow_remove") == 1


# --- both databases ---------------------------------------------------------------------------------------


def test_review_round_trip_on_sqlite_and_postgresql(db_url):
    store = ReviewStore(db_url)
    try:
        store.accounts.add("bob", PASSWORD)
        client = create_app(store).test_client()
        assert login(client, "bob").status_code == 302
        a, b, c = (seed(store, i, shop=f"s-{i % 2}") for i in range(3))
        assert rows(client.get("/")) == [c, b, a]
        assert rows(client.get("/?shop=s-0")) == [c, a]
        body = text(client.get(f"/image/{c}?shop=s-0"))
        assert 'data-finding-box="0"' in body
        resp = decide(client, c, "violation", "?shop=s-0", note="n1")
        assert location(resp) == (f"/image/{a}", {"shop": ["s-0"]})
        assert store.queue.item(c)["review_status"] == "violation"
        resp = client.post("/undo", data={"csrf_token": token(client)})
        assert location(resp)[0] == f"/image/{c}" and store.queue.item(c)["review_status"] == "pending"
        resp = client.post("/bulk", data={"csrf_token": token(client), "status": "escalated", "sha": [a, b]})
        assert resp.status_code == 303
        assert [store.queue.item(s)["review_status"] for s in (a, b, c)] == [
            "escalated",
            "escalated",
            "pending",
        ]
        blob = store.queue.item(a)["frames"][0]["blob"]
        assert client.get(f"/blob/{blob}").headers["Content-Type"] == "image/png"
        assert len(re.findall(r"data-decision-id", text(client.get("/history")))) == 4
    finally:
        store.close()


# --- the server ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "secure"), [("127.0.0.1", False), ("localhost", False), ("::1", False), ("0.0.0.0", True)]
)
def test_make_server_binds_with_waitress_and_secure_cookies_off_loopback_only(host, secure, store):
    import review.server

    server, opened = review.server.make_server(host=host, port=0, database_url=store.db.url, threads=2)
    try:
        (url,) = review.server.urls(server)
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert port > 0 and url.startswith("http://[::1]:" if host == "::1" else "http://")
        with socket.socket(socket.AF_INET6 if host == "::1" else socket.AF_INET) as probe:
            probe.connect(("::1" if host == "::1" else "127.0.0.1", port))  # bound and listening already
        assert server.qqscan_app.config["SESSION_COOKIE_SECURE"] is secure
        assert server.adj.threads == 2
    finally:
        server.close()
        opened.close()
    server, opened = review.server.make_server(
        host=host, port=0, database_url=store.db.url, cookie_secure=not secure
    )
    assert server.qqscan_app.config["SESSION_COOKIE_SECURE"] is (not secure)
    server.close()
    opened.close()


def test_access_log_lines_name_the_user_and_escape_the_request_line(store):
    from review.accesslog import AccessLog

    log = io.StringIO()
    app = create_app(store)
    app.wsgi_app = AccessLog(app.wsgi_app, log)  # type: ignore[method-assign]
    client = app.test_client()
    # buffered: the test client then closes each response at once, which is when its line is written
    form = client.get("/login", buffered=True)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', text(form)).group(1)
    creds = {"csrf_token": tok, "username": "bob", "password": PASSWORD}
    assert client.post("/login", data=creds, buffered=True).status_code == 302
    sha = seed(store, 1)
    assert client.get(f"/image/{sha}?status=all", buffered=True).status_code == 200
    # a WSGI string holds one character per byte: the override's UTF-8 bytes as the server got them
    hostile = '/?shop="x" 200 1\n10.0.0.1 - admin \x1b[2J' + "\u202e".encode().decode("latin-1")
    client.get("/", environ_overrides={"REQUEST_URI": hostile}, buffered=True)
    lines = log.getvalue().splitlines()
    parsed = [CLF.match(line) for line in lines]
    assert all(parsed), lines
    got = [(m.group(2), m.group(4), m.group(5)) for m in parsed if m]
    assert got[0] == ("-", "GET /login HTTP/1.1", "200")  # the login form, before logging in
    assert got[1] == ("bob", "POST /login HTTP/1.1", "302")
    assert ("bob", f"GET /image/{sha}?status=all HTTP/1.1", "200") in got
    # quotes, newline, ESC and the bidi override from the client become \xhh: one line, nothing forged
    assert got[-1] == (
        "bob",
        "GET /?shop=\\x22x\\x22 200 1\\x0a10.0.0.1 - admin \\x1b[2J\\xe2\\x80\\xae HTTP/1.1",
        "200",
    )
    assert int(parsed[0].group(6)) > 500  # type: ignore[union-attr]


CLF = re.compile(
    r'^(\S+) - (\S+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "([^"]*)" (\d{3}) (\d+|-)$'
)
