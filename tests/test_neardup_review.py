"""Near-duplicates in the review app (review/neardup_views.py), through Flask's test client on a real
SQLite store: the image page lists an image's near-duplicates, marks a re-upload of a rejected image, and
decides the image with its pending near-duplicates in one bulk decision. The images are decoded product
images and a seller's copies of them (tests/test_neardup.py)."""

# ruff: noqa: F811  (pytest fixtures imported from test_review_app are redefined as arguments)

from __future__ import annotations

from store.results import Store
from store.review import ReviewStore
from tests.test_neardup import originals
from tests.test_review_app import (  # noqa: F401  (fixtures)
    PASSWORD,
    alice,
    app,
    client,
    store,
    template_db,
    text,
    token,
)


def test_the_image_page_lists_near_duplicates_marks_a_reupload_and_decides_them_together(alice, store):
    (original, altered), (other, _) = originals()[0], originals()[1]
    results = Store(store.db)
    for d in (original, other, altered["half"]):
        results.save_scan(d)

    page = text(alice.get(f"/image/{altered['half']['sha256']}"))
    assert f'data-neardup="{original["sha256"]}"' in page and other["sha256"] not in page
    assert 'id="reupload-marker"' not in page  # nothing rejected yet
    assert 'id="neardups"' not in text(alice.get(f"/image/{other['sha256']}"))

    store.decisions.record(original["sha256"], "violation", reviewer="alice")
    results.save_scan(altered["border5_white"])  # stored after the rejection: a re-upload
    copy = altered["border5_white"]["sha256"]
    page = text(alice.get(f"/image/{copy}"))
    assert 'id="reupload-marker"' in page and f'href="/image/{original["sha256"]}"' in page
    assert f'data-neardup="{altered["half"]["sha256"]}"' in page
    assert "all 2 pending" in page  # this image and the half-size copy; the original is decided
    # the half-size copy, stored before the rejection, is marked too: its near-duplicate is rejected now
    assert 'id="reupload-marker"' in text(alice.get(f"/image/{altered['half']['sha256']}"))

    resp = alice.post(
        f"/image/{copy}/neardups", data={"csrf_token": token(alice, f"/image/{copy}"), "status": "violation"}
    )
    assert resp.status_code == 303 and resp.headers["Location"] == f"/image/{copy}"
    status = {r["sha256"]: r["review_status"] for r in results.results()}
    assert status[copy] == status[altered["half"]["sha256"]] == "violation"
    assert status[other["sha256"]] == "pending"
    bulk = [d for d in store.decisions.history(limit=10) if d["action"] == "bulk"]
    assert sorted(d["sha256"] for d in bulk) == sorted([copy, altered["half"]["sha256"]])
    assert 'id="neardup-form"' not in text(alice.get(f"/image/{copy}"))  # nothing pending left


def test_a_group_decision_needs_a_decided_status(alice, store):
    (original, _) = originals()[2]
    Store(store.db).save_scan(original)
    sha = original["sha256"]
    csrf = token(alice, f"/image/{sha}")
    bad = alice.post(f"/image/{sha}/neardups", data={"csrf_token": csrf, "status": "pending"})
    assert bad.status_code == 400
    missing = "0" * 64
    resp = alice.post(f"/image/{missing}/neardups", data={"csrf_token": csrf, "status": "violation"})
    assert resp.status_code == 404


def test_review_decide_with_neardups_decides_the_pending_copies_too(tmp_path):
    from tests.test_review_cli import PW, ok, run

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with ReviewStore(url) as s:
        s.accounts.add("alice", PW, "admin")
    (original, altered), (other, _) = originals()[0], originals()[1]
    with Store(url) as results:
        for d in (original, other, altered["half"], altered["jpeg_q40"]):
            results.save_scan(d)
    with ReviewStore(url) as s:
        s.decisions.record(altered["jpeg_q40"]["sha256"], "false_positive", reviewer="alice")
    out = ok(run(url, "review", "decide", original["sha256"][:12], "--status", "violation", "--with-neardups",
                 "--as", "alice"))  # fmt: skip
    assert out.output.count("-> violation") == 2
    with Store(url) as results:
        status = {r["sha256"]: r["review_status"] for r in results.results()}
    assert status[original["sha256"]] == status[altered["half"]["sha256"]] == "violation"
    assert status[altered["jpeg_q40"]["sha256"]] == "false_positive"  # decided before: kept
    assert status[other["sha256"]] == "pending"
