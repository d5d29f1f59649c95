"""Contacts as entities on real SQLite and PostgreSQL: one contact per canonical value across images and
shops, decided as one audited, undoable action, known contacts raised in the queue (and auto-confirmed
when asked), and no lost or doubled row with concurrent writers on PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from store.contacts import AUTO_REVIEWER, AUTO_RULE, canonical
from store.models import AuditEntry, Contact, ContactImage, ContactShop, Decision
from store.queue import QueueFilter
from store.results import Store
from store.review import ReviewStore


def sha(n: int | str) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def finding(kind: str, value: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "value": value,
        "text": f"QQ {value}",
        "box": [[10.0, 20.0], [200.0, 20.0], [200.0, 50.0], [10.0, 50.0]],
        "frame": 0,
        "confidence": 0.9,
        "rule": f"{kind}.keyword",
        **extra,
    }


def doc(image: str, *found: dict[str, Any], rules: str = "2026.12.1") -> dict[str, Any]:
    """A scan document as `scan --json --lines` makes it (tests/test_store.py's shape)."""
    live = [f for f in found if not f.get("allowed_by")]
    return {
        "source": f"https://img.example.com/{image[:8]}.jpg",
        "sha256": image,
        "flagged": bool(live),
        "findings": list(found),
        "ms": 10,
        "error": None,
        "rules_version": rules,
        "width": 750,
        "height": 1000,
        "format": "JPEG",
        "frames": 1,
        "bytes": 1000,
        "lines": [],
    }


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[Store, ReviewStore]]:
    store = Store(db_url)
    review = ReviewStore(store.db)
    review.accounts.add("mod", "a-long-password-1")
    review.accounts.add("boss", "a-long-password-2", role="admin")
    yield store, review
    store.close()


def save_in_shops(store: Store, shops: list[str], value: str = "391287654", start: int = 0) -> list[str]:
    shas = []
    for i, shop in enumerate(shops, start):
        spelled = [value, " ".join(value), f"{value[:3]}-{value[3:]}"][i % 3]  # one number, three spellings
        image = sha(f"{value}-{i}")
        assert store.save_scan(doc(image, finding("qq", spelled)), shop_id=shop, url=f"https://e.com/{i}.jpg")
        shas.append(image)
    return shas


def test_canonical_values():
    assert canonical("qq", " 391 287-654 ") == "391287654"
    assert canonical("phone", "+86 138 1234 5678") == "13812345678"
    assert canonical("phone", "0086-13812345678") == "13812345678"
    assert canonical("phone", "400-820-8820") == "4008208820"
    assert canonical("wechat", " Shop_AB12 ") == "shop_ab12"
    assert canonical("solicitation", None) is None


def test_one_value_in_three_shops_is_one_contact_with_three_shops(stores):
    store, review = stores
    shas = save_in_shops(store, ["s1", "s2", "s3"])
    # the same bytes at another URL in a fourth shop (no new scan): the shop is added, nothing counted twice
    store.record_source("https://e.com/again.jpg", sha256=shas[0], shop_id="s4")
    assert store.save_scan(doc(shas[1], finding("qq", "391287654")), shop_id="s1") is False
    page = review.contacts.page()
    assert page.total == 1
    (c,) = page.items
    assert (c["type"], c["value"], c["images"], c["shops"], c["pending"]) == ("qq", "391287654", 3, 4, 3)
    assert c["sources"] == 5  # three URLs, the one in s4 and the document's own source of the second
    full = review.contacts.get(c["id"])
    assert sorted(i["sha256"] for i in full["image_list"]) == sorted(shas)
    assert [s["shop_id"] for s in full["shop_list"]] == ["s1", "s2", "s3", "s4"]
    # search: canonical, raw with spaces, a part of it
    for text in ("391287654", "391 287 654", "QQ: 391-287-654", "2876", "扣扣 ③⑨①２８７六五四"):
        assert [x["id"] for x in review.contacts.search(text)] == [c["id"]], text
    assert review.contacts.search("999999") == []
    assert review.contacts.resolve("qq:391 287 654") == c["id"]
    shop = review.contacts.shop("s2")
    assert [x["id"] for x in shop["contacts"]] == [c["id"]]


def test_an_allow_listed_finding_makes_a_contact_that_is_not_pending(stores):
    store, review = stores
    store.save_scan(doc(sha(1), finding("phone", "4008208820", allowed_by=3), finding("qq", "12345678")))
    by_value = {c["value"]: c for c in review.contacts.page().items}
    assert by_value["4008208820"]["images"] == 1 and by_value["4008208820"]["pending"] == 0
    assert by_value["12345678"]["pending"] == 1


