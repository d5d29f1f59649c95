"""Disguise families (issue 10), table-driven from the generators in fixtures/: keywords by sound and shape,
look-alike letters, mixed runs, grouped digits, WeChat ids in disguise, solicitations; and product pages
(labelled numbers next to QQ音乐-style words) on which nothing may be found, as text and as OCR boxes.

The generators are independent of detectors/ (fixtures/disguise_text.py, fixtures/product_text.py); every
case carries the exact value the detector must read. The same families spliced into real text are measured
in tests/test_detectors_corpus.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace

import pytest

import detectors
from detectors import policy
from detectors.base import Finding
from detectors.engine import TextDetector
from fixtures.disguise_text import FAMILIES, Case, generate
from fixtures.product_text import pages
from ground.settings import Settings
from jobs.pipeline import ScanResult
from ocr.types import OcrLine

PER_FAMILY = 250
MIN_RATE = 0.97


def _found(case: Case, findings: list[Finding]) -> bool:
    return (case.type, case.value) in [(f.type, f.value) for f in findings]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_exact_rate(family: str) -> None:
    cases = list(generate(seed=101, per_family=PER_FAMILY, families=(family,)))
    missed = [
        (c.text, c.value, detectors.detect_text(c.text))
        for c in cases
        if not _found(c, detectors.detect_text(c.text))
    ]
    rate = 1 - len(missed) / len(cases)
    print(f"\n{family}: {rate:.4f} exact ({len(cases) - len(missed)}/{len(cases)})")
    assert rate >= MIN_RATE, missed[:20]


def test_findings_say_which_keyword_rule_and_form() -> None:
    """Every keyword match names how it matched (literal / sound / shape) and the listed form behind it;
    the generators' forms are mostly not listed (some are: 抠抠 is read literally)."""
    for family, how in [("sound_keyword", "sound"), ("shape_keyword", "shape")]:
        rules = []
        for case in generate(seed=7, per_family=40, families=(family,)):
            (f,) = [f for f in detectors.detect_text(case.text) if f.type == "qq"]
            assert f.rule == "qq.keyword" and f.extra["keyword_rule"] in ("literal", how), (case, f)
            assert f.extra["keyword_form"], f
            rules.append(f.extra["keyword_rule"])
        assert rules.count(how) >= len(rules) // 2, rules


def test_solicitation_findings_have_no_value_and_their_own_rule() -> None:
    for case in generate(seed=3, per_family=60, families=("solicitation",)):
        sol = [f for f in detectors.detect_text(case.text) if f.type == "solicitation"]
        assert sol, case
        for f in sol:
            assert f.value is None and f.rule.startswith("solicitation.") and 0 < f.confidence < 1
            assert f.span is not None and case.text[f.span[0] : f.span[1]] == f.text
            assert f.to_dict()["value"] is None and f.to_dict()["rules_version"] == detectors.RULES_VERSION


# Ends of runs and keyword edges decided on evidence (examples written here).
EDGES = [
    ("企鹅号码 732657，会", "732657"),
    ("抠抠 942257一进房间就有", "942257"),
    ("口口:31621270商务机应有的稳定", "31621270"),
    ("QQ：391287654CPU很快", "391287654"),
    ("QQ伞酒依耳吧起溜雾死谢谢", "391287654"),
    ("扣扣：⑨九１陆柒散５〇8二返现", "9916735082"),
    ("球球号 ①⑧六散⑦５三贰玖领红包", "186375329"),
    ("加我就391287654", "391287654"),
    ("Q Q：391287654", "391287654"),
    ("2851扣447扣903", "2851447903"),
    ("你好2伞酒依耳吧起溜雾谢谢", "239128765"),
    ("亲，47棋爸久久吧无儿气哦", "4778998527"),
    ("q58i酒i酒i37", "581919137"),
    ("扣·扣 391287654", "391287654"),
]


@pytest.mark.parametrize("text", ["V.X: abc123", "微❤信：abc123", "v x：abc123"])
def test_decorated_wechat_keyword(text: str) -> None:
    assert [(f.type, f.value) for f in detectors.detect_text(text)] == [("wechat", "abc123")]


