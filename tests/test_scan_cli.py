"""`qqscan scan` end to end: the real console script, the real engine, the generated fixtures."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
QQSCAN = str(REPO / ".venv" / "bin" / "qqscan")
CONTRACT = {"source": str, "sha256": str, "flagged": bool, "findings": list, "ms": int}
FINDING = {"type": str, "text": str, "box": list, "frame": int, "confidence": float, "rule": str}


def run_scan(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [QQSCAN, "scan", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def test_set(manifest, fixture_dir):
    return [e for e in manifest if e.get("set", "test") == "test"]


@pytest.fixture(scope="module")
def scanned(test_set, fixture_dir):
    """One run of `qqscan scan --json` over every test fixture, good and bad, in one batch."""
    files = [str(fixture_dir / e["file"]) for e in test_set]
    proc = run_scan("--json", *files)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc, {r["source"]: r for r in rows}, files


def _entry(test_set, fixture_dir, source):
    return next(e for e in test_set if str(fixture_dir / e["file"]) == source)


def test_one_json_object_per_input_in_order(scanned):
    proc, by_source, files = scanned
    assert [json.loads(x)["source"] for x in proc.stdout.splitlines()] == files
    for row in by_source.values():
        for key, typ in CONTRACT.items():
            assert isinstance(row[key], typ), (key, row)
        assert row["error"] is None or isinstance(row["error"], str)
        for f in row["findings"]:
            for key, typ in FINDING.items():
                assert isinstance(f[key], typ), (key, f)
            assert f["value"] is None or isinstance(f["value"], str)
            assert len(f["box"]) == 4 and all(len(p) == 2 for p in f["box"])


def test_exit_status_2_when_any_input_failed_and_the_batch_goes_on(scanned, test_set):
    proc, by_source, _ = scanned
    assert any(e.get("error") for e in test_set)
    assert proc.returncode == 2
    assert len(by_source) == len(test_set)  # every input, bad ones included, has its line


def test_bad_files_get_clear_errors(scanned, test_set, fixture_dir):
    _, by_source, _ = scanned
    bad = [e for e in test_set if e.get("error")]
    assert len(bad) >= 5
    for e in bad:
        row = by_source[str(fixture_dir / e["file"])]
        assert row["error"] and e["error"].lower() in row["error"].lower(), (e, row["error"])
        assert row["flagged"] is False


def test_contacts_are_found_with_value_and_box(scanned, test_set, fixture_dir):
    """Every planted QQ/phone in a good fixture is reported with its exact value, in the right frame, with a
    box that overlaps where it was drawn (page coordinates, also at the bottom of tall pages)."""
    _, by_source, _ = scanned
    misses = []
    for e in test_set:
        if e.get("error"):
            continue
        row = by_source[str(fixture_dir / e["file"])]
        assert row["error"] is None, row
        for c in e["contacts"]:
            if c["type"] not in ("qq", "phone"):
                continue
            hits = [f for f in row["findings"] if f["value"] == c["value"]]
            if not hits:
                misses.append((e["file"], c["value"], [f["value"] for f in row["findings"]]))
                continue
            if "frame" in c:
                assert any(f["frame"] == c["frame"] for f in hits), (e["file"], hits)
            if "bbox" in c and e["kind"] not in ("vertical", "rotated"):
                x0, y0, x1, y1 = c["bbox"]
                assert any(
                    min(p[0] for p in f["box"]) < x1
                    and max(p[0] for p in f["box"]) > x0
                    and min(p[1] for p in f["box"]) < y1
                    and max(p[1] for p in f["box"]) > y0
                    for f in hits
                ), (e["file"], c["bbox"], [f["box"] for f in hits])
    assert not misses, misses


def test_clean_images_are_not_flagged(scanned, test_set, fixture_dir):
    _, by_source, _ = scanned
    clean = [e for e in test_set if not e.get("error") and not e["contacts"]]
    assert clean
    for e in clean:
        row = by_source[str(fixture_dir / e["file"])]
        assert row["flagged"] is False, (e["file"], row["findings"])


def test_human_output_and_stdin_list(test_set, fixture_dir):
    good = [e for e in test_set if not e.get("error")][:2]
    listing = "\n".join(str(fixture_dir / e["file"]) for e in good) + "\n"
    proc = run_scan("-", stdin=listing)
    assert proc.returncode == (1 if any(e["contacts"] for e in good) else 0), proc.stderr[-2000:]
    out = proc.stdout.splitlines()
    assert len(out) == 2
    for line, e in zip(out, good, strict=True):
        assert e["file"] in line
        assert line.startswith("FLAGGED" if e["contacts"] else "clean")
    assert "img/s" not in proc.stderr  # no progress bar when stderr is not a terminal


def test_folder_is_scanned_recursively(tmp_path, test_set, fixture_dir):
    good = [e for e in test_set if not e.get("error") and e["file"].endswith(".png")][:2]
    (tmp_path / "a" / "b").mkdir(parents=True)
    for i, e in enumerate(good):
        (tmp_path / "a" / ("b" if i else "") / f"img{i}.png").write_bytes(
            (fixture_dir / e["file"]).read_bytes()
        )
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    proc = run_scan("--json", str(tmp_path))
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == (1 if any(r["flagged"] for r in rows) else 0) and len(rows) == 2


def test_missing_file_is_an_error_not_a_crash(tmp_path, test_set, fixture_dir):
    good = next(e for e in test_set if not e.get("error") and e["contacts"])
    proc = run_scan("--json", str(tmp_path / "nope.jpg"), str(fixture_dir / good["file"]))
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == 2
    assert "nope.jpg" in rows[0]["error"] and rows[1]["error"] is None and rows[1]["flagged"]


def test_urls_dead_urls_and_internal_addresses(http_server, test_set, fixture_dir):
    """http(s) sources go through the fetcher: a served image is scanned, a 404 and an HTML page are errors
    with their reason, and without QQSCAN_ALLOW_PRIVATE_NETWORKS a loopback URL is refused unfetched."""
    good = next(e for e in test_set if e["kind"] == "main")
    http_server.route("/item.jpg", body=(fixture_dir / good["file"]).read_bytes(), content_type="image/jpeg")
    http_server.route("/gone.jpg", status=404, body=b"not found")
    http_server.route(
        "/page.jpg", body=b"<!doctype html><html><body>hi</body></html>", content_type="text/html"
    )
    urls = [http_server.url(p) for p in ("/item.jpg", "/gone.jpg", "/page.jpg")]
    proc = run_scan("--json", *urls, env={"QQSCAN_ALLOW_PRIVATE_NETWORKS": "1"})
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == 2 and [r["source"] for r in rows] == urls
    assert rows[0]["error"] is None and {f["value"] for f in rows[0]["findings"]} >= {
        good["contacts"][0]["value"]
    }
    assert "404" in rows[1]["error"]
    assert "not an image" in rows[2]["error"].lower()

    before = http_server.connections
    refused = run_scan("--json", urls[0], env={"QQSCAN_ALLOW_PRIVATE_NETWORKS": "0"})
    row = json.loads(refused.stdout)
    assert refused.returncode == 2 and "refused" in row["error"] and "127.0.0.1" in row["error"]
    assert http_server.connections == before
