"""The store benchmarks still run against the product's tables (a schema change would break them
silently otherwise) and what they check holds at a small size: planted near copies are all found, and the
contacts benchmark's loaded counters match what the pages count. Timings are printed, never asserted."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_neardup_benchmark_finds_every_planted_copy():
    out = _run("benchmarks.bench_neardup", "--hashes", "3000", "--queries", "40", "--inserts", "3")
    assert "'near_missed': 0" in out
    assert "save_scan_p50_ms" in out


def test_contacts_benchmark_loads_what_the_pages_read(db_url):
    from benchmarks.bench_contacts import load
    from store.review import ReviewStore

    store = ReviewStore(db_url)
    contacts, _ = load(store.db, 400, random.Random(3))
    widest = max(contacts, key=lambda row: row[3])
    page = store.contacts.page(sort="images", per_page=5)
    assert page.total == 400
    assert page.items[0]["images"] == widest[3]
    shown = store.contacts.get(widest[0])
    assert shown is not None and len(shown["image_list"]) == min(200, widest[3])
    assert store.contacts.search(widest[2])[0]["id"] == widest[0]


def test_contacts_benchmark_runs():
    out = _run("benchmarks.bench_contacts", "--contacts", "300", "--queries", "3", "--inserts", "3")
    assert "contact page, widest 20" in out and "save_scan, a new contact" in out
