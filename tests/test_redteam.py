"""The red team's generators themselves (fixtures.redteam), not the detectors' recall: the same seed gives
the same set, every label is recoverable from what is drawn, every family yields varied cases, clean pages
hold no contact, and the files come out as labels.jsonl says."""

from __future__ import annotations

import hashlib
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
from fixtures.redteam.families import FAMILIES, PHONE_SHAPE, QQ_SHAPE, check, wechat_shown
from fixtures.redteam.rounds import generate

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


# --- round 2 (fixtures.redteam.families2) ------------------------------------------------------------------

ROUND1_DIGEST = "e8326bb89e29d7d77f9abebceed950e2f50046d5474172534f9d2e8a80cbad94"  # generate(SEED, 5)


def test_round_one_still_generates_what_it_did() -> None:
    """Round 2 shares the decoder and the renderer: round 1's cases for a seed must not move (the
    recall numbers of round 1 stay comparable)."""
    digest = hashlib.sha256()
    for c in generate(SEED, 5, round_="1"):
        digest.update(
            json.dumps([c.family, c.lines, c.labels, c.layout, c.payload], ensure_ascii=False).encode()
        )
    assert digest.hexdigest() == ROUND1_DIGEST


@pytest.fixture(scope="module")
def cases2():
    from fixtures.redteam.rounds import generate as generate_round

    return generate_round(SEED, PER_FAMILY, round_="2")


def test_round_two_has_new_families_and_hard_clean_ones() -> None:
    from fixtures.redteam import families2

    names = list(families2.FAMILIES)
    assert all(n.startswith("r2_") for n in names)
    assert not set(names) & set(FAMILIES)
    assert len([n for n in names if not n.startswith("r2_clean")]) >= 15
    assert len([n for n in names if n.startswith("r2_clean")]) >= 2


def test_round_two_is_deterministic_and_each_case_stands_alone(cases2) -> None:
    from fixtures.redteam.rounds import generate as generate_round

    assert [_key(c) for c in generate_round(SEED, PER_FAMILY, round_="2")] == [_key(c) for c in cases2]
    other = generate_round(SEED + 1, PER_FAMILY, round_="2")
    assert len({_key(c) for c in other} & {_key(c) for c in cases2}) < len(cases2) // 10
    alone = generate_round(SEED, 3, ["r2_reversed"])
    assert [_key(c) for c in alone] == [_key(c) for c in cases2 if c.family == "r2_reversed"][:3]


@pytest.mark.parametrize(
    ("drawn", "digits"),
    [
        ("٣٩١ ३९१ ๓๙๑ ៣", "3913913913"),
        ("일이삼 공", "1230"),
        ("さん きゅう いち", "391"),
        ("QQ番号はサンキューゴ", "395"),
        ("壱弐參", "123"),
        ("〣〩〡〇", "3910"),
        ("ⅲⅸⅰ", "391"),
        ("⚂🀏🂡🕐", "3911"),
        ("⠼⠉⠊⠁⠚", "3910"),
        ("ごはん", ""),  # kana that spells no digit stays text
    ],
)
def test_the_decoder_reads_round_two_digit_forms(drawn: str, digits: str) -> None:
    assert decode.digits(drawn) == digits


@pytest.mark.parametrize(
    ("drawn", "value"),
    [
        ("扣扣：456782193（倒着看）", "391287654"),
        ("QQ后四位：7654，前五位：39128", "391287654"),
        ("QQ last 4 digits: 7654 / first 5 digits: 39128", "391287654"),
        ("Q：3901280760504 去掉所有的0", "391287654"),
        ("Q：28017654 每位加1", "39128765"),
        ("Q：4023987665 每位减1", "3912876554"),
        ("QQ 391280000+7654 两数相加", "391287654"),
        ("QQ 第3位1 第1位3 第2位9 第5位2 第4位8", "39182"),
        ("QQ ③1 ①3 ②9 ⑤2 ④8", "39182"),
        ("ㄣϛ9ㄥ8ᄅƖ6Ɛ :bb ǝɯ ppɐ", "391287654"),
        ("扣扣 🍎🍎🍎 🍎🍎🍎🍎🍎🍎🍎🍎🍎 🍎 ⭕ 🍎🍎 数一数", "39102"),
    ],
)
def test_the_decoder_follows_the_sellers_notes(drawn: str, value: str) -> None:
    """Hand-written: what a buyer gets by following the note; and without the note, not that number."""
    assert any(value in reading for reading in decode.readings(drawn))
    assert value not in decode.digits(drawn)


def test_every_round_two_label_is_recoverable_and_a_wrong_one_is_caught(cases2) -> None:
    from fixtures.redteam import families2

    for case in cases2:
        assert families2.check(case) is case
        for lab in case.labels:
            assert lab["type"] in ("qq", "phone", "wechat", "not_qq")
    for family in ("r2_reversed", "r2_swapped_halves", "r2_positions", "r2_counted", "r2_cjk_readings"):
        case = next(c for c in cases2 if c.family == family)
        value = case.labels[0]["value"]
        case.labels = [{"type": case.labels[0]["type"], "value": value[:-1] + str((int(value[-1]) + 1) % 10)}]
        with pytest.raises(AssertionError, match="not recoverable"):
            families2.check(case)


