"""Near-duplicate lookup at scale, and the distance threshold measured on product images.

    .venv/bin/python -m benchmarks.bench_neardup --hashes 1000000
    .venv/bin/python -m benchmarks.bench_neardup --hashes 1000000 --db postgresql+psycopg://postgres@127.0.0.1/test
    .venv/bin/python -m benchmarks.bench_neardup --threshold --images 1000

Scale: loads N synthetic 256-bit hashes through the product's own tables and row builder (store.models
ImageHash with its 16 band indexes, store.neardup.hash_row; one images row each, inserted in batches of
10,000 with the indexes in place), 1% of them planted near copies of others. Then times
store.neardup.find (the SQL band probe plus the exact distance, as the product calls it) for --queries
lookups: half near copies of stored hashes with 31 bits flipped as evenly over the bands as possible (the
case the band probe is tightest for; each must be found: recall is checked), half fresh random hashes.
Prints p50/p99 lookup latency, the candidates a lookup reads, load time, the insert cost of one more result
(Store.save_scan of a document with two hashes: image, source, scan, hashes, group lookup) and of the
hashes part alone (store.neardup.link), and the table's and indexes' size. With a PostgreSQL URL a fresh
schema is made and dropped; SQLite uses a temporary file.

Threshold: hashes --images unrelated product images (fixtures/product_images.py, four layouts) and, for
the first 120, the altered copies a seller makes; prints, per kind of copy, the distance to its original
(max, p95, median, share over 31) and the smallest distance between unrelated images, for the hash the
product stores (ocr.phash.neardup_hashes, any hash of one against any of the other) and for plain PDQ
(ocr.phash.pdq_hash of the whole frame).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import random
import statistics
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.benchdb import analyze, bench_database, pct, relation_sizes
from store.database import Database
from store.models import Image, ImageHash
from store.neardup import DISTANCE, candidates_query, find, hash_row, link
from store.results import Store

BATCH = 10_000


def _hash(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _near(rng: random.Random, hex_hash: str, bits: int) -> str:
    """`hex_hash` with `bits` bits flipped, spread as evenly over the 16 bands as possible."""
    value = int(hex_hash, 16)
    bands = rng.sample(range(16), 16)
    for i in range(bits):
        band = bands[i % 16]
        value ^= 1 << (band * 16 + rng.randrange(16))
    out = f"{value:064x}"
    return out if bin(int(out, 16) ^ int(hex_hash, 16)).count("1") == bits else _near(rng, hex_hash, bits)


def _sha(i: int) -> str:
    return hashlib.sha256(f"neardup-bench-{i}".encode()).hexdigest()


def load(db: Database, n: int, rng: random.Random) -> tuple[list[str], float]:
    """n hashes into images + image_hashes in batches; 1% are near copies (4..31 bits) of earlier ones."""
    hashes: list[str] = []
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        images, rows = [], []
        for i in range(start, min(n, start + BATCH)):
            planted = hashes and i % 100 == 0
            h = _near(rng, rng.choice(hashes), rng.randint(4, DISTANCE)) if planted else _hash(rng)
            hashes.append(h)
            sha = _sha(i)
            images.append({"sha256": sha})
            rows.append(hash_row(sha, 0, h, 100))
        with db.write() as conn:
            conn.execute(Image.__table__.insert(), images)
            conn.execute(ImageHash.__table__.insert(), rows)
    return hashes, time.perf_counter() - t0


def lookups(db: Database, hashes: list[str], count: int, rng: random.Random) -> dict[str, Any]:
    times, cands, missed = [], [], 0
    for k in range(count):
        if k % 2 == 0:
            i = rng.randrange(len(hashes))
            query, want = _near(rng, hashes[i], DISTANCE), _sha(i)
        else:
            query, want = _hash(rng), None
        with db.read() as conn:
            t = time.perf_counter()
            found = find(conn, [query])
            times.append((time.perf_counter() - t) * 1000)
            if k < 50:  # candidates read (a separate count, not timed)
                sub = candidates_query([query]).subquery()
                cands.append(conn.execute(select(func.count()).select_from(sub)).scalar_one())
        if want is not None and want not in found:
            missed += 1
    return {
        "p50_ms": round(pct(times, 50), 2),
        "p99_ms": round(pct(times, 99), 2),
        "max_ms": round(max(times), 2),
        "candidates_median": statistics.median(cands),
        "near_missed": missed,
    }


def inserts(db: Database, hashes: list[str], count: int, rng: random.Random) -> dict[str, Any]:
    store = Store(db)
    save, only_link = [], []
    for k in range(count):
        sha = hashlib.sha256(f"neardup-bench-new-{uuid.uuid4()}".encode()).hexdigest()
        base = rng.choice(hashes) if k % 2 else _hash(rng)
        phash = [{"hash": _near(rng, base, 8), "quality": 100}, {"hash": _hash(rng), "quality": 100}]
        doc = {"sha256": sha, "source": f"https://img.example.com/{sha[:12]}.jpg", "rules_version": "bench",
               "findings": [], "flagged": False, "width": 800, "height": 800, "phash": phash}  # fmt: skip
        t = time.perf_counter()
        store.save_scan(doc)
        save.append((time.perf_counter() - t) * 1000)
        sha2 = hashlib.sha256(sha.encode()).hexdigest()
        with db.write() as conn:
            conn.execute(Image.__table__.insert(), [{"sha256": sha2}])
            t = time.perf_counter()
            link(db, conn, sha2, phash)
            only_link.append((time.perf_counter() - t) * 1000)
    return {
        "save_scan_p50_ms": round(pct(save, 50), 2),
        "save_scan_p99_ms": round(pct(save, 99), 2),
        "link_p50_ms": round(pct(only_link, 50), 2),
        "link_p99_ms": round(pct(only_link, 99), 2),
    }


def sizes(db: Database, path: Path | None) -> dict[str, Any]:
    mb = 1024 * 1024
    rows = relation_sizes(db, "%image_hashes%")
    table = sum(size for name, size in rows if not name.startswith("ix_") and "pk" not in name)
    bands = sum(size for name, size in rows if name.startswith("ix_image_hashes_b"))
    out = {"table_mb": round(table / mb, 1), "band_indexes_mb": round(bands / mb, 1)}
    if path is not None:
        out["sqlite_file_mb"] = round(path.stat().st_size / mb, 1)
    return out


def scale(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with bench_database(args.db) as (db, path):
        hashes, load_s = load(db, args.hashes, rng)
        analyze(db)
        print(f"{db.dialect}: {args.hashes:,} hashes loaded in {load_s:.1f} s "
              f"({load_s / args.hashes * 1e6:.0f} us each, batches of {BATCH:,})")  # fmt: skip
        found = lookups(db, hashes, args.queries, rng)
        print(f"lookup (distance <= {DISTANCE}, {args.queries} queries):", found)
        print("insert one result:", inserts(db, hashes, args.inserts, rng))
        print("size:", sizes(db, path))


def threshold(args: argparse.Namespace) -> None:
    from fixtures.product_images import copies, encode, product_image
    from ocr.decode import DecodeLimits, decode_image
    from ocr.phash import hamming, neardup_hashes, pdq_hash

    def hashes(data: bytes) -> tuple[list[str], str]:
        frame = decode_image(data, DecodeLimits())[0].pixels
        return [h.hex for h in neardup_hashes(frame)], pdq_hash(frame).hex

    def dist(a: list[str], b: list[str]) -> int:
        return min(hamming(x, y) for x in a for y in b)

    stored: list[tuple[list[str], str]] = []
    copy_d: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for seed in range(args.images):
        img = product_image(seed, args.size)
        mine, pdq = hashes(encode(img))
        stored.append((mine, pdq))
        if seed < args.copies:
            for kind, data in copies(img).items():
                c_mine, c_pdq = hashes(data)
                copy_d[kind].append((dist(mine, c_mine), hamming(pdq, c_pdq)))

    def line(values: list[int]) -> str:
        over = sum(v > DISTANCE for v in values)
        p95 = pct([float(v) for v in values], 95)
        median = statistics.median(values)
        over_s = f"over {DISTANCE}: {over}/{len(values)}"
        return f"max {max(values):3d}  p95 {p95:5.1f}  median {median:5.1f}  {over_s}"

    print(f"{args.images} product images of {args.size} px, copies of the first {args.copies}")
    for kind, pairs in copy_d.items():
        print(f"{kind:14s} stored: {line([a for a, _ in pairs])} | plain PDQ: {line([b for _, b in pairs])}")
    pairs = list(itertools.combinations(stored, 2))
    mine_min = min(dist(a[0], b[0]) for a, b in pairs)
    pdq_all = sorted(hamming(a[1], b[1]) for a, b in pairs)
    print(f"unrelated pairs: {len(pairs):,}; smallest distance: stored {mine_min}, plain PDQ {pdq_all[0]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hashes", type=int, default=1_000_000)
    p.add_argument("--db", default=None, help="a PostgreSQL URL (a fresh schema is made); default SQLite")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--inserts", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threshold", action="store_true", help="measure distances on product images instead")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--copies", type=int, default=120)
    p.add_argument("--size", type=int, default=480)
    args = p.parse_args()
    threshold(args) if args.threshold else scale(args)


if __name__ == "__main__":
    main()
