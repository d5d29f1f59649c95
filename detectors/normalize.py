"""Character-level normalisation that never changes length, so every offset points back into the original.

Three views of the same text, built with `str.translate` (fast, one character in -> one character out):
- canon:  NFKC (full-width -> ASCII, 𝐐 -> q), lower case, traditional -> simplified for the characters in
          the rules; used to match keywords and contexts.
- cls:    one class letter per character (see CLASS_*), used to find digit-like runs with regexes.
- value:  the digit each digit-like character stands for (other characters pass through).
Because the mapping is 1:1, a span found in any view is the same span in the original text.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# Class letters. All ASCII is mapped explicitly, so an unmapped (CJK, emoji ...) character can never be
# mistaken for one of these.
CLASS_DIGIT = "D"  # ASCII / full-width digit
CLASS_DISGUISED = "C"  # circled, parenthesised, keycap, mathematical, superscript ... digits
CLASS_NUMERAL = "N"  # 〇一二三 / 零壹贰叁
CLASS_SPOKEN = "S"  # 洞 幺 两 拐 勾
CLASS_HOMOPHONE = "H"  # any character read like a digit (伞 san=3, 酒 jiu=9)
CLASS_LOOKALIKE = "L"  # O l S B ...: digits only when glued to digits and not part of a word
CLASS_SEP = "_"  # separator allowed between two digits
CLASS_LETTER = "a"  # other ASCII letter
CLASS_OTHER = "."  # other ASCII (punctuation that is not a separator)
DIGIT_CLASSES = "DCNSHL"

# Code point ranges where compatibility forms of digits and letters live (scanning all of Unicode at
# import would cost ~1 s for nothing).
_COMPAT_RANGES = [
    (0x00A0, 0x02FF),
    (0x2000, 0x2BFF),
    (0x3000, 0x33FF),
    (0xFE00, 0xFFEF),
    (0x1D400, 0x1D7FF),
    (0x1F100, 0x1F1FF),
]
_SYMBOL_RANGES = [(0x2190, 0x21FF), (0x2300, 0x23FF), (0x25A0, 0x27BF), (0x2B00, 0x2BFF), (0x1F300, 0x1FAFF)]
# Zero-width and emoji modifiers (keycap 3️⃣ = "3" U+FE0F U+20E3): become separators.
_IGNORABLE = "\u200b\u200c\u200d\u2060\ufeff\ufe0f\ufe0e\u20e3"


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x3400 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x3134F


def fuzzy_variants(syllable: str, initials: list[list[str]], finals: list[list[str]]) -> set[str]:
    """All spellings an input-method fuzzy match (s/sh, in/ing, e/er ...) would accept for `syllable`."""
    out = {syllable}
    for a, b in initials:
        for s in list(out):
            for x, y in ((a, b), (b, a)):
                if s.startswith(x) and not (len(y) > len(x) and s.startswith(y)):
                    out.add(y + s[len(x) :])
    for a, b in finals:
        for s in list(out):
            for x, y in ((a, b), (b, a)):
                if s.endswith(x) and not (len(y) > len(x) and s.endswith(y)):
                    out.add(s[: len(s) - len(x)] + y)
    return out


@lru_cache(maxsize=1)
def _main_readings() -> dict[str, str]:
    """CJK character -> its main pypinyin reading without tone (pypinyin's own data, not a hand list).
    Heteronyms are left out: a rare second reading (也 yi) would make an everyday word a digit."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    out: dict[str, str] = {}
    for cp, readings in pinyin_dict.items():
        ch = chr(cp)
        if _is_cjk(ch):
            out[ch] = to_normal(readings.split(",")[0]).replace("ü", "v")
    return out


def syllable_chars(syllable: str) -> set[str]:
    """Characters whose main reading (tone dropped) is `syllable`."""
    return {ch for ch, r in _main_readings().items() if r == syllable}


def digit_readings(rules: dict[str, Any]) -> dict[str, str]:
    """Syllable -> digit for every reading of a digit in the rules and its fuzzy variants (s/sh, in/ing)."""
    d = rules["digits"]
    by_reading: dict[str, str] = {}
    for digit, readings in d["readings"].items():
        for r in readings:
            for v in fuzzy_variants(r, d["fuzzy_initials"], d["fuzzy_finals"]):
                by_reading.setdefault(v, digit)
    return by_reading


def homophone_table(rules: dict[str, Any]) -> dict[str, str]:
    """CJK character -> digit, for every character read (fuzzily) like a digit."""
    by_reading = digit_readings(rules)
    stop = set(rules["digits"].get("homophone_stoplist", []))
    return {ch: by_reading[r] for ch, r in _main_readings().items() if r in by_reading and ch not in stop}


@lru_cache(maxsize=1)
def unicode_digits() -> dict[int, int]:
    """Code point -> digit for every character Unicode gives a whole numeric value 0-9 (②, ❸, ➆, ⒋, ⑷, Ⅷ,
    ⁵, ₇, 𝟡, ٣, 〇, 仨, 弎 ...; Unihan's numeric values for ideographs), fractions left out."""
    out: dict[int, int] = {}
    for cp in range(0x80, sys.maxunicode + 1):
        value = unicodedata.numeric(chr(cp), None)
        if value is not None and value == int(value) and 0 <= value <= 9:
            if "FRACTION" not in unicodedata.name(chr(cp), ""):
                out[cp] = int(value)
    return out


@lru_cache(maxsize=1)
def _glyphs() -> dict[str, dict[str, str]]:
    """detectors/glyphs.json, made by fixtures/glyph_table.py from Unicode's confusables."""
    doc: dict[str, dict[str, str]] = json.loads(Path(__file__).with_name("glyphs.json").read_text("utf-8"))
    return doc


def glyph_digits() -> dict[str, str]:
    """Character -> the digit its glyph passes for."""
    return _glyphs()["digits"]


@lru_cache(maxsize=1)
def letter_forms() -> dict[int, str]:
    """Code point -> the ASCII letter (lower case) it is written for, where NFKC does not say: letters with
    tone marks and accents (ē ì -> e i: pinyin written with tones), enclosed, squared and regional-indicator
    letters by their Unicode names (🅠 🆀 ⒬ 🇶 -> q), and Unicode's confusables of the letters (Cyrillic ԛ е,
    Greek ν ι -> q e v i; glyphs.json)."""
    out: dict[int, str] = {}
    for c, letter in _glyphs()["letters"].items():
        out[ord(c)] = letter
        if len(c.upper()) == 1 and c.upper() != c and not c.upper().isascii():
            out.setdefault(ord(c.upper()), letter)  # the data lists ԛ; Ԛ is its capital
    for lo, hi in ((0xC0, 0x250), (0x1E00, 0x1F00)):
        for cp in range(lo, hi):
            base = unicodedata.normalize("NFD", chr(cp))[0].lower()
            if base.isascii() and base.isalpha():
                out[cp] = base
    named = re.compile(r"(?:LATIN (?:CAPITAL|SMALL) LETTER|REGIONAL INDICATOR SYMBOL LETTER) ([A-Z])$")
    for lo, hi in ((0x2460, 0x2500), (0x1F100, 0x1F200)):
        for cp in range(lo, hi):
            m = named.search(unicodedata.name(chr(cp), ""))
            if m:
                out[cp] = m.group(1).lower()
    return out


@lru_cache(maxsize=1)
def traditional_to_simplified() -> dict[str, str]:
    """Traditional CJK character -> its simplified form, for every character OpenCC's t2s converts to one
    other character (one call over the CJK blocks of the BMP, line by line so no phrase rule applies)."""
    import opencc

    chars = [chr(cp) for cp in range(0x3400, 0xFB00) if _is_cjk(chr(cp))]
    out = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    return {a: b for a, b in zip(chars, out, strict=True) if a != b and len(b) == 1}


# Sentence punctuation ends a phrase: never a decoration inside a keyword or a joiner after one.
SENTENCE_END = "，。；！？,;!?\n"


@lru_cache(maxsize=4)
def symbol_class(exclude: str = SENTENCE_END) -> str:
    """A regex character class of every punctuation, symbol and space character (Unicode categories P*, S*,
    Zs; emoji and arrows included) except `exclude`: what sellers put between a keyword's characters
    (扣-扣, 企✨鹅) and between a keyword and its number (QQ☛, 扣➡, 企鹅号⇒)."""
    chars = [
        chr(cp)
        for lo, hi in ((0x21, 0x3400), (0xA000, 0x10000), (0x1F000, 0x1FB00))
        for cp in range(lo, hi)
        if unicodedata.category(chr(cp))[0] in "PSZ" and chr(cp) not in exclude and not _is_cjk(chr(cp))
    ]
    chars += [" ", "\t", *_IGNORABLE]
    ranges: list[str] = []
    for cp in sorted({ord(c) for c in chars}):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    parts = (re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return "[" + "".join(parts) + "]"


@dataclass(frozen=True)
class Tables:
    canon: dict[int, str]
    cls: dict[int, str]
    value: dict[int, str]


def build_tables(rules: dict[str, Any]) -> Tables:
    canon: dict[int, str] = {}
    cls: dict[int, str] = {}
    value: dict[int, str] = {}
    d = rules["digits"]
    seps = set(d["separators"]) | set(_IGNORABLE) | {"\u3000"}

    # ASCII first: every ASCII character gets a class, so class letters cannot collide with text.
    for cp in range(128):
        ch = chr(cp)
        canon[cp] = ch.lower()
        if ch.isdigit():
            cls[cp] = CLASS_DIGIT
        elif ch.isalpha():
            cls[cp] = CLASS_LETTER
        elif ch in seps:
            cls[cp] = CLASS_SEP
        else:
            cls[cp] = CLASS_OTHER
    # Compatibility forms: full-width, circled, math ... -> canonical ASCII where NFKC gives one char.
    for lo, hi in _COMPAT_RANGES:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            dig = unicodedata.digit(ch, None)
            if dig is not None:
                canon[cp] = str(dig)
                value[cp] = str(dig)
                cls[cp] = CLASS_DIGIT if 0xFF10 <= cp <= 0xFF19 else CLASS_DISGUISED
                continue
            nf = unicodedata.normalize("NFKC", ch)
            if len(nf) == 1 and nf != ch and len(nf.lower()) == 1:
                canon[cp] = nf.lower()
                if ord(nf) < 128:
                    cls[cp] = cls[ord(nf)]
    # Letters in other dress (ē, 🅠, Cyrillic ԛ) read as the letter in keywords and ids: canon only.
    for cp, letter in letter_forms().items():
        if cp not in canon or not canon[cp].isascii():
            canon[cp] = letter
    # Emoji and pictographic symbols between digits are decoration (3❤9🌸1): separators.
    for lo, hi in _SYMBOL_RANGES:
        for cp in range(lo, hi + 1):
            if cp not in cls and unicodedata.category(chr(cp)) in ("So", "Sm", "Sk"):
                cls[cp] = CLASS_SEP
    for ch in seps:
        cls[ord(ch)] = CLASS_SEP
        canon.setdefault(ord(ch), " " if ch in _IGNORABLE else ch)
    for ch in _IGNORABLE:
        canon[ord(ch)] = " "
    # Every other character Unicode gives a digit value (Ⅷ, ⁵, ٣, 𝟡 ...) is a digit in disguise.
    unihan: dict[str, str] = {}
    for cp, dig in unicode_digits().items():
        if _is_cjk(chr(cp)):
            unihan[chr(cp)] = str(dig)
        elif cp not in value:
            canon[cp] = value[cp] = str(dig)
            cls[cp] = CLASS_DISGUISED
    # Traditional -> simplified: OpenCC for every character, the rules' own table on top.
    t2s = traditional_to_simplified() | rules["normalize"].get("traditional", {})
    for trad, simp in t2s.items():
        canon[ord(trad)] = simp

    # Digit-like CJK characters, weakest first so stronger classes overwrite. Ideographs with a Unihan
    # digit value beyond the rules' numerals (仨, 弎, 参) are spoken forms: weak unless in a run.
    tables = [
        (homophone_table(rules), CLASS_HOMOPHONE),
        (unihan, CLASS_SPOKEN),
        (d["spoken"], CLASS_SPOKEN),
        (d["numerals"], CLASS_NUMERAL),
    ]
    trad_of: dict[str, list[str]] = {}
    for trad, simp in t2s.items():
        trad_of.setdefault(simp, []).append(trad)
    for table, klass in tables:
        for ch, dig in table.items():
            for c in [ch, *trad_of.get(ch, [])]:
                cls[ord(c)] = klass
                value[ord(c)] = dig
    # Look-alikes are case-sensitive (B is 8, b is 6); full-width forms (Ｏ, ｌ) follow their ASCII form.
    lookalike = d["lookalike"]
    for ch, dig in lookalike.items():
        cls[ord(ch)] = CLASS_LOOKALIKE
        value[ord(ch)] = dig
    # Unicode's confusables of digits and of those letters (Cyrillic З б О, Greek Ο Ι, ℓ ...): glyphs.json.
    for ch, dig in glyph_digits().items():
        if ord(ch) not in cls:
            cls[ord(ch)] = CLASS_LOOKALIKE
            value[ord(ch)] = dig
    for lo, hi in _COMPAT_RANGES:
        for cp in range(lo, hi + 1):
            nf = unicodedata.normalize("NFKC", chr(cp))
            if cp not in value and nf in lookalike:
                cls[cp] = CLASS_LOOKALIKE
                value[cp] = lookalike[nf]
    for cp in range(10):
        value[ord(str(cp))] = str(cp)
    return Tables(canon=canon, cls=cls, value=value)


@dataclass(frozen=True)
class Views:
    """The three same-length views of one text."""

    text: str
    canon: str
    cls: str
    value: str


def views(text: str, tables: Tables) -> Views:
    return Views(text, text.translate(tables.canon), text.translate(tables.cls), text.translate(tables.value))
