"""detect_text: every disguise family yields the exact digits; every exclusion holds and says why.

Vocabulary cases (扣扣/企鹅/🐧, 薇信/维亻言/加卫星/绿泡泡, 叁玖壹, ③⑨①, 伞酒依, 洞幺两拐勾, 136****1234,
QQ10元礼券) are re-expressed from public moderation dictionaries' evasion vocabulary; the numbers are made
up here.
"""

from __future__ import annotations

import pytest

import detectors
from detectors.base import Finding

QQ = "391287654"
MOBILE = "13812345678"


def _id_number(body17: str) -> str:
    """A resident ID with its real check digit (GB 11643), computed here independently of phone.py."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


ID18 = _id_number("11010519491231001")  # check digit 6
ID18X = _id_number("11010519491231002")  # check digit X

POSITIVES: list[tuple[str, str, str, str]] = [
    # (family, text, type, value)
    ("keyword", f"QQ：{QQ}", "qq", QQ),
    ("keyword full-width", "ＱＱ：３９１２８７６５４", "qq", QQ),
    ("keyword lower", f"联系我呗qq{QQ}", "qq", QQ),
    ("keyword 扣扣", f"扣扣 {QQ}", "qq", QQ),
    ("keyword 抠抠", f"抠抠{QQ}", "qq", QQ),
    ("keyword 蔻蔻", f"蔻蔻：{QQ}", "qq", QQ),
    ("keyword 企鹅号", f"企鹅号：{QQ}", "qq", QQ),
    ("keyword 企鹅", f"企鹅 {QQ}", "qq", QQ),
    ("keyword Q号", f"Q号{QQ}", "qq", QQ),
    ("keyword 加Q", f"加Q {QQ}", "qq", QQ),
    ("keyword 加qq", f"要的加qq {QQ}", "qq", QQ),
    ("keyword penguin", f"🐧{QQ}", "qq", QQ),
    ("keyword pinyin 口口", f"口口：{QQ}", "qq", QQ),
    ("keyword pinyin 叩叩", f"叩叩{QQ}", "qq", QQ),
    ("keyword short 扣", f"扣 {QQ}", "qq", QQ),
    ("keyword traditional", "扣扣 叄玖壹貳捌柒陸伍肆", "qq", QQ),
    ("keyword after number", f"{QQ}（QQ）", "qq", QQ),
    ("QQ mail address", f"邮箱 {QQ}@qq.com", "qq", QQ),
    ("contact verb 加我", f"有问题加我{QQ}", "qq", QQ),
    ("contact verb 私聊", f"私聊 {QQ}", "qq", QQ),
    ("contact verb traditional", f"聯繫 {QQ}", "qq", QQ),
    ("contact verb glued homophone", f"加我就{QQ}", "qq", QQ),
    ("group Q群", "Q群：12345678", "qq", "12345678"),
    ("group 加群", "有问题的可以加群8757013咨询", "qq", "8757013"),
    ("formal numerals + keyword", "QQ：叁玖壹贰捌柒陆伍肆", "qq", QQ),
    ("formal numerals", "叁玖壹贰捌柒陆伍肆", "qq", QQ),
    ("chinese numerals", "三九一二八七六五四", "qq", QQ),
    ("mixed numerals", "QQ:3九1二8七6五4", "qq", QQ),
    ("circled", "③⑨①②⑧⑦⑥⑤④", "qq", QQ),
    ("negative circled", "❸❾❶❷❽❼❻❺❹", "qq", QQ),
    ("parenthesised", "⑶⑼⑴⑵⑻⑺⑹⑸⑷", "qq", QQ),
    ("full stop digits", "⒊⒐⒈⒉⒏⒎⒍⒌⒋", "qq", QQ),
    ("keycap", "3️⃣9️⃣1️⃣2️⃣8️⃣7️⃣6️⃣5️⃣4️⃣", "qq", QQ),
    ("mathematical", "𝟑𝟗𝟏𝟐𝟖𝟕𝟔𝟓𝟒", "qq", QQ),
    ("homophones", "伞酒依耳吧起溜雾死", "qq", QQ),
    ("homophones + keyword", "QQ 伞酒依耳吧起溜雾死", "qq", QQ),
    ("homophones fuzzy s/sh", "扣扣 山久衣二八七六五四", "qq", QQ),
    ("look-alike letters", "QQ：39l287654", "qq", QQ),
    ("look-alike O", "QQ：39128765O", "qq", "391287650"),
    ("look-alike I", "QQ:I39128765", "qq", "139128765"),
    ("spoken forms + keyword", "扣扣 幺两拐勾洞幺两拐勾", "qq", "127901279"),
    ("spoken forms", "幺两拐勾洞幺两拐勾", "qq", "127901279"),
    ("homophones after verb", "加我：伞酒依耳吧起溜雾死", "qq", QQ),
    ("groups of digits", "QQ:3912 8765 4", "qq", QQ),
    ("separators spaces", "QQ: 391 287 654", "qq", QQ),
    ("separators dashes", "QQ: 391-287-654", "qq", QQ),
    ("separators dots", "QQ: 391.287.654", "qq", QQ),
    ("separators slashes", "QQ: 3/9/1/2/8/7/6/5/4", "qq", QQ),
    ("separators hearts", "QQ: 3❤9❤1❤2❤8❤7❤6❤5❤4", "qq", QQ),
    ("separators emoji", "QQ: 3🌸9🌸1🌸2🌸8🌸7🌸6🌸5🌸4", "qq", QQ),
    ("mobile plain", MOBILE, "phone", MOBILE),
    ("mobile dashes", "手机：138-1234-5678", "phone", MOBILE),
    ("mobile spaces", "电话 138 1234 5678", "phone", MOBILE),
    ("mobile country code", "+86 138 1234 5678", "phone", MOBILE),
    ("mobile full-width", "１３８１２３４５６７８", "phone", MOBILE),
    ("mobile spoken 幺", "幺三八幺两三四五六七八", "phone", MOBILE),
    ("mobile formal", "壹叁捌壹贰叁肆伍陆柒捌", "phone", MOBILE),
    ("mobile formal + 幺", "幺叁捌幺贰叁肆伍陆柒捌", "phone", MOBILE),
    ("mobile circled", "①③⑧①②③④⑤⑥⑦⑧", "phone", MOBILE),
    ("mobile homophones", "腰散八腰二散四五六七八", "phone", MOBILE),
    ("mobile homophones 2", "幺伞巴幺耳伞死雾溜起吧", "phone", MOBILE),
    ("mobile mixed widths", "1３8 1２34 56７8", "phone", MOBILE),
    ("landline numerals", "零七五五-贰陆陆陆捌捌捌捌", "phone", "0755-26668888"),
    ("landline circled", "⓪⑦⑤⑤-②⑥⑥⑥⑧⑧⑧⑧", "phone", "0755-26668888"),
    ("landline chinese + keyword", "电话：〇七五五 二六六六八八八八", "phone", "0755-26668888"),
    ("mobile next to a number", f"{MOBILE} 7天了", "phone", MOBILE),
    ("mobile glued after ID", ID18 + MOBILE, "phone", MOBILE),
    ("mobile glued before ID", MOBILE + ID18, "phone", MOBILE),
    ("mobile after ID, space", f"{ID18} {MOBILE}", "phone", MOBILE),
    ("mobile glued after ID ending X", ID18X + MOBILE, "phone", MOBILE),
    ("mobile glued before ID ending X", MOBILE + ID18X, "phone", MOBILE),
    ("landline keyword", "电话：010-88886666", "phone", "010-88886666"),
    ("landline extension", "咨询电话：0755-26668888转8001", "phone", "0755-26668888"),
    ("mobile tel +86", "Tel: +86-138-1234-5678", "phone", MOBILE),
    ("mobile phone emoji", f"☎ {MOBILE}", "phone", MOBILE),
    ("mobile 联系方式", f"联系方式：{MOBILE}", "phone", MOBILE),
    ("wechat 加V phone", f"加V：{MOBILE}", "wechat", MOBILE),
    ("wechat english", "wechat: shop2024", "wechat", "shop2024"),
    ("wechat letters only", "微信：shopmall", "wechat", "shopmall"),
    ("wechat letters only, explicit", "vx shopmall", "wechat", "shopmall"),
    ("landline parenthesised", "(0755)26668888", "phone", "0755-26668888"),
    ("landline dash", "0755-26668888", "phone", "0755-26668888"),
    ("landline full-width", "联系电话（０７１７）５４０１２２０", "phone", "0717-5401220"),
    ("wechat id", "微信：abc_12345", "wechat", "abc_12345"),
    ("wechat V信", "V信 abc_12345", "wechat", "abc_12345"),
    ("wechat vx", "vx：shop2024", "wechat", "shop2024"),
    ("wechat wx", "wx: shop2024", "wechat", "shop2024"),
    ("wechat 威信", "威信 shop2024", "wechat", "shop2024"),
    ("wechat 薇信", "薇信：shop2024", "wechat", "shop2024"),
    ("wechat 徽信", "徽信 shop2024", "wechat", "shop2024"),
    ("wechat split 信", "维亻言 shop2024", "wechat", "shop2024"),
    ("wechat 加卫星", "加卫星 shop2024", "wechat", "shop2024"),
    ("wechat 绿泡泡", "绿泡泡：shop2024", "wechat", "shop2024"),
    ("wechat 微❤", "微❤ shop2024", "wechat", "shop2024"),
    ("wechat +v", "+v shop2024", "wechat", "shop2024"),
    ("wechat ➕v", "➕v：shop2024", "wechat", "shop2024"),
    ("wechat 伩", "伩 shop2024", "wechat", "shop2024"),
    ("wechat pinyin 唯心", "唯心：shop2024", "wechat", "shop2024"),
    ("wechat OCR trailing dash", "薇信: shop_abc123-", "wechat", "shop_abc123"),
    ("wechat full-width id", "微信：ｓｈｏｐ２０２４", "wechat", "shop2024"),
    ("wechat phone", f"微信 {MOBILE}", "wechat", MOBILE),
    ("wechat phone 同号", f"微信同号 {MOBILE}", "wechat", MOBILE),
    ("phone given as wechat", f"电话/微信同号 {MOBILE}", "phone", MOBILE),
    ("wechat given as phone", f"电话/微信同号 {MOBILE}", "wechat", MOBILE),
    ("hotline mobile", f"订购热线 {MOBILE}", "phone", MOBILE),
    ("wechat phone disguised", "vx 幺叁捌幺贰叁肆伍陆柒捌", "wechat", MOBILE),
]


@pytest.mark.parametrize(("family", "text", "typ", "value"), POSITIVES, ids=[p[0] for p in POSITIVES])
def test_positive(family: str, text: str, typ: str, value: str) -> None:
    found = detectors.detect_text(text)
    assert (typ, value) in [(f.type, f.value) for f in found], (family, found, detectors.explain(text))
    for f in found:
        # Evidence is the original text at the span, not the normalised form.
        assert f.span is not None and text[f.span[0] : f.span[1]] == f.text
        assert f.box is None and f.frame == 0
        assert 0 < f.confidence <= 1
        assert f.to_dict()["rules_version"] == detectors.RULES_VERSION


def test_id_fixture_is_valid() -> None:
    assert len(ID18) == 18 and ID18[-1].isdigit() and ID18X.endswith("X")


def test_two_contacts_in_one_line() -> None:
    found = detectors.detect_text(f"有意者联系QQ 282369262 我手机{MOBILE}")
    assert {(f.type, f.value) for f in found} == {("qq", "282369262"), ("phone", MOBILE)}


def test_evidence_keeps_disguise_and_keyword() -> None:
    text = "详情加我扣扣：③⑨①②⑧⑦⑥⑤④哦"
    (f,) = detectors.detect_text(text)
    assert f.text == "扣扣：③⑨①②⑧⑦⑥⑤④"
    assert f.value == QQ and f.rule == "qq.keyword" and f.extra["keyword"] == "扣扣"
    assert f.extra.get("disguised") is True


def test_homophones_lower_confidence_than_plain() -> None:
    plain = detectors.detect_text(f"QQ {QQ}")[0]
    homophone = detectors.detect_text("QQ 伞酒依耳吧起溜雾死")[0]
    assert homophone.confidence < plain.confidence


NEGATIVES: list[tuple[str, str | None]] = [
    # (text, exclusion rule that must be reported, or None when no candidate even forms)
    ("QQ音乐", None),
    ("QQ10元礼券", None),
    ("送QQ10元礼券一张", None),
    ("开通QQ会员 15元", None),
    ("客服热线 400-820-8820", "exclude.service_number"),
    ("800-810-8888", "exclude.service_number"),
    ("拨打12306订票", None),
    ("铁路客服95306", None),
    ("投诉请打12315", None),
    ("联系10086", None),
    ("售价￥13800000", "exclude.price"),
    ("¥ 1380000.00", "exclude.price"),
    ("价格：1999999元", "exclude.price"),
    ("原价 12345678.00 现价", "exclude.price"),
    ("订单号：1411592970", "exclude.context"),
    ("订单号 13812345678", "exclude.context"),
    ("174208675是我的订单编号", "exclude.context"),
    ("发票号码：13812345678", "exclude.context"),
    ("快递单号：773012345678901", None),
    ("运单号 SF1234567890123", None),
    ("ISBN：9787111054252", None),
    ("ISBN 978-7-111-05425-2", None),
    ("条形码 6901234567892", None),
    ("型号：ABC13812345678", "exclude.code"),
    ("型号 13812345678", "exclude.context"),
    ("货号：391287654", "exclude.context"),
    ("尺码 391287654", "exclude.context"),
    ("工号 391287654", "exclude.context"),
    ("邮编：100733", "exclude.context"),
    ("邮政编码 518000", "exclude.context"),
    ("2008-06-04 13:37", "exclude.date"),
    ("2024/11/24 09:30", "exclude.date"),
    ("2007-7-11 14:43:34出库", "exclude.date"),
    ("20241124", None),
    ("二〇二四年十一月二十四日", None),
    ("一九九八年新年讲话", None),
    ("容量 5000mAh", None),
    ("13800000mAh", "exclude.unit"),
    ("1380000000g", "exclude.unit"),
    ("1380000000 kg", "exclude.unit"),
    ("192.168.100.200", "exclude.ip"),
    ("服务器 10.123.234.111", "exclude.ip"),
    ("手机号136****1234", None),
    ("136***41234", "exclude.masked"),
    ("13612341234**", "exclude.masked"),
    ("138123456781234567890", "exclude.too_long"),
    ("5555555555", "exclude.repeated"),
    ("一二三四五六七八九十", "exclude.sequence"),
    ("http://example.com/item/391287654.html", "exclude.url"),
    ("3,914,567,890", "exclude.number_list"),
    ("6.673.581.09", "exclude.number_list"),  # 673 > 255: not an IP
    ("１２３９·９０ ３·８４ ２８０１５０４６０９９", None),
    ("分辨率1440*900", None),
    ("微信支付 13812345", None),
    ("微信支付￥128.00", None),
    ("请使用微信支付", None),
    ("关注公众号 shop2024", None),
    ("微信公众号：shop2024", None),
    ("微信 WeChat Pay", None),
    ("威信 prestige", None),
    ("vx加速器 download", None),
    ("手机壳 iPhone 15 Pro Max", None),
    ("就是一起去吧，已经是第三次买了", None),
    ("身份证号：110105194912310021", None),
    # Product-page lines full of numbers that are not contacts.
    ("规格：500g×12袋", None),
    ("生产日期：20241124", None),
    ("生产日期 2024.11.24", None),
    ("6 901234 567892", None),
    ("执行标准：GB/T 20886-2007", None),
    ("生产许可证编号：SC10644010600123", None),
    ("食品生产许可证 SC12345678901234", None),
    ("电话咨询：400-123-4567", "exclude.service_number"),
    ("尺寸：120x60x75cm", None),
    ("已售 1234567 件", None),
    ("批号 20241124001", None),
    ("到手价 129元 原价 259元", None),
    ("5G 手机 12+256GB", None),
    ("型号 SM-G9910", None),
    ("QQ空间 QQ群 QQ音乐 QQ浏览器", None),
    ("加100000积分", "exclude.unit"),
    ("满300再加1000000", "exclude.round"),
    ("加我 20000000", "exclude.round"),
    ("加我 20241124", "exclude.date"),
    ("加送 123456 个赠品", "exclude.unit"),
    ("第1件 第2件 第3件 第4件 第5件", None),
]


@pytest.mark.parametrize(("text", "rule"), NEGATIVES, ids=[n[0] for n in NEGATIVES])
def test_negative(text: str, rule: str | None) -> None:
    found = detectors.detect_text(text)
    assert found == [], found
    if rule is not None:
        rules = [e.rule for e in detectors.explain(text)]
        assert rule in rules, rules


def test_explain_points_at_the_number() -> None:
    text = "订单号：1411592970"
    (e,) = detectors.explain(text)
    assert e.digits == "1411592970" and text[e.span[0] : e.span[1]] == e.text and e.rule == "exclude.context"


def test_exclusion_does_not_hide_the_contact_next_to_it() -> None:
    found = detectors.detect_text(f"订单号1411592970，电话{MOBILE}")
    assert [(f.type, f.value) for f in found] == [("phone", MOBILE)]


def test_finding_type() -> None:
    assert all(isinstance(f, Finding) for f in detectors.detect_text(f"QQ {QQ}"))


@pytest.mark.parametrize("prefix", ["400", "800"])
def test_hotline_prefix_in_disguise_is_a_contact(prefix: str) -> None:
    """400/800 numbers are hotlines when printed to be dialled; spelled in numerals or homophones after a QQ
    keyword they are being hidden (and 10-digit QQ numbers do start with 400/800)."""
    import random

    from fixtures.hard import BANKERS, HOMOPHONES

    rng = random.Random(prefix)
    for _ in range(20):
        value = prefix + "".join(rng.choice("0123456789") for _ in range(7))
        spelled = "".join(rng.choice([BANKERS[int(d)], HOMOPHONES[d][-1]]) for d in value)
        found = detectors.detect_text(f"售后扣扣：{spelled}")
        assert [(f.type, f.value) for f in found] == [("qq", value)], spelled
        assert not [f for f in detectors.detect_text(f"全国服务热线{value}") if f.type in ("qq", "phone")]