@pytest.mark.parametrize(("text", "value"), EDGES)
def test_run_edges(text: str, value: str) -> None:
    assert [(f.type, f.value) for f in detectors.detect_text(text)] == [("qq", value)]


# Numbers with a label of their own, next to keywords that must not take them.
LABELLED = [
    "追溯码：19849532043",
    "执行标准5161-607865\n扣扣子金属纽扣",
    "箱号： 1456/5579378",
    "款号 XJ-40215583 QQ星儿童牛奶",
    "QQ飞车点券\n注册证号：4630589545",
    "邮编 200000\n扣扣",
]


@pytest.mark.parametrize("text", LABELLED)
def test_labelled_numbers(text: str) -> None:
    assert detectors.detect_text(text) == []
    assert {"exclude.label", "exclude.context"} & {e.rule for e in detectors.explain(text)}


# Shapes of asking (written here, not from any list quoted in the issue).
SOLICITATIONS = [
    "感兴趣的可以加我微信哦",
    "联系方式：微信",
    "微信：",
    "vx私聊",
    "进群领福利",
    "加个V",
    "+薇",
    "扫一扫加好友",
    "长按识别二维码加我",
    "有事q我",
    "亲，加我威芯领取",
    "私聊秋球",
    "企鹅号是",
    "V信同号",
    "加微信群",
]


@pytest.mark.parametrize("text", SOLICITATIONS)
def test_solicitation(text: str) -> None:
    assert [(f.type, f.value) for f in detectors.detect_text(text)] == [("solicitation", None)]


# Ordinary text that contains a channel word, a verb or a sound-alike and asks nothing.
NOT_SOLICITATIONS = [
    "请使用微信支付，支持花呗分期",
    "关注微信公众号领取会员积分",
    "QQ音乐会员月卡限时优惠",
    "增加群众感兴趣的社会新闻",
    "我稍微我觉得有点大",
    "又扣我运费，差评",
    "他在村里很有威信",
    "为新的一年加油",
    "点点滴滴我都记得",
    "加入购物车立减",
    "扣子掉了一颗，纽扣质量一般",
    "企鹅玩偶很可爱，孩子喜欢",
    "月销2000+ 扣扣子金属纽扣",
    "加厚保温杯 316不锈钢",
    "加威化饼干更香",
    "加卫星天线",
    "加V型支架",
    "Q版公仔",
    "满300扣50",
    "满3000扣500元",
]


@pytest.mark.parametrize("text", NOT_SOLICITATIONS)
def test_not_a_solicitation(text: str) -> None:
    assert detectors.detect_text(text) == []


def test_product_pages_have_no_contact() -> None:
    """Lines, whole pages (joined as OCR rows would be) and pages on one line: nothing is found."""
    alarms = []
    n = 0
    for page in pages(seed=11, n=400):
        for text in [*page, "\n".join(page), " ".join(page)]:
            n += 1
            alarms += [(f.type, f.value, f.rule, text) for f in detectors.detect_text(text)]
    print(f"\nproduct-page texts: {n}, findings: {len(alarms)}")
    assert alarms == []


def _box_line(text: str, x: float, y: float, h: float = 20) -> OcrLine:
    w = 18 * len(text)
    return OcrLine(text, 0.95, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)), 0)


def test_product_pages_as_boxes_have_no_contact() -> None:
    """Labels in a box left of their number, product words on the row above: no keyword lends itself."""
    rng = random.Random(5)
    alarms = []
    for page in pages(seed=12, n=200):
        lines, y = [], 10.0
        for text in page:
            cut = next((k for k, ch in enumerate(text) if ch.isdigit()), -1)
            if 0 < cut and rng.random() < 0.5:
                lines += [_box_line(text[:cut], 10, y), _box_line(text[cut:], 30 + 18 * cut, y + 1)]
            else:
                lines.append(_box_line(text, 10, y))
            y += 30
        alarms += [(f.type, f.value, f.text) for f in detectors.detect_lines(lines)]
    assert alarms == []


