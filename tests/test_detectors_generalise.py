"""Detection round 2 (#17): tables from data, keyword anchors, every carrier. Cases per mechanism, written
for this file (none copied from an outside set), plus the red team's generated families as a regression
floor. On the detectors before round 2, 33 of these 48 tests fail; the others (a few forms that already
worked, and the product-text negatives) guard what must not change."""

from __future__ import annotations

import pytest

import detectors
from benchmarks.bench_recall import Tally
from fixtures.redteam.rounds import generate

QQ = "391287654"


def _found(text: str) -> list[tuple[str, str | None]]:
    return [(f.type, f.value) for f in detectors.detect_text(text) if f.type != "solicitation"]


@pytest.mark.parametrize(
    "text",
    [
        # Digits from Unicode's numeric values: colloquial, Roman, Arabic-Indic, negative and dingbat circled.
        "QQ：仨九一二八七六五四",
        "QQ：ⅢⅨⅠⅡⅧⅦⅥⅤⅣ",
        "扣扣 ٣٩١٢٨٧٦٥٤",
        "QQ：❸❾❶❷❽❼❻❺❹",
        # Traditional script through OpenCC; look-alikes through Unicode's confusables (Cyrillic З).
        "企鵝帳號：391287654",
        "扣扣：З91287654",
        # Pinyin and English as writing systems, for digits and for keywords.
        "QQ: san jiu yi er ba qi liu wu si",
        "QQ：SānJiǔYīÈrBāQīLiùWǔSì",
        "QQ：san-jiu-yi-er-ba-qi-liu-wu-si",
        "QQ: three nine one two eight seven six five four",
        "kou kou 391287654",
        "KouKou：391287654",
        "QiE 391287654",
        "扣kou 391287654",
        # A part or sound of a QQ keyword + 号/账号; letters in other dress.
        "鹅号：391287654",
        "秋账号 391287654",
        "🅠🅠：391287654",
        "ԚԚ号 391287654",
        # A keyword anchor licenses aggressive decoding: fillers, look-alikes only, homophones only, marks.
        "QQ：3哈9哈1哈2哈8哈7哈6哈5哈4",
        "QQ：3×9×1×2×8×7×6×5×4",
        "扣扣：伞酒依耳吧七溜五寺",
        "QQ ➡️ 391287654 欢迎咨询",
        "扣☛391287654",
        "企✨鹅：391287654",
        # One tie: verbs (listed, any verb + 我, English word + me) and solicitation phrases.
        "私我 391287654",
        "敲我☞391287654",
        "hit me up: 391287654",
        # Mailboxes, with the @ and the dot in disguise.
        "391287654【at】qq.com",
        "391287654 (at) foxmail 点 com",
        # Units and list items after the number are not its digits; a note to read it backwards.
        "QQ：391287654 24小时在线",
        "2）联系扣扣:391287654\n3. 尺码 S/M/L",
        "QQ：456782193（倒着读）",
    ],
)
def test_a_qq_number_written_any_way_is_read_exactly(text: str) -> None:
    assert ("qq", QQ) in _found(text), detectors.explain(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("☏ 1 3 8 1 2 3 4 5 6 7 8", [("phone", "13812345678")]),  # a telephone symbol by its Unicode name
        ("Wēixìn：shop_abc", [("wechat", "shop_abc")]),  # tone marks on a keyword
        ("WeChat ID shop_abc88 for more", [("wechat", "shop_abc88")]),
        ("电话+86-①~~③~~⑧~~①~~②~~③~~④~~⑤~~⑥~~⑦~~⑧秒回", [("phone", "13812345678")]),
        ("QQ:390713\n满293减10全场包邮", [("qq", "390713")]),  # text resumes on the next line
        ("售后QQ 60848\n¥441.99", [("qq", "60848")]),  # a price starts on the next line
    ],
)
def test_other_contacts_and_neighbours_read_exactly(text: str, expected: list[tuple[str, str]]) -> None:
    assert _found(text) == expected, detectors.explain(text)


@pytest.mark.parametrize(
    "text",
    [
        "奇瑞QQ3 2013款 1.0L 手动",  # a car model and its model year
        "KX-130 1400 6 220 5",  # a row of a spec table
        "UPC 0 15494 14382 7",
        "ISBN 978-7-027-93943-8",
        "旺旺客服 9:00-23:00",  # opening hours after a role word
        "物流单号:WX-7982270",  # a code's prefix, not a keyword
        "扣扣领袖¥1844.05",
        "满300扣50 再送QQ音乐会员",
        "口号 391287654",  # a common word that sounds like a keyword
    ],
)
def test_product_text_that_looks_like_a_contact_is_not_one(text: str) -> None:
    assert detectors.detect_text(text) == [], [f.to_dict() for f in detectors.detect_text(text)]


def test_a_qq_keyword_introduces_a_number_starting_with_400_only_a_phone_keyword_makes_a_hotline() -> None:
    assert _found("扣扣：4008523442") == [("qq", "4008523442")]
    assert _found("电话：4008523442") == []


def test_the_red_team_families_stay_above_their_floor() -> None:
    """The generated seller disguises (fixtures/redteam, written without reading the detectors): a floor
    under the measured rates, so a change that loses a family shows here; clean pages never flag."""
    tallies = {}
    for round_ in ("1", "2"):
        tally = tallies[round_] = Tally()
        for case in generate(20261203, 60, round_=round_, text_only=True):
            row = {"labels": case.labels, "category": case.family, "layout": case.layout}
            tally.add(row, [f.to_dict() for f in detectors.detect_text(case.text)], None)
    one, two = tallies["1"].n, tallies["2"].n
    rates = {r: f"{t.n['exact_qq']}/{t.n['qq']}" for r, t in tallies.items()}
    print(f"\nred team exact QQ, 60 per family: {rates}")
    assert one["exact_qq"] >= 0.92 * one["qq"] and one["clean_flagged"] == 0, dict(one)
    assert two["exact_qq"] >= 0.50 * two["qq"] and two["clean_flagged"] <= 1, dict(two)
