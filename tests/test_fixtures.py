"""fixtures.generate: runs, deterministic, idempotent, manifest well-formed and true to the pixels, every
good file decodes and every bad one fails with the promised message."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from fixtures import draw
from fixtures.generate import QR_PAYLOAD, STRADDLE_Y, generate
from ocr.decode import DecodeError, decode_image

KINDS = {
    "main", "strip", "tall", "gif", "low_contrast", "over_photo", "rotated", "vertical", "small",
    "jpeg_lowq", "qr", "clean", "disguise", "bad", "hard",
}  # fmt: skip
TYPES = {"qq", "phone", "wechat", "qrcode"}
DIGITS = {
    **{c: str(i) for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")},
    **{c: str(i + 1) for i, c in enumerate("①②③④⑤⑥⑦⑧⑨")},
    **{chr(0xFF10 + i): str(i) for i in range(10)},
}


def digits_of(text: str) -> str:
    return "".join(DIGITS.get(c, c) for c in text if c.isdigit() or c in DIGITS)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_test_set_kinds_present(manifest: list[dict]) -> None:
    test = [e for e in manifest if e["set"] == "test"]
    assert KINDS - {"hard"} <= {e["kind"] for e in test}  # the hard set is its own (tests/test_hard_cases.py)
    assert sum(e["kind"] == "clean" for e in test) >= 3
    assert {e["contacts"][0]["type"] for e in test if e["kind"] == "disguise"} == {"qq", "wechat", "phone"}


def test_manifest_well_formed(manifest: list[dict], fixture_dir: Path) -> None:
    files = [e["file"] for e in manifest]
    assert len(files) == len(set(files))
    for e in manifest:
        assert set(e) == {"file", "set", "kind", "contacts", "error", "note"}, e["file"]
        assert e["set"] in ("test", "bench", "hard") and e["kind"] in KINDS
        assert (fixture_dir / e["file"]).is_file(), e["file"]
        assert not Path(e["file"]).is_absolute() and ".." not in e["file"]
        if e["kind"] == "bad":
            assert e["error"] and e["contacts"] == []
        else:
            assert e["error"] is None
        if e["kind"] == "clean":
            assert e["contacts"] == []
        elif e["kind"] != "bad":
            assert e["contacts"], e["file"]
        for c in e["contacts"]:
            # hard cases also record the disguised run as drawn (`shown`)
            assert set(c) - {"shown"} == {"type", "value", "text", "frame", "bbox"}
            assert c["type"] in TYPES and c["value"] and c["text"]
            x0, y0, x1, y1 = c["bbox"]
            assert 0 <= x0 < x1 and 0 <= y0 < y1


def test_contact_text_matches_value(manifest: list[dict]) -> None:
    """The drawn string really spells the recorded value (catches a value edited without its text)."""
    from fixtures.hard import digits_read

    for e in manifest:
        for c in e["contacts"]:
            if e["set"] == "hard":  # homophones and circled digits: the module's own glyph table
                assert c["shown"] in c["text"] and digits_read(c["shown"]) == c["value"], (e["file"], c)
            elif c["type"] in ("qq", "phone"):
                assert c["value"] in digits_of(c["text"]), (e["file"], c)
                assert re.fullmatch(r"[1-9]\d{4,10}", c["value"]), c["value"]
            elif c["type"] == "wechat":
                assert c["value"] in c["text"]
            else:
                assert c["value"] == c["text"] == QR_PAYLOAD


def good(manifest: list[dict]) -> list[dict]:
    return [e for e in manifest if e["set"] == "test" and e["kind"] != "bad"]


def test_every_good_fixture_decodes_and_bboxes_land_on_ink(manifest: list[dict], fixture_dir: Path) -> None:
    for e in good(manifest):
        frames = decode_image((fixture_dir / e["file"]).read_bytes())
        by_index = {f.index: f for f in frames}
        for c in e["contacts"]:
            assert c["frame"] in by_index, (e["file"], c["frame"], list(by_index))
            px = by_index[c["frame"]].pixels
            h, w = px.shape[:2]
            x0, y0, x1, y1 = c["bbox"]
            assert x1 <= w and y1 <= h, (e["file"], c["bbox"], (w, h))
            grey = cv2.cvtColor(np.ascontiguousarray(px[y0:y1, x0:x1]), cv2.COLOR_BGR2GRAY)
            assert int(grey.max()) - int(grey.min()) >= 20, (e["file"], "no ink inside bbox")


def test_every_bad_fixture_fails_with_its_message(manifest: list[dict], fixture_dir: Path) -> None:
    bad = [e for e in manifest if e["kind"] == "bad"]
    assert len(bad) >= 7
    for e in bad:
        with pytest.raises(DecodeError) as err:
            decode_image((fixture_dir / e["file"]).read_bytes())
        assert e["error"] in str(err.value), (e["file"], str(err.value))


def test_animations_have_contact_only_in_a_later_frame(manifest: list[dict], fixture_dir: Path) -> None:
    anims = [e for e in manifest if e["set"] == "test" and e["kind"] == "gif"]
    assert {Path(e["file"]).suffix for e in anims} == {".gif", ".webp"}
    for e in anims:
        frames = decode_image((fixture_dir / e["file"]).read_bytes())
        assert len(frames) == 3 and frames[0].meta["frames_total"] == 3
        assert e["contacts"][0]["frame"] >= 1


def test_tall_pages(manifest: list[dict], fixture_dir: Path) -> None:
    tall = {e["file"]: e for e in manifest if e["set"] == "test" and e["kind"] == "tall"}
    c = tall["test/tall_20000.jpg"]["contacts"][0]
    assert c["bbox"][1] > 19800 and c["bbox"][3] - c["bbox"][1] <= 20  # 14 px text near the bottom
    s = tall["test/tall_4000_straddle.png"]
    assert f"straddle_y={STRADDLE_Y}" in s["note"]
    assert s["contacts"][0]["bbox"][1] < STRADDLE_Y < s["contacts"][0]["bbox"][3]
    assert {decode_image((fixture_dir / f).read_bytes())[0].pixels.shape[0] for f in tall} == {
        6000,
        20000,
        4000,
    }


def test_qr_fixture_decodes_to_payload(manifest: list[dict], fixture_dir: Path) -> None:
    e = next(e for e in manifest if e["kind"] == "qr")
    px = decode_image((fixture_dir / e["file"]).read_bytes())[0].pixels
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(px)
    assert text == QR_PAYLOAD


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("fixtures")
    return out, generate(out, bench=True)


def test_deterministic(fresh: tuple[Path, list[dict]], manifest: list[dict], fixture_dir: Path) -> None:
    """A second, independent run writes byte-identical files and the same manifest."""
    out, entries = fresh
    mine = [e for e in entries if e["set"] == "test"]
    theirs = [e for e in manifest if e["set"] == "test"]
    assert mine == theirs
    for e in mine:
        assert sha(out / e["file"]) == sha(fixture_dir / e["file"]), e["file"]


def test_idempotent(fresh: tuple[Path, list[dict]]) -> None:
    out, entries = fresh
    stamps = {e["file"]: (out / e["file"]).stat().st_mtime_ns for e in entries}
    assert generate(out) == entries  # test set already there (inside the bench run): nothing rewritten
    assert generate(out, bench=True) == entries
    assert stamps == {e["file"]: (out / e["file"]).stat().st_mtime_ns for e in entries}
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == entries


def test_bench_set(fresh: tuple[Path, list[dict]]) -> None:
    out, entries = fresh
    bench = [e for e in entries if e["set"] == "bench"]
    kinds = [e["kind"] for e in bench]
    assert kinds.count("main") >= 20 and kinds.count("tall") >= 5 and kinds.count("gif") >= 5
    assert all(e["file"].startswith("bench/") for e in bench)
    values = [c["value"] for e in bench for c in e["contacts"]]
    assert len(values) == len(set(values)), "bench contact values must be unique"
    for e in bench:
        for c in e["contacts"]:
            if c["type"] == "phone":
                assert re.fullmatch(r"1[3-9]\d{9}", c["value"])
            if c["type"] == "qq":
                assert re.fullmatch(r"[1-9]\d{4,10}", c["value"])
        if e["kind"] == "tall":
            frames = decode_image((out / e["file"]).read_bytes())
            h = frames[0].pixels.shape[0]
            assert 8000 <= h <= 15000 and e["contacts"][0]["bbox"][1] > h - 500
        if e["kind"] == "gif":
            assert e["contacts"][0]["frame"] >= 1


def test_cli_writes_manifest(fresh: tuple[Path, list[dict]]) -> None:
    out, entries = fresh
    proc = subprocess.run(
        [".venv/bin/python", "-m", "fixtures.generate", str(out)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{len(entries)} fixtures" in proc.stdout


def test_missing_font_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without the font can't be produced here, so fc-match and the known paths are faked away."""

    def no_fc_match(*args, **kwargs):
        raise FileNotFoundError("fc-match")

    monkeypatch.setattr(draw.subprocess, "run", no_fc_match)
    monkeypatch.setattr(draw, "KNOWN_FONTS", ["/nonexistent/NotoSansCJK-Regular.ttc"])
    with pytest.raises(RuntimeError, match="apt-get install fonts-noto-cjk"):
        draw.cjk_font_file.__wrapped__()


def test_exif_and_alpha_fixtures_decode_as_a_viewer_shows_them(fixture_dir: Path) -> None:
    raw = (fixture_dir / "test/main_exif6.jpg").read_bytes()
    f = decode_image(raw)[0]
    stored = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert f.meta["exif_orientation"] == 6
    upright = np.rot90(stored, -1).astype(int)  # stored sideways, shown turned clockwise
    assert np.abs(f.pixels.astype(int) - upright).max() <= 4  # two JPEG decoders may differ by a step
    alpha = decode_image((fixture_dir / "test/main_alpha.png").read_bytes())[0].pixels
    assert alpha[5, 795].tolist() == [255, 255, 255]  # transparent corner composited on white
