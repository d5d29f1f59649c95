"""Contacts at scale: the contact pages' reads and the insert cost with 100,000 contacts in the store.

    .venv/bin/python -m benchmarks.bench_contacts --contacts 100000
    .venv/bin/python -m benchmarks.bench_contacts --contacts 100000 --db postgresql+psycopg://postgres@127.0.0.1/test

Loads --contacts contacts through the product's own tables (images, sources with shop and listing,
contacts with their images/shops counters, contact_images, contact_shops; batches with the indexes in
place), spread as sellers spread them: most contacts on one image in one shop, a long tail on tens of
images, a few hundred on 100-400 images across up to 60 shops; about 3 images a contact, 5,000 shops,
70% of images pending, contacts 90% new / 5% seller / 3% allowed / 2% escalated. Then times, --queries
times each with random arguments, the calls the web pages and `qqscan contacts` make (store.contacts
Contacts): the contacts page sorted by shops / images / newest, filtered by status, by shop, and a deep
page; a contact's page (random contacts and the widest ones); search by a whole value and by part of one;
a shop's page. Then the cost of storing one result that carries a contact (Store.save_scan: a new contact,
and one more image of the widest contact), and the contacts tables' size. Prints p50/p99 in ms.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.benchdb import analyze, bench_database, pct, relation_sizes
from store.contacts import canonical, contact_key
from store.database import Database
from store.models import Contact, ContactImage, ContactShop, Image, Source, utcnow
from store.results import Store
from store.review import ReviewStore

BATCH = 5_000
SHOPS = 5_000
Contacts = list[tuple[int, str, str, int]]  # id, type, value, images
STATUSES = ("new",) * 90 + ("seller",) * 5 + ("allowed",) * 3 + ("escalated",) * 2


def _spread(rng: random.Random) -> tuple[int, int]:
    """(images, shops) of one contact: 80% one image, 15% 2-5, 4.9% 6-40, 0.1% 100-400 over <= 60 shops."""
    u = rng.random()
    if u < 0.80:
        return 1, 1
    if u < 0.95:
        n = rng.randint(2, 5)
    elif u < 0.999:
        n = rng.randint(6, 40)
    else:
        n = rng.randint(100, 400)
    return n, rng.randint(1, min(n, 60))


def _value(rng: random.Random, i: int) -> tuple[str, str]:
    kind = rng.choices(("qq", "wechat", "phone"), weights=(70, 20, 10))[0]
    if kind == "qq":
        return kind, str(10_000_000 + i * 37 + rng.randrange(37))
    if kind == "phone":
        return kind, f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
    return kind, f"wx_{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}"


def load(db: Database, n: int, rng: random.Random) -> tuple[Contacts, float]:
    """n contacts with their images, sources and shops; returns (id, type, value, images) per contact."""
    contacts: Contacts = []
    image_no = 0
    now = utcnow()
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        images, sources, rows, links, shops = [], [], [], [], []
        for cid in range(start + 1, min(n, start + BATCH) + 1):
            kind, value = _value(rng, cid)
            value = canonical(kind, value) or value
            n_images, n_shops = _spread(rng)
            shop_ids = [f"S{rng.randrange(SHOPS)}" for _ in range(n_shops)]
            shop_ids = list(dict.fromkeys(shop_ids))
            for k in range(n_images):
                image_no += 1
                sha = hashlib.sha256(f"contacts-bench-{image_no}".encode()).hexdigest()
                status = "pending" if rng.random() < 0.7 else rng.choice(("violation", "false_positive"))
                images.append({"sha256": sha, "review_status": status, "width": 750, "height": 1500})
                url = f"https://img.example.com/{sha[:16]}.jpg"
                shop = shop_ids[k % len(shop_ids)]
                url_key = hashlib.sha256(url.encode()).hexdigest()
                sources.append({"url_sha256": url_key, "url": url, "image_sha256": sha,
                                "shop_id": shop, "listing_id": f"L{image_no // 3}"})  # fmt: skip
                links.append({"contact_id": cid, "image_sha256": sha, "live": True, "first_seen": now})
            rows.append({"id": cid, "key": contact_key(kind, value), "type": kind, "value": value,
                         "status": rng.choice(STATUSES), "first_seen": now, "last_seen": now,
                         "images": n_images, "shops": len(shop_ids)})  # fmt: skip
            shops += [{"contact_id": cid, "shop_id": s, "first_seen": now} for s in shop_ids]
            contacts.append((cid, kind, value, n_images))
        with db.write() as conn:
            conn.execute(Image.__table__.insert(), images)
            conn.execute(Source.__table__.insert(), sources)
            conn.execute(Contact.__table__.insert(), rows)
            conn.execute(ContactImage.__table__.insert(), links)
            conn.execute(ContactShop.__table__.insert(), shops)
    if db.dialect == "postgresql":  # ids were given: move the sequence past them
        from sqlalchemy import text

        with db.write() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('contacts', 'id'), :n)"), {"n": n})
    return contacts, time.perf_counter() - t0


def timed(label: str, count: int, call: Callable[[int], Any]) -> dict[str, Any]:
    times = []
    for k in range(count):
        t = time.perf_counter()
        call(k)
        times.append((time.perf_counter() - t) * 1000)
    return {"call": label, "p50_ms": round(pct(times, 50), 2), "p99_ms": round(pct(times, 99), 2)}


def reads(store: ReviewStore, contacts: Contacts, count: int, rng: random.Random) -> None:
    c = store.contacts
    widest = sorted(contacts, key=lambda row: -row[3])[:20]
    pages = max(1, -(-len(contacts) // 50))
    deep = max(1, pages // 2)  # the middle page
    rows = [
        timed("page sort=shops", count, lambda k: c.page(sort="shops")),
        timed("page sort=images", count, lambda k: c.page(sort="images")),
        timed("page sort=newest", count, lambda k: c.page(sort="newest")),
        timed("page status=seller", count, lambda k: c.page(status="seller")),
        timed("page shop=S<random>", count, lambda k: c.page(shop=f"S{rng.randrange(SHOPS)}")),
        timed(f"page {deep} of {pages} (deep offset)", count, lambda k: c.page(page=deep)),
        timed("contact page, random", count, lambda k: c.get(rng.choice(contacts)[0])),
        timed("contact page, widest 20", count, lambda k: c.get(widest[k % len(widest)][0])),
        timed("search whole value", count, lambda k: c.search(rng.choice(contacts)[2])),
        timed("search part of a value", count, lambda k: c.search(rng.choice(contacts)[2][2:8])),
        timed("shop page", count, lambda k: c.shop(f"S{rng.randrange(SHOPS)}")),
    ]
    for row in rows:
        print(f"  {row['call']:34s} p50 {row['p50_ms']:8.2f} ms   p99 {row['p99_ms']:8.2f} ms")


def inserts(db: Database, contacts: Contacts, count: int) -> None:
    store = Store(db)
    widest = max(contacts, key=lambda row: row[3])

    def save(k: int, kind: str, value: str) -> None:
        sha = hashlib.sha256(f"contacts-bench-new-{uuid.uuid4()}".encode()).hexdigest()
        finding = {"type": kind, "value": value, "text": value, "rule": f"{kind}.bench", "confidence": 0.9,
                   "box": [[0, 0], [10, 0], [10, 10], [0, 10]], "frame": 0}  # fmt: skip
        url = f"https://img.example.com/new/{sha[:12]}.jpg"
        doc = {"sha256": sha, "source": url, "rules_version": "bench",
               "findings": [finding], "flagged": True, "width": 750, "height": 1500}  # fmt: skip
        store.save_scan(doc, shop_id=f"S{k % SHOPS}")

    for row in (
        timed("save_scan, a new contact", count, lambda k: save(k, "qq", str(900_000_000 + k))),
        timed("save_scan, the widest contact", count, lambda k: save(k, widest[1], widest[2])),
    ):
        print(f"  {row['call']:34s} p50 {row['p50_ms']:8.2f} ms   p99 {row['p99_ms']:8.2f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=100_000)
    p.add_argument("--db", default=None, help="a PostgreSQL URL (a fresh schema is made); default SQLite")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--inserts", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    with bench_database(args.db) as (db, path):
        contacts, load_s = load(db, args.contacts, rng)
        analyze(db)
        images = sum(row[3] for row in contacts)
        print(f"{db.dialect}: {args.contacts:,} contacts on {images:,} images loaded in {load_s:.1f} s")
        print(f"reads ({args.queries} each):")
        reads(ReviewStore(db), contacts, args.queries, rng)
        print(f"insert one result ({args.inserts} each):")
        inserts(db, contacts, args.inserts)
        mb = 1024 * 1024
        size = sum(s for _, s in relation_sizes(db, "%contact%"))
        print(f"contacts tables and indexes: {size / mb:.1f} MB" if size else "size: unknown (no dbstat)")
        if path is not None:
            print(f"sqlite file: {path.stat().st_size / mb:.1f} MB")


if __name__ == "__main__":
    main()
