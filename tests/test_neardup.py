"""Near-duplicates end to end on SQLite and PostgreSQL: hashes made from really decoded images
(ocr.decode + ocr.phash, as jobs/pipeline.py makes them), stored by Store.save_scan, found by the band index
(store/neardup.py); groups, re-uploads of rejected images, a decision over a group; one scan through the
real pipeline and OCR engine. The product images and the altered copies are fixtures/product_images.py's."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from fixtures.product_images import copies, encode, product_image
from ocr.decode import DecodeLimits, decode_image
from ocr.phash import neardup_hashes
from store.neardup import DISTANCE, MIN_QUALITY, NearDups
from store.results import Store
from store.review import ReviewStore

RULES = "test-rules"
# Copies every one of these 24 images must be found from (docs/near-duplicates.md, measured on 120 other
# images of 480 px: at most 1 in 120 over 31 bits); crops (1% off every side, or off the left) are found
# for 117 and 119 of those 120, so they are counted, not required of each image.
ALWAYS = ("jpeg_q40", "png", "half", "border2_white", "border2_black", "border5_white", "border5_black")


def doc(data: bytes, name: str) -> dict[str, Any]:
    """A stored scan's document for these bytes (no OCR: no findings), with the pipeline's hashes."""
    frame = decode_image(data, DecodeLimits())[0].pixels
    return {
        "source": f"https://img.example.com/{name}.jpg",
        "sha256": hashlib.sha256(data).hexdigest(),
        "flagged": False,
        "findings": [],
        "rules_version": RULES,
        "width": int(frame.shape[1]),
        "height": int(frame.shape[0]),
        "phash": [{"hash": h.hex, "quality": h.quality} for h in neardup_hashes(frame)],
    }


@cache
def originals(n: int = 24) -> list[tuple[dict[str, Any], dict[str, dict[str, Any]]]]:
    """n product images (all four layouts) and their altered copies, as documents."""
    out = []
    for seed in range(500, 500 + n):
        img = product_image(seed)
        out.append((doc(encode(img), f"o{seed}"), {k: doc(v, f"{k}{seed}") for k, v in copies(img).items()}))
    return out


@cache
def unrelated(n: int = 1000) -> list[dict[str, Any]]:
    return [doc(encode(product_image(seed, 360)), f"u{seed}") for seed in range(10_000, 10_000 + n)]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()


def test_altered_copies_of_a_stored_image_join_its_group(store):
    near = NearDups(store.db)
    found: Counter[str] = Counter()
    for original, altered in originals():
        assert store.save_scan(original)
        for kind, copy in altered.items():
            store.save_scan(copy)
            group = near.group_of(copy["sha256"])
            assert group is not None
            if group["group_sha256"] == original["sha256"]:
                found[kind] += 1
                assert group["nearest_sha256"] == original["sha256"] or group["distance"] <= DISTANCE
            elif kind in ALWAYS:
                pytest.fail(f"{kind} copy of {original['source']} not grouped with it: {group}")
        listed = {m["sha256"] for m in near.near(original["sha256"])}
        assert {altered[k]["sha256"] for k in ALWAYS} <= listed
    n = len(originals())
    assert all(found[k] == n for k in ALWAYS)
    assert found["crop1"] >= 0.9 * n and found["crop1_left"] >= 0.9 * n


def test_a_thousand_unrelated_product_images_make_no_group(store):
    docs = unrelated()
    usable = sum(any(h["quality"] >= MIN_QUALITY for h in d["phash"]) for d in docs)
    assert usable >= 0.95 * len(docs)  # else "no group" would say nothing
    for d in docs:
        store.save_scan(d)
    near = NearDups(store.db)
    with store.db.read() as conn:
        from sqlalchemy import select

        from store.models import ImageGroup

        g = ImageGroup.__table__.c
        rows = conn.execute(select(g.image_sha256, g.group_sha256, g.nearest_sha256))
        linked = [r for r in rows if r.group_sha256 != r.image_sha256 or r.nearest_sha256 is not None]
    assert len(set(d["sha256"] for d in docs)) == len(docs) == store.count("images")
    assert linked == []
    assert near.near(docs[0]["sha256"]) == []


def test_a_reupload_of_a_rejected_image_is_marked_and_the_group_decided_at_once(db_url):
    store, review = Store(db_url), ReviewStore(db_url)
    near = NearDups(store.db)
    (first, altered), (other, _) = originals()[0], originals()[1]
    for d in (first, other):
        store.save_scan(d)
    review.decisions.record(first["sha256"], "violation", reviewer="mod")
    store.save_scan(altered["half"])
    store.save_scan(altered["border5_white"])
    group = near.group_of(altered["half"]["sha256"])
    assert group["reupload_of"] == first["sha256"]
    assert near.group_of(other["sha256"])["reupload_of"] is None
    # the group: the rejected original and its two copies, pending ones decided in one bulk decision
    copies_ = [altered["half"]["sha256"], altered["border5_white"]["sha256"]]
    assert list(group["members"]) == [first["sha256"], *copies_]
    pending = near.pending_in_group(first["sha256"])
    assert sorted(pending) == sorted(copies_)
    assert review.decisions.record_many(pending, "violation", reviewer="mod") == 2
    assert near.pending_in_group(first["sha256"]) == []
    assert near.group_of(other["sha256"])["members"] == {other["sha256"]: "pending"}
    store.close()
    review.close()


def test_a_rescan_keeps_the_hashes_and_the_group(store):
    (original, altered) = originals()[2]
    store.save_scan(original)
    store.save_scan(altered["jpeg_q40"])
    before = NearDups(store.db).group_of(altered["jpeg_q40"]["sha256"])
    assert store.save_scan(altered["jpeg_q40"], replace=True)
    assert not store.save_scan(altered["jpeg_q40"])
    with store.db.read() as conn:
        from sqlalchemy import func, select

        from store.models import ImageHash

        n = conn.execute(select(func.count()).select_from(ImageHash)).scalar_one()
    assert n == len(original["phash"]) + len(altered["jpeg_q40"]["phash"])
    assert NearDups(store.db).group_of(altered["jpeg_q40"]["sha256"]) == before


def test_a_result_without_hashes_is_stored_without_a_group(store):
    (original, _) = originals()[3]
    bare = {k: v for k, v in original.items() if k != "phash"}
    assert store.save_scan(bare)
    assert NearDups(store.db).group_of(bare["sha256"]) is None
    assert NearDups(store.db).near(bare["sha256"]) == []


def test_the_pipeline_hashes_the_first_frame_and_the_store_groups_its_copies(db_url, engine):
    from jobs.pipeline import scan_bytes

    img = product_image(77)
    store = Store(db_url)
    original = scan_bytes(encode(img), "original.jpg", engine=engine)
    assert original.error is None and original.meta["phash"]
    store.save_scan(original.to_json(with_lines=True))
    altered = copies(img)
    for kind in ("half", "border5_black"):
        copy = scan_bytes(altered[kind], f"{kind}.jpg", engine=engine)
        store.save_scan(copy.to_json(with_lines=True))
        group = NearDups(store.db).group_of(copy.sha256)
        assert group["group_sha256"] == original.sha256, kind
    store.close()