def test_grouped_digits_across_two_boxes_and_two_lines() -> None:
    rng = random.Random(9)
    for case in generate(seed=21, per_family=30, families=("grouped",)):
        cut = len(case.text) - rng.randint(2, 4)
        head, tail = case.text[:cut], case.text[cut:]
        side = [_box_line(head, 10, 10), _box_line(tail, 40 + 18 * len(head), 11)]
        below = [_box_line(head, 10, 10), _box_line(tail, 10, 40)]
        for lines in (side, below):
            assert ("qq", case.value) in [(f.type, f.value) for f in detectors.detect_lines(lines)], case


def test_solicitation_flags_an_image_by_policy() -> None:
    (sol,) = detectors.detect_text("扫码加我")
    result = ScanResult(source="x.png", sha256="0" * 64, findings=[sol])
    assert policy.flags(sol) and result.flagged
    assert not replace(result, solicitation_flags=False).flagged  # QQSCAN_SOLICITATION_FLAGS=0
    qq = detectors.detect_text("QQ：391287654")
    assert ScanResult(source="x.png", sha256="0" * 64, findings=[sol, *qq], solicitation_flags=False).flagged
    with pytest.raises(ValueError, match="QQSCAN_SOLICITATION_FLAGS"):
        Settings.load({"QQSCAN_SOLICITATION_FLAGS": "maybe"})["QQSCAN_SOLICITATION_FLAGS"]


def _channel_forms(det: TextDetector) -> Iterator[str]:
    """Every form in which the matcher can see a QQ / WeChat keyword: the listed words and their shape
    variants, the decorated forms of the short ones (V.X, 维 信), each character of every sound pattern
    (with the other positions drawn at random), and each of these written with raw characters that
    normalise to it (綠泡泡, ＷＸ, 維亻言)."""
    km = det.keywords
    rng = random.Random(5)
    preimages: dict[str, list[str]] = {}
    for cp, c in sorted(det.tables.canon.items()):
        preimages.setdefault(c, []).append(chr(cp))
    # A sample of what may stand between a keyword's characters: spaces, punctuation, symbols, emoji, a line.
    decorations = " .·・_*~❤♥★☆✿❀-、…✨☆/\n"
    forms = set(km.channel_words)
    for w in km.channel_words:
        if 2 <= len(w) <= 3 and not any(d in w for d in decorations):
            forms |= {d.join(w) for d in decorations}
    for classes in km.sound_classes:
        pools = [sorted(c) for c in classes]
        for i, pool in enumerate(pools):
            for ch in pool:
                forms.add("".join(ch if k == i else rng.choice(p) for k, p in enumerate(pools)))
    for form in sorted(forms):
        yield form
        yield "".join(rng.choice(preimages.get(ch, [ch])) for ch in form)


def test_prefilter_keeps_every_line_the_matcher_finds() -> None:
    """A line without digits reaches the detectors only through the keyword prefilter: it must pass every
    line on which the detectors, run without it, find something."""
    det = detectors.detector()
    checked = found = 0
    for form in _channel_forms(det):
        for line in (f"{form}：shopabc", f"加我{form}", f"你好，{form}"):
            bypassed = det._detect(line, line.translate(det.tables.canon), True, None)
            assert det.detect(line) == bypassed, (line, bypassed)
            checked += 1
            found += bool(bypassed)
    print(f"\nprefilter: {checked} digit-free lines, {found} with findings, none dropped")
    assert found > checked // 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("W.X: shopabc", [("wechat", "shopabc")]),
        ("维 信：shopabc", [("wechat", "shopabc")]),
        ("加我綠泡泡", [("solicitation", None)]),
        ("你好，維亻言", [("solicitation", None)]),
        ("加我維 信", [("solicitation", None)]),
    ],
)
def test_decorated_or_traditional_keyword_without_digits(text: str, expected: list[tuple[str, None]]) -> None:
    assert [(f.type, f.value) for f in detectors.detect_text(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678 微信：扫码支付", [("phone", "13812345678")]),
        ("391287654 微信： 公众号", []),
        ("13812345678 微信：", [("wechat", "13812345678"), ("phone", "13812345678")]),
    ],
)
def test_wechat_feature_word_after_a_colon_is_no_keyword(text: str, expected: list[tuple[str, str]]) -> None:
    """微信 followed by a not-contact word (支付, 公众号) after any colon and spaces names the feature:
    the same test for numbers, ids and solicitations, however long the word."""
    assert [(f.type, f.value) for f in detectors.detect_text(text)] == expected
