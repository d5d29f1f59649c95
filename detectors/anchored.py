"""After a strong contact keyword, the next span is read whatever it is made of.

A keyword anchor licenses aggressive decoding (#17): sellers write the number right after 扣扣： or 电话☞ in
look-alike letters only (lOZSbBg), homophones only, homophones an ordinary reading excludes (时 是 以), digits
with filler characters between them (3哈9哈1, ⑤唷⑤唷⑥), symbols OCR reads as × or ＊ between digits, or all of
these at once. Without a keyword the engine's precision rules stand; here the keyword is the evidence, and a
reading is kept only when it yields a number of the keyword's kind and most of the span decodes.

Reading, left to right from the keyword (past its joiners):
- a digit is any character the tables give a digit (ASCII, disguised, numerals, spoken forms, homophones,
  look-alike letters) or a homophone the stop-list keeps out of ordinary text;
- a separator is any punctuation, symbol, emoji or space but sentence punctuation;
- a filler is one character that is no digit (or a homophone between two firmer digits: 7吧9), or a run of one
  character repeated (么么), standing between two digits;
- anything else ends the span: two different non-digits in a row (a word), sentence punctuation, a letter
  block that is not all look-alikes, a digit group glued to a unit (24小时), or a group after a separator that
  starts a dictionary word (391287654 一流服务).
The span's digit groups are then read as the longest prefix that makes a number of the keyword's kind.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from detectors import phone as ph
from detectors import words
from detectors.normalize import (
    CLASS_DIGIT,
    CLASS_HOMOPHONE,
    CLASS_LOOKALIKE,
    CLASS_NUMERAL,
    DIGIT_CLASSES,
    SENTENCE_END,
    Views,
    _main_readings,
    digit_readings,
    symbol_class,
)
from detectors.runs import FIRM, TRIMMABLE, Candidate, EdgeDrop, enumerator

_MAX_SPAN = 96  # characters read after a keyword: 11 digits with fillers and separators fit many times
_FIRM = FIRM + CLASS_LOOKALIKE  # digits that are not homophones
EVERYDAY = "h"  # class letter of a stop-listed homophone read as a digit after a keyword
_COUNTING = CLASS_DIGIT + CLASS_NUMERAL  # the ways quantities are written (24小时, 七天)


@dataclass(frozen=True)
class Decoded:
    """A number read after a keyword (its digits, positions and how each was written) and how many filler
    characters stood between its digits."""

    number: Candidate
    fillers: int


Group = list[tuple[int, str, str]]  # (position, digit, class letter) of consecutive digits


@dataclass(frozen=True)
class Span:
    """What follows a keyword, read as digit groups, with the positions of the fillers between them."""

    groups: list[Group]
    fillers: list[int]


class AnchoredReader:
    def __init__(self, rules: dict[str, Any]) -> None:
        by_reading = digit_readings(rules)
        readings = _main_readings()
        # Homophones the ordinary tables leave out because they are everyday words (时 是 以 上): after a
        # keyword they are digits too.
        self.extra = {
            ch: by_reading[readings[ch]]
            for ch in rules["digits"].get("homophone_stoplist", [])
            if readings.get(ch) in by_reading
        }
        units = {u.lower() for u in rules["exclude"]["units"]}
        # str.startswith takes a tuple: one call per position instead of a loop over the units.
        self.units = tuple(units)
        self.long_units = tuple(u for u in units if len(u) >= 2)
        self.word_freq = int(rules["qq"].get("edge_word_min_freq", 50))
        self._sep = re.compile(symbol_class())

    def read(self, v: Views, start: int) -> Span:
        """The span starting at `start` (v.cls: the tables' classes, before look-alikes are judged)."""
        groups: list[Group] = [[]]
        fillers: list[int] = []
        text, canon = v.text, v.canon
        n = min(len(text), start + _MAX_SPAN)
        i = start
        broken = False  # a separator or filler since the last digit
        while i < n:
            word_end = self._short_word(v, i, n)
            if word_end is not None:
                if groups[0]:
                    break  # 391287654 is ...: a word after the number ends it
                i = word_end  # QQ is 391287654: a short word before the number is not its digits
                continue
            digit = self._digit(v, i)
            counted = groups[-1] and not broken and groups[-1][-1][2] in _COUNTING
            if (
                digit is not None
                and digit[1] in (CLASS_HOMOPHONE, EVERYDAY)
                and counted
                and self._unit_at(canon, i)
            ):
                break  # 4期免息: the homophone is the unit a plain number counts in
            if digit is not None and not self._filler_homophone(v, i, groups[-1], n):
                if not groups[0] and digit[1] in (CLASS_HOMOPHONE, EVERYDAY) and self._word_at(canon, i):
                    break  # 扣扣领袖: the keyword is followed by a word, not a number
                if groups[-1] and broken:
                    if self._starts_word(canon, i, groups[-1]) or self._numbers_item(canon, i):
                        break
                    groups.append([])
                elif groups[-1] and (groups[-1][-1][2] == CLASS_DIGIT) != (digit[1] == CLASS_DIGIT):
                    groups.append([])  # plain digits after disguised ones start a group (...伍24小时)
                groups[-1].append((i, *digit))
                broken = False
                i += 1
                continue
            if not groups[0]:
                break
            ch = text[i]
            if unicodedata.category(ch) == "Sc":
                break  # ¥441.99: a price starts
            if digit is None and (self._sep.fullmatch(ch) or ch == "\n"):
                broken = True
                i += 1
                continue
            if (ch.isascii() and ch.isalpha()) or ch in SENTENCE_END:
                break  # a letter block that is not all look-alikes is a word; a sentence ends
            # One filler character, or one repeated (么么), between two digits and glued to the one before
            # (3哈9哈1; not 390713\n满293减10, where text resumes on the next line).
            if broken:
                break
            j = i
            while j < n and text[j] == ch:
                j += 1
            if (
                j >= n
                or self._unit_at(canon, i)
                or (self._digit(v, j) is None and not self._sep.fullmatch(text[j]))
            ):
                break
            fillers.append(i)  # a repeated filler (么么, 丨丨丨) counts once
            broken = True
            i = j
        if not groups[-1]:
            groups.pop()
        # A group of plain digits or numerals glued to a unit counts something (24小时, 七天): it is not the
        # number's. Circled and other disguised digits do not count things (⑦秒回).
        # Glued to disguised digits with no separator the digits are the number's own (...①４秒回), unless
        # two or more stand before a unit of two or more characters: a count OCR ran into the number
        # (...伍24小时).
        last = groups[-1] if groups else []
        glued = len(groups) > 1 and last[0][0] == groups[-2][-1][0] + 1
        unit = self._unit_at(canon, last[-1][0] + 1, long=glued) if last else False
        if (
            len(groups) > 1
            and all(c in _COUNTING for _, _, c in last)
            and (len(last) >= 2 or not glued)
            and unit
        ):
            groups.pop()
        return Span(groups, fillers)

    def _short_word(self, v: Views, i: int, n: int) -> int | None:
        """The end of a short Latin word starting at i that stands apart from digits (is, so, go, Bob): its
        look-alike letters are a word. A single letter, look-alikes glued to digits, or five and more, are
        digits."""
        if not (v.text[i].isascii() and v.text[i].isalpha()) or (i > 0 and v.cls[i - 1] in DIGIT_CLASSES):
            return None
        j = i
        while j < n and v.text[j].isascii() and v.text[j].isalpha():
            j += 1
        if not 2 <= j - i < 5 or (j < len(v.cls) and v.cls[j] in DIGIT_CLASSES):
            return None  # a single look-alike among digits (b 9 wǔ ❷) is a digit
        return j

    def _digit(self, v: Views, i: int) -> tuple[str, str] | None:
        c = v.cls[i]
        if c in DIGIT_CLASSES:
            if c == CLASS_LOOKALIKE and not v.canon[i].isalnum() and not _beside_digits(v, i):
                return None  # '|' '!' are digits only between digits, '|' also beside look-alike letters
            return v.value[i], c
        ch = v.canon[i]
        return (self.extra[ch], EVERYDAY) if ch in self.extra else None

    def _filler_homophone(self, v: Views, i: int, group: Group, n: int) -> bool:
        """A homophone between two firmer digits is a filler there (7吧9, ⑤呀⑥), not a digit."""
        if v.cls[i] != CLASS_HOMOPHONE or not group or group[-1][2] not in _FIRM or group[-1][0] != i - 1:
            return False
        j = i
        while j < n and v.text[j] == v.text[i]:
            j += 1
        return j < n and v.cls[j] in _FIRM

    def _unit_at(self, canon: str, i: int, long: bool = False) -> bool:
        """A unit starts at i (a `long` one is of two characters or more: 小时, not 秒)."""
        if canon.startswith("号", i):
            return False
        return canon.startswith(self.long_units if long else self.units, i)

    def _numbers_item(self, canon: str, i: int) -> bool:
        """The digits at i start a line and number a list item (\n3. 尺码): the text has moved on."""
        j = i
        while j < len(canon) and canon[j].isdigit() and j - i < 3:
            j += 1
        k = i - 1
        while k >= 0 and canon[k] in " \t":
            k -= 1
        starts_line = k >= 0 and canon[k] == "\n"
        return starts_line and j > i and enumerator(canon, range(i, j))

    def _word_at(self, canon: str, i: int) -> bool:
        return words.longest_word(canon[i : i + 4], self.word_freq) is not None

    def _starts_word(self, canon: str, i: int, previous: Group) -> bool:
        """The group starting at i after a separator is text: a dictionary word starts there (一流服务)
        and the group before it was not all homophones."""
        if all(c == CLASS_HOMOPHONE for _, _, c in previous):
            return False
        return self._word_at(canon, i)


def _trim(flat: Group, drop: EdgeDrop | None) -> Group:
    """An everyday homophone (是 时 以) at either end is the word it is, not a digit (扣是95..., ...以后);
    so is an edge homophone or numeral that `drop` places in the text around it (...7领红包)."""
    a, b = 0, len(flat)
    classes = "".join(c for _, _, c in flat)
    # ... unless the whole number is homophones: then the seller chose them all (以就而善把领把时).
    if set(classes) - {CLASS_HOMOPHONE, EVERYDAY}:
        while a < b and flat[a][2] == EVERYDAY:
            a += 1
        while b > a and flat[b - 1][2] == EVERYDAY:
            b -= 1
    if drop is not None:
        while b - a > 1 and flat[a][2] in TRIMMABLE and drop(flat[a][0], flat[a + 1][0], True, classes):
            a += 1
        while (
            b - a > 1 and flat[b - 1][2] in TRIMMABLE and drop(flat[b - 1][0], flat[b - 2][0], False, classes)
        ):
            b -= 1
    return flat[a:b]


def _beside_digits(v: Views, i: int) -> bool:
    before = i > 0 and v.cls[i - 1] in DIGIT_CLASSES
    after = i < len(v.cls) - 1 and v.cls[i + 1] in DIGIT_CLASSES
    if before and after:
        return True
    letter = (before and v.canon[i - 1].isalpha()) or (after and v.canon[i + 1].isalpha())
    return v.canon[i] == "|" and letter and (before or after)


def best_number(
    span: Span, kind: str, qq_min: int, qq_max: int, drop: EdgeDrop | None = None
) -> Decoded | None:
    """The longest prefix of whole groups that is a number of the keyword's kind (a QQ number: qq_min to
    qq_max digits, no leading 0; a mobile, 86 / 0086 before it dropped) with no more fillers than digits.
    Its ends lose what `drop` (EdgeEvidence) says is text there (...7领红包) and everyday homophones."""
    best = None
    taken: Group = []
    for g in span.groups:
        taken = taken + g
        flat = _trim(taken, drop)
        if not flat:
            continue
        digits = "".join(d for _, d, _ in flat)
        if kind == "phone":
            ok = ph.mobile(digits) is not None
        else:
            ok = qq_min <= len(digits) <= qq_max and digits[0] != "0"
        fillers = sum(1 for f in span.fillers if f < flat[-1][0])
        if ok and fillers <= len(digits):
            number = Candidate(tuple(p for p, _, _ in flat), digits, "".join(c for _, _, c in flat))
            best = Decoded(number, fillers)
        if len(digits) > 15:
            break
    return best