def audit_rows(review: ReviewStore, action: str) -> list[Any]:
    with review.db.read() as conn:
        return conn.execute(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_confirming_a_contact_decides_all_its_pending_images_in_one_undoable_audited_action(stores):
    store, review = stores
    shas = save_in_shops(store, ["s1", "s2", "s3"])
    other = sha("other")
    store.save_scan(doc(other, finding("qq", "11112222")))
    review.decisions.record(shas[2], "escalated", reviewer="boss")  # not pending: left as it is
    cid = review.contacts.resolve("391287654")
    done = review.contacts.decide(cid, "violation", reviewer="mod", note="seller's QQ")
    assert sorted(done["images"]) == sorted(shas[:2]) and done["status"] == "seller"
    statuses = {s: store.result(s)["review_status"] for s in [*shas, other]}
    assert statuses == {shas[0]: "violation", shas[1]: "violation", shas[2]: "escalated", other: "pending"}
    (entry,) = audit_rows(review, "contact_decide")
    assert entry.actor == "mod" and entry.target == f"contact:{cid}" and entry.detail["images"] == 2
    assert review.contacts.get(cid)["pending"] == 0

    back = review.decisions.undo_last("mod")
    assert back["contact"] == cid and sorted(back["images"]) == sorted(shas[:2]) and back["skipped"] == []
    assert [store.result(s)["review_status"] for s in shas] == ["pending", "pending", "escalated"]
    assert review.contacts.get(cid)["status"] == "new"
    assert len(audit_rows(review, "contact_undo")) == 1
    assert review.decisions.undo_last("mod") is None  # the whole action was one undo
    with review.db.read() as conn:
        n = conn.execute(select(func.count()).select_from(Decision)).scalar_one()
    assert n == 1 + 2 + 2  # boss's escalation, the contact's two, their two undos


def test_undo_leaves_an_image_someone_else_decided_since(stores):
    store, review = stores
    shas = save_in_shops(store, ["s1", "s2"])
    cid = review.contacts.resolve("391287654")
    review.contacts.decide(cid, "violation", reviewer="mod")
    review.decisions.record(shas[0], "escalated", reviewer="boss")
    back = review.decisions.undo_last("mod")
    assert back["skipped"] == [shas[0]] and back["images"] == [shas[1]]
    assert store.result(shas[0])["review_status"] == "escalated"


def test_a_known_contact_raises_later_images_to_the_top_of_the_queue(stores):
    store, review = stores
    shas = save_in_shops(store, ["s1", "s2", "s3"])
    cid = review.contacts.resolve("391287654")
    review.contacts.decide(cid, "violation", reviewer="mod")
    store.save_scan(doc(sha("later-other"), finding("qq", "55556666")))
    later = sha("later")
    store.save_scan(doc(later, finding("wechat", "Seller1"), finding("qq", "391 287 654")), shop_id="s9")
    store.save_scan(doc(sha("newest-other"), finding("qq", "77778888")))
    items = review.queue.page(QueueFilter()).items
    assert [i["sha256"] for i in items][0] == later and items[0]["known"] is True
    assert [i["known"] for i in items[1:]] == [False, False]
    assert store.result(later)["review_status"] == "pending"  # no auto-confirm unless asked
    assert review.queue.neighbour(later, QueueFilter(), +1) == items[1]["sha256"]
    assert review.queue.neighbour(items[1]["sha256"], QueueFilter(), -1) == later
    assert review.contacts.get(cid)["shops"] == 4 and shas


def test_auto_confirm_decides_later_images_and_the_audit_names_the_rule(stores):
    store, review = stores
    save_in_shops(store, ["s1"])
    cid = review.contacts.resolve("391287654")
    review.contacts.decide(cid, "violation", reviewer="mod", auto_confirm=True)
    later = sha("later")
    store.save_scan(doc(later, finding("qq", "391287654")), shop_id="s2")
    assert store.result(later)["review_status"] == "violation"
    (d,) = review.decisions.history(sha256=later)
    assert d["reviewer"] == AUTO_REVIEWER and d["action"] == "auto"
    (entry,) = audit_rows(review, "auto_confirm")
    assert entry.target == later and entry.detail["rule"] == AUTO_RULE and entry.detail["contact"] == cid
    # undoing the confirmation stops the rule
    review.decisions.undo_last("mod")
    again = sha("again")
    store.save_scan(doc(again, finding("qq", "391287654")))
    assert store.result(again)["review_status"] == "pending"


def test_allowing_a_contact_makes_an_allow_list_entry_admins_in_force_moderators_a_request(stores):
    store, review = stores
    save_in_shops(store, ["s1", "s2"])
    store.save_scan(doc(sha("p"), finding("phone", "+86 138 1234 5678")))
    qq = review.contacts.resolve("391287654")
    phone = review.contacts.resolve("13812345678")
    by_admin = review.contacts.decide(qq, "false_positive", reviewer="boss")
    by_mod = review.contacts.decide(phone, "false_positive", reviewer="mod")
    entries = {e["value"]: e for e in review.allowlist.entries(include_removed=True)}
    assert entries["391287654"]["status"] == "active" and entries["391287654"]["shop_id"] is None
    assert entries["13812345678"]["status"] == "pending"
    assert by_admin["allow_entry"] == entries["391287654"]["id"] and by_mod["status"] == "allowed"
    # in force: the pipeline's allow-list now excuses the value everywhere
    assert [a.value for a in store.allowlist()] == ["391287654"]


def test_concurrent_writers_sharing_contacts_lose_and_double_nothing(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("the concurrency this guards is PostgreSQL's (SQLite runs one writer at a time)")
    n_writers, per_writer = 4, 30
    values = [f"1000{i}0000" for i in range(5)]  # five QQ numbers every writer uses
    setup = ReviewStore(db_url)
    setup.accounts.add("mod", "a-long-password-1")
    setup.close()
    barrier = threading.Barrier(n_writers + 1)
    errors: list[BaseException] = []
    expected: dict[str, set[str]] = {v: set() for v in values}
    shops: dict[str, set[str]] = {v: set() for v in values}
    plan = []
    for w in range(n_writers):
        for i in range(per_writer):
            two = [values[(w + i) % 5], values[(w + 2 * i + 1) % 5]]
            image, shop = sha(f"w{w}-{i}"), f"shop-{(w * 7 + i) % 6}"
            plan.append((w, image, shop, two))
            for v in two:
                expected[v].add(image)
                shops[v].add(shop)

    def write(w: int) -> None:
        store = Store(db_url)
        try:
            barrier.wait()
            for ww, image, shop, two in plan:
                if ww == w:
                    found = [finding("qq", " ".join(v)) for v in two]
                    store.save_scan(doc(image, *found), shop_id=shop, url=f"https://e.com/{image[:16]}")
                    store.save_scan(doc(image, *found), shop_id=shop)  # a retried job: no double count
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            store.close()

    def decide() -> None:  # a moderator confirms values[0] (auto-confirm on) while the workers write
        review = ReviewStore(db_url)
        try:
            barrier.wait()
            while True:
                try:
                    cid = review.contacts.resolve(f"qq:{values[0]}")
                    break
                except KeyError:
                    continue
            review.contacts.decide(cid, "violation", reviewer="mod", auto_confirm=True)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            review.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(n_writers)]
    threads.append(threading.Thread(target=decide))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    review = ReviewStore(db_url)
    with review.db.read() as conn:
        rows = conn.execute(select(Contact.value, Contact.images, Contact.shops)).all()
        assert sorted(r.value for r in rows) == sorted(values)  # no duplicate contact rows
        for value, images, n_shops in rows:
            linked = conn.execute(
                select(ContactImage.image_sha256).join(Contact).where(Contact.value == value)
            ).scalars()
            assert set(linked) == expected[value]
            assert images == len(expected[value]), value  # counters equal the links: no lost update
            in_shops = conn.execute(select(ContactShop.shop_id).join(Contact).where(Contact.value == value))
            assert set(in_shops.scalars()) == shops[value] and n_shops == len(shops[value])
        # every image with values[0]: decided exactly once, by the contact decision or the rule
        decided = conn.execute(
            select(Decision.image_sha256, func.count()).group_by(Decision.image_sha256)
        ).all()
        assert {s for s, _ in decided} == expected[values[0]]
        assert all(n == 1 for _, n in decided)
        auto = conn.execute(select(func.count()).where(Decision.reviewer == AUTO_REVIEWER)).scalar_one()
        audited = conn.execute(select(func.count()).where(AuditEntry.action == "auto_confirm")).scalar_one()
        assert auto == audited
        (contact_audit,) = conn.execute(
            select(AuditEntry.detail).where(AuditEntry.action == "contact_decide")
        ).scalars()
        assert contact_audit["images"] + auto == len(expected[values[0]])
    review.close()
    results = Store(db_url)
    assert results.count("scans") == n_writers * per_writer
    results.close()


def test_a_rescan_that_allow_lists_the_value_unlinks_it_from_pending(stores):
    store, review = stores
    image = sha("rescanned")
    store.save_scan(doc(image, finding("qq", "391287654"), finding("wechat", "Shop1")))
    cid = review.contacts.resolve("qq:391287654")
    assert review.contacts.get(cid)["pending"] == 1
    # the allow-list changed and the image was scanned again in place (scan --store --rescan)
    store.save_scan(doc(image, finding("qq", "391287654", allowed_by=1)), replace=True)
    qq, wechat = review.contacts.get(cid), review.contacts.get(review.contacts.resolve("wechat:shop1"))
    assert (qq["images"], qq["pending"], qq["image_list"][0]["live"]) == (1, 0, False)
    assert (wechat["images"], wechat["pending"]) == (1, 0)  # no longer in the newest result
    review.contacts.decide(cid, "violation", reviewer="mod")
    assert store.result(image)["review_status"] == "pending"  # only images where it counts are decided
    assert review.queue.page(QueueFilter()).items == []  # not flagged any more


def test_escalating_a_contact_escalates_its_images_but_does_not_make_it_known(stores):
    store, review = stores
    shas = save_in_shops(store, ["s1", "s2"])
    cid = review.contacts.resolve("391287654")
    assert review.contacts.decide(cid, "escalated", reviewer="mod")["status"] == "escalated"
    assert [store.result(s)["review_status"] for s in shas] == ["escalated", "escalated"]
    store.save_scan(doc(sha("later"), finding("qq", "391287654")))
    (item,) = review.queue.page(QueueFilter()).items
    assert item["known"] is False