def test_every_round_two_family_yields_varied_cases(cases2) -> None:
    from fixtures.redteam import families2

    for name, family in families2.FAMILIES.items():
        mine = [c for c in cases2 if c.family == name]
        assert len(mine) == PER_FAMILY, name
        assert family.about, f"{name}: no description"
        variety = {(c.text, c.payload) for c in mine}
        assert len(variety) >= 0.9 * PER_FAMILY, f"{name}: only {len(variety)} distinct cases"
        assert all(c.labels for c in mine) != name.startswith("r2_clean"), name


LONG_NUMBER_AFTER_KEYWORD = re.compile(
    r"(?:qq|扣扣|企鹅|微信|vx|wx|wechat|电话|手机|tel|phone|mobile)[\s:：\-=#]*\d{5,}", re.IGNORECASE
)


def test_round_two_clean_pages_hold_no_contact_and_are_hard() -> None:
    from fixtures.redteam.rounds import ROUNDS
    from fixtures.redteam.rounds import generate as generate_round

    names = [n for n in ROUNDS["2"] if n.startswith("r2_clean")]
    pages = generate_round(SEED, 200, names)
    for page in pages:
        assert page.labels == []
        for line in page.lines:
            folded = unicodedata.normalize("NFKC", line)
            assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", folded), line
            assert not LONG_NUMBER_AFTER_KEYWORD.search(folded), line
    text = "\n".join(p.text for p in pages)
    for word in ("Q弹", "v领", "奇瑞QQ", "企鹅牌", "纽扣", "ISBN", "IMEI", "Tracking No.", "400"):
        assert word in text, word
    assert sum(bool(re.search(r"\d{12,}", ln)) for p in pages for ln in p.lines) > len(pages) // 2


def test_the_benchmark_counts_a_number_that_is_no_qq_and_reads_by_the_notes() -> None:
    from benchmarks.bench_recall import matched, ocr_read

    lab = {"type": "not_qq", "value": "391287654"}
    assert matched(lab, [{"type": "phone", "value": "13800138000"}])
    assert not matched(lab, [{"type": "qq", "value": "391287654"}])
    box = [[0, 0], [100, 0], [100, 20], [0, 20]]
    lines = [{"text": "QQ：456782193（倒着看）", "box": box, "frame": 0}]
    qq = {"type": "qq", "value": "391287654"}
    assert ocr_read(qq, lines, "main", "r2_reversed") is True
    assert ocr_read(qq, lines, "main", "qq_keyword") is False  # round 1 reads digits as written


def test_the_writer_renders_the_round_two_layouts(tmp_path: Path) -> None:
    families = [
        "r2_upside_down",
        "r2_watermark",
        "r2_curved_text",
        "r2_contact_table",
        "r2_clean_table",
        "r2_qr_text",
        "r2_flipped_text",
    ]
    rows = write_set(tmp_path, seed=SEED, per_family=2, families=families)
    assert read_set(tmp_path) == rows
    layouts = {row["layout"] for row in rows}
    assert {"watermark", "curve", "contact_table", "figure_table", "qr"} <= layouts
    assert layouts & {"upside_down", "mirrored"}
    for row in rows:
        assert row["undrawn"] == "", row  # every glyph these families use is in the fonts setup.sh installs
        with Image.open(tmp_path / row["file"]) as im:
            assert (im.width, im.height) == (row["width"], row["height"])
            if row["category"] == "r2_qr_text":
                pixels = cv2.cvtColor(np.asarray(im.convert("RGB")), cv2.COLOR_RGB2GRAY)
                payload, _, _ = cv2.QRCodeDetector().detectAndDecode(pixels)
                assert payload and row["labels"][0]["value"] in payload, payload
    again = tmp_path / "again"
    write_set(again, seed=SEED, per_family=2, families=families)
    for row in rows:
        assert (again / row["file"]).read_bytes() == (tmp_path / row["file"]).read_bytes(), row["file"]


def test_a_glyph_no_font_draws_is_named() -> None:
    from fixtures.redteam.glyphs import undrawable

    assert undrawable("QQ：391 ③ 𝟑 ٣ ⚂ 🍎 1\ufe0f\u20e3") == ""
    assert undrawable("QQ \ue000\ue001") == "\ue000\ue001"  # private use: no font has them


def test_the_command_takes_a_round(tmp_path: Path) -> None:
    from fixtures.redteam import families2

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fixtures.redteam",
            str(tmp_path),
            "--round",
            "2",
            "--per-family",
            "1",
            "--text-only",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_set(tmp_path)
    assert [r["category"] for r in rows] == [n for n, f in families2.FAMILIES.items() if not f.image_only]
    proc = subprocess.run(
        [sys.executable, "-m", "fixtures.redteam", str(tmp_path), "--round", "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "--round" in proc.stderr
