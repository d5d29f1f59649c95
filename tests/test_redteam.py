"""The red team's generators themselves (fixtures.redteam), not the detectors' recall: the same seed gives
the same set, every label is recoverable from what is drawn, every family yields varied cases, clean pages
hold no contact, and the files come out as labels.jsonl says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fixtures.redteam import decode, vocab
from fixtures.redteam.dataset import read_set, write_set
from fixtures.redteam.families import FAMILIES, PHONE_SHAPE, QQ_SHAPE, check, generate, wechat_shown

REPO = Path(__file__).resolve().parents[1]
SEED = 20261201
PER_FAMILY = 40


@pytest.fixture(scope="module")
def cases():
    return generate(SEED, PER_FAMILY)


def _key(case) -> tuple:
    return case.family, tuple(case.lines), json.dumps(case.labels), case.layout, case.payload


def test_the_same_seed_gives_the_same_cases_and_another_seed_other_ones(cases) -> None:
    again = generate(SEED, PER_FAMILY)
    assert [_key(c) for c in again] == [_key(c) for c in cases]
    other = generate(SEED + 1, PER_FAMILY)
    assert len({_key(c) for c in other} & {_key(c) for c in cases}) < len(cases) // 10


def test_a_case_does_not_depend_on_which_others_are_made(cases) -> None:
    alone = generate(SEED, 3, ["qq_homophone"])
    assert [_key(c) for c in alone] == [_key(c) for c in cases if c.family == "qq_homophone"][:3]


@pytest.mark.parametrize(
    ("drawn", "digits"),
    [
        ("扣扣：叁玖壹贰捌柒陆伍肆", "391287654"),
        ("③⑨①❷➇⑴⒈", "3912811"),
        ("ＱＱ：３９１", "391"),
        ("𝟑𝟗𝟏 ¹²₃ Ⅳ 1\ufe0f\u20e3", "3911234" + "1"),
        ("幺两拐洞仨勾", "127039"),
        ("sān jiǔ yī", "391"),
        ("San-Jiu-Yi", "391"),
        ("sanjiouyao", "391"),
        ("three nine one", "391"),
        ("lZSbqB0", "1256980"),
        ("3哈9哈1", "391"),
        ("山久衣", "391"),
        ("加我 si", "4"),
    ],
)
def test_the_decoder_reads_what_sellers_write(drawn: str, digits: str) -> None:
    """Hand-written cases: the decoder the label checks rely on must itself be right."""
    assert decode.digits(drawn) == digits


def test_every_label_is_recoverable_from_what_the_case_draws(cases) -> None:
    for case in cases:
        assert check(case) is case
        for lab in case.labels:
            if lab["type"] in ("qq", "phone") and case.payload is None:
                assert (QQ_SHAPE if lab["type"] == "qq" else PHONE_SHAPE).fullmatch(lab["value"])
                assert lab["value"] in decode.digits(case.text), case.text
            elif lab["type"] == "wechat":
                assert lab["value"] in wechat_shown(case.text), case.text
            elif case.payload:
                assert lab["value"] in case.payload


def test_a_wrong_label_is_caught(cases) -> None:
    case = next(c for c in cases if c.family == "qq_homophone")
    case.labels = [{"type": "qq", "value": str(int(case.labels[0]["value"]) + 1)}]
    with pytest.raises(AssertionError, match="not recoverable"):
        check(case)


def test_every_family_yields_varied_cases(cases) -> None:
    for name, family in FAMILIES.items():
        mine = [c for c in cases if c.family == name]
        assert len(mine) == PER_FAMILY, name
        assert family.about, f"{name}: no description"
        variety = {(c.text, c.payload) for c in mine}
        floor = 0.5 if name == "solicitation" else 0.9  # asks without a contact are short phrases
        assert len(variety) >= floor * PER_FAMILY, f"{name}: only {len(variety)} distinct cases"
        if name != "clean":
            assert all(c.labels for c in mine), name


CONTACT_KEYWORDS = sorted(
    {*vocab.QQ_LATIN, "扣扣", *vocab.PENGUIN, *vocab.WECHAT_KEYWORDS, *vocab.PHONE_KEYWORDS},
    key=len,
    reverse=True,
)
# A keyword standing alone (not inside a word or a number, as V in 220V) right before a number.
KEYWORD_THEN_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, CONTACT_KEYWORDS)) + r")[\s:：→>=\-—~]*\d"
)


def test_clean_pages_hold_no_contact(cases) -> None:
    pages = [c for c in generate(SEED, 300, ["clean"])]
    for page in pages:
        assert page.labels == []
        for line in page.lines:
            folded = unicodedata.normalize("NFKC", line)
            assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", folded), line
            assert not KEYWORD_THEN_NUMBER.search(folded), line
    # and they are the hard kind: numbers everywhere, QQ-branded products and 扣/微/企鹅 words among them
    text = "\n".join(p.text for p in pages)
    assert sum(bool(re.search(r"\d{5,}", ln)) for p in pages for ln in p.lines) > len(pages)
    for word in ("QQ音乐", "Q币", "纽扣", "企鹅玩偶", "400"):
        assert word in text


def test_the_writer_renders_each_layout_as_labels_jsonl_says(tmp_path: Path) -> None:
    families = ["qq_keyword", "layout_gif", "layout_tiny_bottom", "qr_link", "layout_vertical_2col"]
    rows = write_set(tmp_path, seed=SEED, per_family=1, families=families)
    assert read_set(tmp_path) == rows
    for row in rows:
        assert set(row) >= {"file", "category", "labels", "width", "height", "layout", "line"}
        with Image.open(tmp_path / row["file"]) as im:
            assert (im.width, im.height) == (row["width"], row["height"])
            frames = getattr(im, "n_frames", 1)
            if row["category"] == "layout_gif":
                assert frames >= 3 and 1 <= row["frame"] < frames  # a later frame, and a real one
            if row["category"] == "layout_tiny_bottom":
                assert (im.width, im.height) == (750, 15000)
            if row["category"] == "qr_link":
                pixels = cv2.cvtColor(np.asarray(im.convert("RGB")), cv2.COLOR_RGB2GRAY)
                payload, _, _ = cv2.QRCodeDetector().detectAndDecode(pixels)
                value = row["labels"][0]["value"]
                assert payload and (value in payload), payload
    again = tmp_path / "again"
    write_set(again, seed=SEED, per_family=1, families=families)
    for row in rows:
        assert (again / row["file"]).read_bytes() == (tmp_path / row["file"]).read_bytes(), row["file"]


def test_the_command_names_an_unknown_family(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fixtures.redteam",
            str(tmp_path),
            "--families",
            "qq_keyword,nope",
            "--text-only",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "unknown families nope" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "fixtures.redteam", str(tmp_path), "--per-family", "2", "--text-only"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_set(tmp_path)
    assert len(rows) == 2 * sum(not f.image_only for f in FAMILIES.values())
    assert all(r["file"] is None for r in rows)
