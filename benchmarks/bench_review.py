"""How the review app holds up on a big queue: page times through the real app (Flask test client, no
network) on a store seeded with N flagged images, SQLite or PostgreSQL.

    .venv/bin/python -m benchmarks.bench_review --images 20000
    .venv/bin/python -m benchmarks.bench_review --images 20000 --db postgresql+psycopg://postgres@127.0.0.1/test

Seeds through Store.save_scan (one small evidence picture per image, shared bytes), logs in, then times
the queue (first page, a late page, filtered, by confidence), an image page, and a decision round trip
(POST + the next image's page). Prints the median of several runs per page. With a PostgreSQL URL a fresh
schema is made and dropped.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from PIL import Image
from sqlalchemy import create_engine, text

from review.app import create_app
from store.results import EvidenceBlob, Store
from store.review import ReviewStore

PASSWORD = "benchmark password"


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (400, 400), (230, 230, 230)).save(buf, "PNG")
    return buf.getvalue()


def seed(store: ReviewStore, n: int) -> float:
    frame = _png()
    results = Store(store.db)  # the worker's write path, over the review store's database
    t0 = time.perf_counter()
    for i in range(n):
        sha = hashlib.sha256(f"bench-{i}".encode()).hexdigest()
        qq = f"{391000000 + i}"
        finding = {"type": "qq" if i % 3 else "phone", "value": qq, "text": f"QQ{qq}", "frame": 0,
                   "rule": "qq.keyword" if i % 3 else "phone.plain", "confidence": (i % 100) / 100,
                   "box": [[10, 10], [200, 10], [200, 40], [10, 40]]}  # fmt: skip
        results.save_scan(
            {
                "sha256": sha,
                "source": f"https://img.example.com/{i}.jpg",
                "shop_id": f"shop-{i % 50}",
                "rules_version": "bench",
                "findings": [finding],
                "flagged": True,
                "width": 400,
                "height": 400,
                "lines": [{"text": f"QQ{qq}", "score": 0.9, "box": finding["box"], "frame": 0}],
            },  # fmt: skip
            [EvidenceBlob("frame", 0, -1, "image/png", frame, 400, 400)],
        )
    return time.perf_counter() - t0


def timed(fn, runs: int = 7) -> float:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--db", default=None, help="PostgreSQL URL (default: a temporary SQLite file)")
    args = ap.parse_args()
    schema = None
    if args.db:
        admin = create_engine(args.db, isolation_level="AUTOCOMMIT")
        schema = f"qqscan_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{args.db}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    store = ReviewStore(url)
    try:
        secs = seed(store, args.images)
        print(f"seeded {args.images} flagged images in {secs:.1f} s ({store.db.safe_url})")
        store.accounts.add("bench", PASSWORD, "moderator")
        app = create_app(store)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf_token" value="([^"]+)"', page
        )
        assert token, "no CSRF token on the login page"
        resp = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token[1]})
        assert resp.status_code in (302, 303), resp.status_code
        last = store.queue.page(page=10**6, per_page=50).pages
        pages = {
            "queue, first page": "/",
            f"queue, page {last // 2}": f"/?page={last // 2}",
            "queue, type+shop filter": "/?type=phone&shop=shop-7",
            "queue, by confidence": "/?sort=confidence",
        }
        for name, path in pages.items():
            assert client.get(path).status_code == 200
            print(f"{name:28} {timed(lambda p=path: client.get(p)):7.1f} ms")
        first = store.queue.page().items[0]["sha256"]
        print(f"{'image page':28} {timed(lambda: client.get(f'/image/{first}')):7.1f} ms")

        def decide_and_open_next() -> None:
            sha = store.queue.page().items[0]["sha256"]
            html = client.get(f"/image/{sha}").get_data(as_text=True)
            form = re.search(r'id="decision-form"[\s\S]*?name="csrf_token"[^>]*value="([^"]+)"', html)
            seen = re.search(r'name="seen" value="([^"]*)"', html)
            data = {
                "status": "violation",
                "csrf_token": form[1] if form else "",
                "seen": seen[1] if seen else "",
            }
            resp = client.post(f"/image/{sha}/decide", data=data)
            assert resp.status_code == 303, resp.status_code
            client.get(resp.headers["Location"])

        print(f"{'open + decide + next page':28} {timed(decide_and_open_next):7.1f} ms")
    finally:
        store.close()
        if schema:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
