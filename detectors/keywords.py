"""Keyword hits (QQ / WeChat / phone / contact verbs) in the canonical view: by list, by sound, by shape.

- literal: a listed keyword (扣扣, 薇信, QQ号 ...).
- sound:   characters whose pypinyin readings match a keyword's syllables, fuzzily (球球, 秋秋, 扣号, Q球),
           unless the match is a common word of its own in real text (口号, 维新: jieba frequency).
- shape:   a listed keyword with one character swapped for one OCR confuses it with (qg, q0, 抠枢).
A keyword glued to a product or everyday word (QQ音乐, 微信读书, 折扣扣) is not a contact keyword there.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from detectors import words
from detectors.normalize import (
    CLASS_DIGIT,
    CLASS_DISGUISED,
    CLASS_NUMERAL,
    DIGIT_CLASSES,
    Views,
    fuzzy_variants,
    syllable_chars,
    symbol_class,
)

CONTACT_KINDS = ("qq", "qq_group", "wechat")
# A QQ mailbox's domain after its number: the @ as a sign, a bracketed or bare "at", an "a" (ⓐ), 艾特 (its
# sound) or 圈a;
# vip. before qq; the dot as a sign or 点 / dot; c0m for com.
_MAIL_DOMAIN = re.compile(
    r"(?:[@＠#]|[\[(（【{<〔]\s*at?\s*[\])）】}>〕]|(?<![a-z])at|(?<=[0-9\s])a|艾特|圈+a)\s*"
    r"(?:vip\s*(?:[.。·点]|dot)\s*)?(?:qq|foxmail)\s*(?:[.。·点]|dot|[\[(（]dot[\])）])\s*c[o0]m(?![a-z])"
)
# A verb and 我 (撩我, 召唤我) or an English word and me (hit me up): the verb is checked with jieba.
_VERB_ME = re.compile(r"([\u4e00-\u9fff]{1,2})我|(?<![a-z])[a-z]{2,8} me(?: up)?(?![a-z])")
ChannelGate = Callable[[str], bool]
_CJK = re.compile(r"[\u3400-\u9fff]+")
# A written digit; homophones and spoken forms are ordinary characters too.
_WRITTEN_DIGIT = CLASS_DIGIT + CLASS_DISGUISED + CLASS_NUMERAL


@dataclass(frozen=True)
class KeywordHit:
    kind: str  # "qq" | "qq_group" | "wechat" | "phone" | "verb"
    start: int
    end: int
    short: bool  # an ordinary word elsewhere (扣, 微, v): only counts right before the number
    word: str
    how: str = "literal"  # "literal" | "sound" | "shape"
    form: str = ""  # the listed keyword (or syllables) it matched


# A hit that starts this far before a position can still end next to it (the longest decorated keyword).
KEYWORD_REACH = 64


class Hits(list[KeywordHit]):
    """Keyword hits sorted by start, with a lookup of the hits near a position (bisect, not a scan), so a
    text with many keywords and many numbers stays linear."""

    def __init__(self, hits: list[KeywordHit]) -> None:
        super().__init__(sorted(hits, key=lambda h: h.start))
        self._starts = [h.start for h in self]

    def starting_in(self, lo: int, hi: int) -> list[KeywordHit]:
        """Hits whose start is in [lo, hi), in order."""
        return self[bisect_left(self._starts, lo) : bisect_left(self._starts, hi)]


def keyword_extra(text: str, h: KeywordHit) -> dict[str, str]:
    """What a finding says about its keyword: the text, how it matched (literal / sound / shape), the form."""
    return {"keyword": text[h.start : h.end], "keyword_rule": h.how, "keyword_form": h.form}


def alternation(words_: list[str], ascii_bounds: bool = False) -> str:
    """Longest first. With ascii_bounds, a word that starts/ends with an ASCII letter must not touch
    another ASCII letter there (wxid, qqmusic), so 加qq is read as 加 + qq rather than 加q + q."""
    parts = []
    for w in sorted(set(words_), key=len, reverse=True):
        if not w:
            continue
        p = re.escape(w)
        if ascii_bounds and w[0].isascii() and w[0].isalpha():
            p = "(?<![a-z])" + p
        if ascii_bounds and w[-1].isascii() and w[-1].isalpha():
            p += "(?![a-z])"
        parts.append(p)
    return "|".join(parts)


class KeywordMatcher:
    def __init__(self, rules: dict[str, Any]) -> None:
        kw = rules["keywords"]
        d = rules["digits"]
        # word -> (kind, short, how, form). Later entries win for words listed twice: weakest first.
        self._kind_of: dict[str, tuple[str, bool, str, str]] = {}
        shapes: dict[str, list[str]] = {k.lower(): v for k, v in kw.get("ocr_confusions", {}).items()}
        # A solicitation phrase (私我, 扫码加我) ties a number after it as a contact verb does.
        for w in rules.get("solicitation", {}).get("phrases", []):
            self._kind_of[w.lower()] = ("verb", False, "literal", w.lower())
        # Telephone symbols by their Unicode names (☎ ☏ ℡ 📞 📱 🕿 ...) are phone keywords.
        for sym in _telephone_symbols():
            self._kind_of.setdefault(sym, ("phone", False, "symbol", sym))
        for kind, key, short in [
            ("verb", "contact_verbs", False),
            ("phone", "phone", False),
            ("wechat", "wechat_short", True),
            ("wechat", "wechat", False),
            ("qq", "qq_short", True),
            ("qq", "qq", False),
            ("qq_group", "qq_group", False),
        ]:
            for w in kw.get(key, []):
                w = w.lower()
                self._kind_of[w] = (kind, short, "literal", w)
                if kind in CONTACT_KINDS and not short and len(w) >= 2:
                    for variant in _shape_variants(w, shapes):
                        if variant not in self._kind_of:
                            self._kind_of[variant] = (kind, False, "shape", w)
        # Contact keywords of two or three characters may carry one or two decorations between them (V.X,
        # Q Q, 微❤信, 扣-扣, 企✨鹅): any punctuation, symbol or space but sentence punctuation.
        # A line break counts too: vertical text read one character per line (企\n鹅).
        self._decor = re.compile(f"(?:{symbol_class()}|\n){{1,2}}")
        self._literal = re.compile(self.keyword_pattern(list(self._kind_of)))
        sounds = _sound_patterns(kw, d)
        self._pinyin = [(kind, rx) for kind, rx, _ in sounds]
        # Per sound pattern, the characters each of its positions accepts.
        self.sound_classes = [classes for _, _, classes in sounds]
        self.sound_max_freq = int(kw.get("sound_max_word_freq", 100))
        self.product_words = tuple(w.lower() for w in kw.get("product_words", []))
        self.product_min_freq = int(kw.get("product_min_freq", 30))
        self.followers = tuple(w.lower() for w in kw.get("keyword_followers", []))
        self._long_followers = tuple(f for f in self.followers if len(f) > 1)
        self.preceding_min_freq = int(kw.get("preceding_min_freq", 200))
        self.asking = {w.lower() for w in rules.get("solicitation", {}).get("asking_keywords", [])}
        self.letter_words = tuple(w.lower() for w in kw.get("letter_words", []))
        self._not_contact_wechat = re.compile(alternation(kw.get("wechat_not_contact", [])) or "(?!)")
        # All sound patterns in one, without the ASCII bounds (those keep the engine off its fast path).
        bare = [rx.pattern.replace("(?<![a-z])", "").replace("(?![a-z])", "") for _, rx in self._pinyin]
        self._sound_any = re.compile("|".join(bare) or "(?!)")
        # Words a line without a digit run needs to be read: channels (ids, solicitations, numbers in
        # disguise after them) and phone keywords (a mobile in disguise after 电话).
        self.channel_words = [
            w for w, (k, _, _, _) in self._kind_of.items() if k in (*CONTACT_KINDS, "phone")
        ]
        # Parts of QQ keywords: the characters of the listed ones (扣 企 鹅) and those read like them (球 秋).
        parts = {c for w in kw.get("qq", []) if len(w) >= 2 for c in w if _CJK.fullmatch(c)}
        parts |= {
            c for classes in self.sound_classes[:1] for pos in classes for c in pos if _CJK.fullmatch(c)
        }
        self._part_label = re.compile(f"{charset(parts)}(?:账号|帐号|号码|号)")

    def keyword_pattern(self, words_: list[str]) -> str:
        """The regex `_literal` is made of, for any subset of the listed words: each word, and contact
        keywords of two or three characters also with a decoration between their characters."""
        # The lookahead on first characters lets the regex engine skip most positions in C.
        firsts = charset({w[0] for w in words_ if w})
        # The spaced forms come first so 微❤信 is read whole rather than as 微❤ + 信.
        spaced = [
            w
            for w in words_
            if w in self._kind_of
            and self._kind_of[w][0] in CONTACT_KINDS
            and not self._kind_of[w][1]
            and 2 <= len(w) <= 3
            and not self._decor.search(w)
        ]
        sep = self._decor.pattern
        spaced_rx = "|".join(
            ("(?<![a-z])" if w[0].isascii() and w[0].isalpha() else "")
            + sep.join(re.escape(c) for c in w)
            + ("(?![a-z])" if w[-1].isascii() and w[-1].isalpha() else "")
            for w in sorted(spaced, key=len, reverse=True)
        )
        literal = alternation(words_, ascii_bounds=True)
        return f"(?={firsts})(?:{spaced_rx + '|' if spaced_rx else ''}{literal})"

    def channel_prefilter(self, phrases: list[str], canon: dict[int, str]) -> tuple[ChannelGate, ChannelGate]:
        """Tests for a line without digits, which yields findings only through a QQ / WeChat keyword or a
        solicitation phrase: (on the raw text, on the canonical text). The second accepts every line in
        which `find` can hit a channel keyword (the same pattern as `_literal`, restricted to channel words,
        and the sound patterns) or a phrase occurs; the first is cheaper and accepts every raw text whose
        canonical text the second accepts: the first characters of those words and phrases and the sound
        patterns' characters, each also in every form `canon` maps to it (ＱＱ, 綠, 維)."""
        words_ = self.channel_words + [p for p in phrases if p]
        on_canon = re.compile(f"{self.keyword_pattern(words_)}|{self._sound_any.pattern}")
        preimages: dict[str, set[str]] = {}
        for cp, c in canon.items():
            preimages.setdefault(c, set()).add(chr(cp))

        def raw(chars: set[str]) -> str:
            return charset(chars | {r for c in chars for r in preimages.get(c, ())})

        firsts = re.compile(raw({w[0] for w in words_}))
        sound_raw = re.compile("|".join("".join(raw(c) for c in cs) for cs in self.sound_classes) or "(?!)")

        def on_raw(text: str) -> bool:
            return firsts.search(text) is not None or sound_raw.search(text) is not None

        return on_raw, lambda text: on_canon.search(text) is not None

    def find(self, v: Views, verbs: bool = True) -> Hits:
        """Keyword hits in the text; `verbs`: also the verb + 我 contact verbs (needed only where a number
        may follow)."""
        canon = v.canon
        hits: list[KeywordHit] = []
        pos = 0
        while (m := self._literal.search(canon, pos)) is not None:
            s, e = m.span()
            # 加薇信, 加v❤: a listed word (加薇) whose tail starts a longer keyword (薇信) is two words.
            for k in range(s + 1, e):
                m2 = self._literal.match(canon, k)
                if m2 is not None and m2.end() > e and self._key(canon[s:k]) in self._kind_of:
                    hits.append(self._hit(canon[s:k], s, k))
                    s, e = m2.span()
                    break
            pos = e
            hit = self._hit(canon[s:e], s, e)
            if (hit.short or hit.how == "shape") and hit.word.isascii() and _after_digit(v.cls, s):
                continue  # 87q56, 2770Gq: look-alike digits, not the keyword q (a keyword leads its number)
            hits.append(hit)
        for kind, rx in self._pinyin:
            for m in rx.finditer(canon):
                s, e = m.span()
                covered = [h for h in hits if h.start < e and h.end > s]
                if any(not h.short or h.start < s or h.end > e for h in covered):
                    continue
                # A longer sound form wins over a short keyword inside it (扣号 over 扣).
                hits = [h for h in hits if h not in covered]
                # Inside a run of digit homophones (起饿 = 7 2) it is digits, not a keyword.
                if s > 0 and v.cls[s - 1] in DIGIT_CLASSES and v.cls[s] in DIGIT_CLASSES:
                    continue
                if self.is_word(m.group()):
                    continue  # 口号, 维新: a word of its own
                hits.append(KeywordHit(kind, s, e, False, m.group(), "sound", m.group()))
        # 蔻账号 is one keyword, not the short keyword 蔻 and a label; @qq.com one, not @ and qq; add me one,
        # not add and me.
        wholes = self._part_labels(canon, hits) + self._mail_domains(canon)
        if verbs:
            wholes += self._verbs_me(canon, hits)
        if wholes:
            hits = [
                h for h in hits if not any(w.start <= h.start and h.end <= w.end for w in wholes)
            ] + wholes
        return Hits([h for h in hits if h.how == "mail" or not self.in_word(h, canon)])

    def _mail_domains(self, canon: str) -> list[KeywordHit]:
        """A QQ mail domain after a number makes the number a QQ number (391287654@qq.com, 【at】vip.qq点com,
        #foxmail.com): the @ written any way, the dot too."""
        return [
            KeywordHit("qq", m.start(), m.end(), False, m.group(), "mail", m.group())
            for m in _MAIL_DOMAIN.finditer(canon)
        ]

    def _verbs_me(self, canon: str, hits: list[KeywordHit]) -> list[KeywordHit]:
        """Any verb with 我 / me after it is a contact verb (撩我, 召唤我, 敲我, hit me up, msg me): jieba's
        part of speech for the one or two characters before 我, the shape `word me` for English."""
        out = []
        for m in _VERB_ME.finditer(canon):
            e = m.end()
            if m.group(1):
                me = m.start(1) + len(m.group(1))
                s = next((me - n for n in (2, 1) if me - n >= m.start() and _is_verb(canon[me - n : me])), -1)
                if s < 0:
                    continue
            else:
                s = m.start()
            inside = [h for h in hits if h.start < e and s < h.end]
            if any(h.start < s or h.end > e or h.kind != "verb" for h in inside):
                continue  # part of a longer keyword, or a channel keyword with 我 after it (扣扣我)
            out.append(KeywordHit("verb", s, e, False, canon[s:e], "verb_me", canon[s:e]))
        return out

    def _part_labels(self, canon: str, hits: list[KeywordHit]) -> list[KeywordHit]:
        """A distinctive part or sound of a QQ keyword + 号 / 号码 / 账号 is a QQ keyword (鹅号, 企号码,
        秋账号), unless the two make a common word (口号)."""
        out = []
        for m in self._part_label.finditer(canon):
            s, e = m.span()
            inside = [h for h in hits if h.start < e and s < h.end]
            if self.is_word(canon[s : s + 2]) or any(not h.short or h.start < s or h.end > e for h in inside):
                continue
            out.append(KeywordHit("qq", s, e, False, m.group(), "part", m.group()))
        return out

    def _key(self, word: str) -> str:
        """The listed form of a matched keyword: decorations dropped unless the word itself has them (微❤)."""
        return word if word in self._kind_of else self._decor.sub("", word)

    def _hit(self, word: str, s: int, e: int) -> KeywordHit:
        kind, short, how, form = self._kind_of[self._key(word)]
        return KeywordHit(kind, s, e, short, word, how, form)

    def not_contact_after(self, canon: str, end: int) -> bool:
        """The WeChat keyword ending at `end` names a feature, not an account: a not-contact word follows it,
        after an optional colon (微信支付, 微信：公众号, 微信 扫码支付)."""
        return self._not_contact_wechat.match(canon, after_colon(canon, end)) is not None

    def is_word(self, text: str) -> bool:
        """`text` is a common word of its own (sound_max_word_freq): 口号, 维新 are no keyword in disguise."""
        return words.freq(text) >= self.sound_max_freq

    def starts_inside_word(self, canon: str, s: int) -> bool:
        """The CJK character at `s` ends a word begun before it (preceding_min_freq): 增加群众, 点点滴滴我."""
        return (
            s > 0
            and _CJK.match(canon, s - 1) is not None
            and _CJK.match(canon, s) is not None
            and words.freq(canon[s - 1 : s + 1]) >= self.preceding_min_freq
        )

    def in_word(self, h: KeywordHit, canon: str) -> bool:
        """The keyword is part of a product or everyday word here (QQ音乐, 微信读书, 折扣扣, 微博)."""
        if h.kind not in CONTACT_KINDS:
            return False
        # 增加群众, 折扣扣: the first character ends a word before it, or the last one starts a word after it.
        if self.starts_inside_word(canon, h.start):
            return True
        if _CJK.match(canon, h.end - 1) and _CJK.match(canon, h.end) and len(h.word) > 1:
            tail = canon[h.end - 1 : h.end + 1]
            if (
                words.freq(tail) >= self.preceding_min_freq
                and words.is_noun(tail)
                and tail not in self.followers
                and not canon.startswith(self.followers, h.end)
            ):
                return True  # a noun (扣子, 群众); not 企鹅号码, 口口号: 号 follows a keyword as its joiner
        if canon.startswith(self.letter_words, h.end - 1) or canon.startswith(self.letter_words, h.start):
            return True  # V型, Q版: an everyday word made with the keyword's letter
        after = canon[h.end : h.end + 6]
        if after[:1] in (" ", "\n") and not h.short:
            after = after[1:]  # OCR boxes side by side or one above the other: "QQ 音乐", "QQ\n音乐"
        if after.startswith(self.product_words):
            return not after.startswith(self._long_followers)
        m = _CJK.match(after)
        if m is not None and len(m.group()) >= 2:
            word = words.longest_word(m.group(), self.product_min_freq)
            if word is not None and not word.startswith(self.followers) and words.is_noun(word):
                return True  # a noun after the keyword names a product (QQ游戏); 优惠 / 了解 do not
        last = canon[h.end - 1]
        if m is not None and (h.short or h.word in self.asking) and words.freq(last + m.group()[:1]) > 0:
            return True  # 微博, 扣子, 加威化: a short keyword that starts a dictionary word is that word
        return False


