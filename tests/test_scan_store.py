"""`qqscan scan --store`: the one-box flow without Redis. The real console script and engine on generated
fixtures, a real SQLite store; evidence kept for review checked by decoding it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from detectors.base import Finding
from jobs.evidence import FRAME_MAX_PIXELS, keep_evidence
from ocr.types import Frame
from qqscan.cli import cli
from store.results import Store
from store.review import ReviewStore

REPO = Path(__file__).resolve().parent.parent
QQSCAN = str(REPO / ".venv" / "bin" / "qqscan")
FILES = [
    "test/main_01.jpg",
    "test/anim.gif",
    "test/main_exif6.jpg",
    "test/clean_01.jpg",
    "bad/empty.jpg",
    "missing.jpg",
]


def decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.fixture(scope="module")
def stored(fixture_dir, tmp_path_factory):
    """One real `qqscan scan --store --json` run over good, animated, rotated, clean and broken files."""
    url = f"sqlite:///{tmp_path_factory.mktemp('one-box') / 'store.sqlite3'}"
    files = [str(fixture_dir / f) for f in FILES]
    proc = subprocess.run(
        [QQSCAN, "scan", "--store", "--json", "--shop", "shop-7", *files],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "QQSCAN_DATABASE_URL": url},
    )
    rows = {Path(r["source"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    store = ReviewStore(url)
    yield proc, rows, store, url, files
    store.close()


def test_results_are_printed_and_stored_as_a_worker_would(stored):
    proc, rows, review, _, files = stored
    store = Store(review.db)
    assert proc.returncode == 2, proc.stderr  # two inputs failed; the rest went on
    assert set(rows) == {Path(f).name for f in FILES}
    good = ("main_01.jpg", "anim.gif", "main_exif6.jpg", "clean_01.jpg")
    assert [rows[n]["stored"] for n in good] == [True] * 4
    # Undecodable bytes are a stored scan with its error (as a worker stores them); a file that could
    # not be read has no bytes, so only its source is remembered, with the reason.
    assert rows["empty.jpg"]["stored"] is True and "empty" in rows["empty.jpg"]["error"]
    assert rows["missing.jpg"]["stored"] is False and "cannot read" in rows["missing.jpg"]["error"]
    assert store.count("scans") == 5 and store.count("images") == 5
    missing = store.source(str(Path(files[-1]).resolve()))
    assert missing is not None and missing["sha256"] is None and "cannot read" in missing["error"]
    main = store.source(str(Path(files[0]).resolve()))
    assert main["shop_id"] == "shop-7" and main["sha256"] == rows["main_01.jpg"]["sha256"]
    assert {it["sha256"] for it in review.queue.page().items} == {
        rows[n]["sha256"] for n in ("main_01.jpg", "anim.gif", "main_exif6.jpg")
    }


def _box_on(kept: dict, box: list) -> np.ndarray:
    return np.array([[(x - kept["x0"]) * kept["scale"], (y - kept["y0"]) * kept["scale"]] for x, y in box])


@pytest.mark.parametrize("name", ["main_01.jpg", "anim.gif", "main_exif6.jpg"])
def test_evidence_frames_and_crops_show_the_finding(stored, name):
    _, rows, review, _, _ = stored
    item = review.queue.item(rows[name]["sha256"])
    finding = item["findings"][0]
    # The frame the finding is on is kept (for the GIF: not frame 0), as decoded: EXIF rotation applied.
    (frame,) = item["frames"]
    assert frame["frame"] == finding["frame"]
    if name == "anim.gif":
        assert finding["frame"] > 0
    content_type, data = review.queue.blob(frame["blob"])
    pixels = decode(data)
    assert content_type == "image/jpeg" and pixels.shape[:2] == (frame["height"], frame["width"])
    assert (frame["width"], frame["height"]) == (round(item["width"] * frame["scale"]), item["height"])
    # The box, mapped onto the rendering, lies inside it and over text: dark and light pixels both.
    pts = _box_on(frame, finding["box"])
    x0, y0 = pts.min(axis=0).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    assert 0 <= x0 < x1 <= frame["width"] and 0 <= y0 < y1 <= frame["height"]
    region = cv2.cvtColor(pixels[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    assert int(region.max()) - int(region.min()) > 100
    # The crop contains the whole box, zoomed, as PNG.
    crop = finding["crop"]
    ctype, cdata = review.queue.blob(crop["blob"])
    assert ctype == "image/png" and decode(cdata).shape[:2] == (crop["height"], crop["width"])
    cpts = _box_on(crop, finding["box"])
    assert cpts.min() >= 0 and cpts[:, 0].max() <= crop["width"] and cpts[:, 1].max() <= crop["height"]


def test_a_second_run_finds_the_bytes_known_and_scans_nothing(stored, engine, monkeypatch, fixture_dir):
    _, rows, review, url, files = stored
    store = Store(review.db)
    monkeypatch.setenv("QQSCAN_DATABASE_URL", url)
    before = (store.count("scans"), store.count("evidence"), store.count("blobs"))
    res = CliRunner().invoke(cli, ["scan", "--store", "--shop", "shop-7", *files[:3]])
    assert res.exit_code == 1, res.output  # known, and flagged
    assert [ln.split()[0] for ln in res.stdout.splitlines()] == ["known"] * 3
    assert (store.count("scans"), store.count("evidence"), store.count("blobs")) == before
    for line in res.stdout.splitlines():  # a clean one has no review to speak of
        assert line.endswith(("(clean)", "(flagged, review pending)")), line
    assert res.stderr.strip().endswith(f"; results in {store.db.safe_url}"), res.stderr  # where it wrote


def test_the_allowlist_from_review_is_honoured_for_its_shop_only(engine, fixture_dir, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'allow.sqlite3'}"
    monkeypatch.setenv("QQSCAN_DATABASE_URL", url)
    review = ReviewStore(url)
    results = Store(review.db)
    entry = review.allowlist.add(
        "value", "391-287-654", created_by="mod", contact_type="qq", shop_id="shop-7"
    )
    image = str(fixture_dir / "test/main_01.jpg")

    res = CliRunner().invoke(cli, ["scan", "--store", "--json", "--shop", "shop-7", image])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["flagged"] is False and doc["findings"][0]["allowed_by"] == entry
    assert review.queue.page().total == 0 and results.count("evidence") == 0

    # An entry added after a scan reaches the stored result with --rescan (same row, evidence replaced).
    second = str(fixture_dir / "test/main_02.png")
    res = CliRunner().invoke(cli, ["scan", "--store", "--json", "--shop", "shop-8", second])
    assert json.loads(res.stdout)["flagged"] is True and results.count("evidence") == 2
    value = json.loads(res.stdout)["findings"][0]["value"]
    review.allowlist.add("value", value, created_by="mod", shop_id="shop-8")
    res = CliRunner().invoke(cli, ["scan", "--store", "--rescan", "--json", "--shop", "shop-8", second])
    doc = json.loads(res.stdout)
    assert doc["flagged"] is False and doc["stored"] is True
    assert results.count("scans") == 2 and results.count("evidence") == 0 and review.queue.page().total == 0

    other = CliRunner().invoke(
        cli, ["scan", "--shop", "shop-9", "--store", str(fixture_dir / "test/main_03.webp")]
    )
    assert other.stdout.startswith("FLAGGED"), other.output  # another shop's image with its own number
    review.close()


def test_an_unreachable_store_is_reported_before_any_scanning(fixture_dir, monkeypatch):
    monkeypatch.setenv("QQSCAN_DATABASE_URL", "postgresql+psycopg://qq:secret@127.0.0.1:1/none")
    res = CliRunner().invoke(cli, ["scan", "--store", str(fixture_dir / "test/main_01.jpg")])
    assert res.exit_code == 3
    assert "unavailable" in res.output and "secret" not in res.output


def test_shop_without_store_is_a_usage_error(fixture_dir):
    res = CliRunner().invoke(cli, ["scan", "--shop", "s", str(fixture_dir / "test/main_01.jpg")])
    assert res.exit_code == 2 and "--store" in res.output


def test_evidence_of_a_20000_px_page_is_bounded_and_keeps_small_text_readable():
    page = np.full((20000, 750, 3), 255, np.uint8)
    cv2.putText(page, "QQ 1729384757", (200, 19890), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (60, 60, 60), 1)
    box = [[195.0, 19876.0], [330.0, 19876.0], [330.0, 19894.0], [195.0, 19894.0]]
    finding = Finding("qq", "1729384757", "QQ 1729384757", 0.9, "qq.keyword", box=box)
    frame_blob, crop_blob = keep_evidence([Frame(0, page)], [finding])
    assert frame_blob.width * frame_blob.height <= FRAME_MAX_PIXELS and frame_blob.height <= 16000
    assert frame_blob.scale == pytest.approx(frame_blob.width / 750)
    # The 18 px tall line is zoomed in its crop (towards 48 px text), and the crop stays small.
    assert crop_blob.scale > 2 and crop_blob.width <= 1600 and len(crop_blob.data) < 200_000
    crop = decode(crop_blob.data)
    assert crop.min() < 128  # the text is in it