def _telephone_symbols() -> list[str]:
    """Symbols whose Unicode name says telephone or mobile phone, but for the ones that say it is not."""
    out = []
    for cp in [*range(0x2100, 0x2800), *range(0x1F300, 0x1F700)]:
        name = unicodedata.name(chr(cp), "")
        if ("TELEPHONE" in name or "MOBILE PHONE" in name) and not any(
            w in name for w in ("NO ", "OFF", "RECORDER")
        ):
            out.append(chr(cp))
    return out


def _is_verb(word: str) -> bool:
    return words.tag(word).startswith("v")


def after_colon(canon: str, end: int) -> int:
    """The position after the spaces and colons that start at `end`."""
    while end < len(canon) and canon[end] in " :：":
        end += 1
    return end


def _sound_patterns(
    kw: dict[str, Any], d: dict[str, Any]
) -> list[tuple[str, re.Pattern[str], list[set[str]]]]:
    """(kind, regex, classes) per syllable sequence in qq_pinyin / wechat_pinyin: each syllable becomes the
    class of characters pypinyin reads that way (fuzzy initials, in/ing and an/ang finals), plus letters
    read so."""
    letter_sounds: dict[str, str] = kw.get("letter_sounds", {})
    fi, ff = d["fuzzy_initials"], [p for p in d["fuzzy_finals"] if p[0] in ("in", "ing", "an", "ang")]
    out: list[tuple[str, re.Pattern[str], list[set[str]]]] = []
    for kind, key in [("qq", "qq_pinyin"), ("wechat", "wechat_pinyin")]:
        for seq in kw.get(key, []):
            classes: list[set[str]] = []
            for alts in seq:
                chars: set[str] = set()
                for syl in alts.split("|"):
                    for variant in fuzzy_variants(syl, fi, ff):
                        chars |= syllable_chars(variant)
                    chars |= {letter for letter, s in letter_sounds.items() if s == syl or letter == syl}
                # Rare characters outside the BMP are left out: one of them in a class makes the regex
                # engine test every character of the class one by one.
                classes.append({c for c in chars if ord(c) < 0x10000})
            rx = "".join(charset(c) for c in classes)
            out.append((kind, re.compile("(?<![a-z])" + rx + "(?![a-z])"), classes))
    return out


def _after_digit(cls: str, s: int) -> bool:
    return s > 0 and cls[s - 1] in _WRITTEN_DIGIT


def charset(chars: set[str]) -> str:
    """A regex character class; characters outside the BMP become one range (keeps the class fast)."""
    bmp = "".join(sorted(re.escape(c) for c in chars if ord(c) < 0x10000))
    astral = "\U00010000-\U0010ffff" if any(ord(c) >= 0x10000 for c in chars) else ""
    return f"[{bmp}{astral}]"


def _shape_variants(word: str, shapes: dict[str, list[str]]) -> set[str]:
    """The word with one character replaced by a shape OCR confuses it with; a digit never leads (9q)."""
    out = set()
    for i, ch in enumerate(word):
        for alt in shapes.get(ch, []):
            if i == 0 and alt[0].isdigit():
                continue
            out.add(word[:i] + alt.lower() + word[i + 1 :])
    return out
