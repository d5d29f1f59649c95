"""Latin letters that spell Chinese: digits and contact keywords written out in pinyin or English (san jiu yi,
SānJiǔYī, san-jiu-yi, wǔlíngliù, three nine one; kou kou, KouKou, QiE, qi鹅, 扣kou) rewritten as the
characters they spell before the detectors read the text, with every character's origin kept, so findings
point at the original letters.

Nothing here is a list of spellings: the syllables are pypinyin's (every reading of every character), the
digit syllables are the rules' digit readings with their fuzzy variants and the readings of the spoken forms,
the keyword syllables are the readings of the listed keywords and the sound patterns. A word is rewritten
only when all of it segments into such syllables, and digits only where at least three digits stand
together, so English words that happen to be pinyin (China, banana) stay as they are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from detectors.base import Finding
from detectors.normalize import _main_readings, digit_readings, fuzzy_variants, symbol_class

NUMERALS = "〇一二三四五六七八九"
# Letters, tone-marked vowels (ā á ǎ à ü ǘ ...) and combining tone marks.
_WORD = re.compile(r"[A-Za-z\u00c0-\u024f\u0300-\u036f]+")
_MIN_DIGITS = 3  # spelled digits are read only where this many digits stand together
_FULL_FINALS = [["iu", "iou"], ["ui", "uei"], ["un", "uen"]]
Digits = list[tuple[int, int, str]]  # (start, end, digit) of each digit word in a folded word


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Tone marks dropped, lower case, ü as v: the form pinyin syllables are compared in."""
    word = word.replace("ü", "v").replace("Ü", "v")
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c)).lower()


@dataclass(frozen=True)
class Respelled:
    """Text with spelled-out words rewritten; origin[i] = (start, end) of output character i in the input."""

    text: str
    origin: list[tuple[int, int]]

    def span(self, s: int, e: int) -> tuple[int, int]:
        return self.origin[s][0], self.origin[e - 1][1]

    def restore(self, f: Finding, original: str) -> Finding:
        """The finding with its span and evidence text in the original text."""
        if f.span is None:
            return f
        a, b = self.span(*f.span)
        if original[a:b] == f.text:
            return replace(f, span=(a, b))
        return replace(f, span=(a, b), text=original[a:b], extra={**f.extra, "spelled_out": True})


class Speller:
    def __init__(self, rules: dict[str, Any], digit_like: Callable[[str], bool]) -> None:
        self.digit_like = digit_like
        d = rules["digits"]
        self.syllables = frozenset(r for r in _main_readings().values()) | _all_readings()
        words: dict[str, str] = {}
        for syl, dig in digit_readings(rules).items():
            if len(syl) > 1 and syl != "shi":  # shi is ten (十) when spelled; a lone letter is no digit
                # Pinyin writes iu, ui, un for the finals iou, uei, uen; other romanisations spell them out.
                for spelling in fuzzy_variants(syl, [], _FULL_FINALS):
                    words.setdefault(spelling, dig)
        for ch, dig in d["spoken"].items():
            words.setdefault(_main_readings().get(ch, ""), dig)
        for word, dig in d.get("spelled", {}).items():
            words[word.lower()] = dig
        words.pop("", None)
        self.digit_words = words
        self._longest = max(map(len, words))
        self._spells_keyword_syllables = lru_cache(maxsize=65536)(
            lambda folded: any(self._keyword_syllables.issuperset(r) for r in self.syllables_of(folded))
        )
        self._digits_cached = lru_cache(maxsize=65536)(
            lambda folded: _segment(folded, self.digit_words, self._longest)
        )
        self.patterns = _keyword_patterns(rules)
        self._keyword_syllables = frozenset(s for p in self.patterns for pos in p for s in pos)
        # Latin words the keyword lists already name (weixin, wechat, qq) are read as they are.
        kw = rules["keywords"]
        self._listed = frozenset(w.lower() for key in ("qq", "wechat", "phone") for w in kw.get(key, []))
        letters = (w for w in self._listed if w.isascii() and w.isalpha())
        self._listed_by_length = sorted(letters, key=len, reverse=True)
        self._seps = re.compile(symbol_class() + "*")

    # -- segmentation -----------------------------------------------------------------------------------
    def digits_of(self, folded: str) -> Digits | None:
        """The word as digit words only (fewest pieces): [(start, end, digit)], or None."""
        return self._digits_cached(folded)

    def syllables_of(self, folded: str) -> list[list[str]]:
        """Every way to read the word as pinyin syllables (at most a few)."""
        return _segmentations(folded, self.syllables)

    # -- rewriting ----------------------------------------------------------------------------------------
    def respell(self, text: str) -> Respelled | None:
        words = [m for m in _WORD.finditer(text)]
        if not words:
            return None
        out: dict[int, tuple[int, str]] = {}  # word start -> (word end, replacement)
        taken: set[int] = set()
        for k, m in enumerate(words):
            if m.start() in taken or fold(m.group()) in self._listed:
                continue
            rewrite = self._keyword(text, words, k)
            for start, end, chars in rewrite:
                out[start] = (end, chars)
                taken.add(start)
        # A listed keyword glued before spelled digits (QQninetwofive...) is read apart from them.
        words = [self._after_keyword(m) for m in words]
        digits = {m.start(): self.digits_of(fold(m.group())) for m in words if m.start() not in taken}
        for m in words:
            found = digits.get(m.start())
            if (
                found
                and not self._glued_to_digits(text, m.start(), m.end())
                and self._in_run(text, m.start(), m.end(), digits)
            ):
                out[m.start()] = (m.end(), "".join(NUMERALS[int(dig)] for _, _, dig in found))
        if not out:
            return None
        chars: list[str] = []
        origin: list[tuple[int, int]] = []
        i = 0
        while i < len(text):
            if i in out:
                end, repl = out[i]
                # Each output character stands for its share of the word (a syllable for digits).
                cuts = _cuts(i, end, len(repl))
                for c, (a, b) in zip(repl, cuts, strict=True):
                    chars.append(c)
                    origin.append((a, b))
                i = end
            else:
                chars.append(text[i])
                origin.append((i, i + 1))
                i += 1
        return Respelled("".join(chars), origin)

    def _in_run(
        self, text: str, s: int, e: int, digits: dict[int, list[tuple[int, int, str]] | None]
    ) -> bool:
        """At least _MIN_DIGITS digits stand together around the word: spelled digit words, digit-like
        characters and the separators between them."""
        total = len(digits[s] or [])
        for step in (-1, 1):
            i = s - 1 if step < 0 else e
            while 0 <= i < len(text) and total < _MIN_DIGITS:
                ch = text[i]
                if _WORD.match(ch):
                    m = _word_at(text, i)
                    found = digits.get(m[0])
                    if not found:
                        break
                    total += len(found)
                    i = m[0] - 1 if step < 0 else m[1]
                elif self.digit_like(ch):
                    total += 1
                    i += step
                elif self._seps.fullmatch(ch):
                    i += step
                else:
                    break
        return total >= _MIN_DIGITS

    def _after_keyword(self, m: re.Match[str]) -> re.Match[str]:
        """The part of the word after a listed keyword it starts with, when that part is spelled digits."""
        word = fold(m.group())
        for k in self._listed_by_length:
            if word.startswith(k) and len(word) > len(k) and self.digits_of(word[len(k) :]):
                return _WORD.match(m.string, m.start() + len(k), m.end()) or m
        return m

    def _glued_to_digits(self, text: str, s: int, e: int) -> bool:
        """Letters glued to written digits (san066, jiu7) are an id or a code, not spelled digits."""
        return (s > 0 and unicodedata.digit(text[s - 1], None) is not None) or (
            e < len(text) and unicodedata.digit(text[e], None) is not None
        )

    def _keyword(self, text: str, words: list[re.Match[str]], k: int) -> list[tuple[int, int, str]]:
        """Rewrites that turn word k (and the word after it, across one separator) into a contact keyword
        together with the CJK character on either side: kou kou, QiE, qi鹅, 扣kou, wei xin."""
        m = words[k]
        if not self._spells_keyword_syllables(fold(m.group())):
            return []
        group = [m]
        if k + 1 < len(words):
            nxt = words[k + 1]
            if nxt.start() - m.end() <= 1 and self._seps.fullmatch(text[m.end() : nxt.start()]):
                group.append(nxt)
        for size in range(len(group), 0, -1):
            parts = group[:size]
            left = _cjk_reading(text, parts[0].start() - 1)
            right = _cjk_reading(text, parts[-1].end())
            for readings in _product([self.syllables_of(fold(p.group())) for p in parts]):
                flat = [s for r in readings for s in r]
                if not self._keyword_syllables.issuperset(flat):
                    continue
                for pattern in self.patterns:
                    for before, after in ((None, None), (left, None), (None, right)):
                        seq = ([before] if before else []) + flat + ([after] if after else [])
                        if len(seq) != len(pattern):
                            continue
                        if not all(s in pos for s, pos in zip(seq, pattern, strict=True)):
                            continue
                        offset = 1 if before else 0
                        chars = [pattern[offset + n][s] for n, s in enumerate(flat)]
                        out = []
                        for p, r in zip(parts, readings, strict=True):
                            out.append((p.start(), p.end(), "".join(chars[: len(r)])))
                            chars = chars[len(r) :]
                        return out
        return []


def _word_at(text: str, i: int) -> tuple[int, int]:
    a = i
    while a > 0 and _WORD.match(text[a - 1]):
        a -= 1
    b = i + 1
    while b < len(text) and _WORD.match(text[b]):
        b += 1
    return a, b


def _cjk_reading(text: str, i: int) -> str | None:
    if 0 <= i < len(text):
        return _main_readings().get(text[i])
    return None


def _cuts(a: int, b: int, n: int) -> list[tuple[int, int]]:
    """n consecutive spans covering [a, b) as evenly as possible (each at least one character)."""
    size = b - a
    edges = [a + (size * k) // n for k in range(n + 1)]
    return [(edges[k], max(edges[k + 1], edges[k] + 1)) for k in range(n)]


def _product(options: list[list[list[str]]]) -> list[list[list[str]]]:
    out: list[list[list[str]]] = [[]]
    for opts in options:
        out = [prev + [o] for prev in out for o in opts][:16]
    return out


def _segment(word: str, lexicon: dict[str, str], longest: int) -> Digits | None:
    """Fewest pieces of `lexicon` that make up all of `word`, or None."""
    n = len(word)
    best: list[Digits | None] = [None] * (n + 1)
    best[0] = []
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(i + 1, min(n, i + longest) + 1):
            piece = word[i:j]
            if piece in lexicon:
                cand = best[i] + [(i, j, lexicon[piece])]  # type: ignore[operator]
                if best[j] is None or len(cand) < len(best[j]):  # type: ignore[arg-type]
                    best[j] = cand
    return best[n] or None


@lru_cache(maxsize=4096)
def _segmentations_cached(word: str, syllables: frozenset[str]) -> tuple[tuple[str, ...], ...]:
    out: list[tuple[str, ...]] = []

    def walk(i: int, acc: tuple[str, ...]) -> None:
        if len(out) >= 8:
            return
        if i == len(word):
            out.append(acc)
            return
        for j in range(min(len(word), i + 6), i, -1):
            if word[i:j] in syllables:
                walk(j, (*acc, word[i:j]))

    if len(word) <= 24:
        walk(0, ())
    return tuple(out)


def _segmentations(word: str, syllables: frozenset[str]) -> list[list[str]]:
    return [list(s) for s in _segmentations_cached(word, syllables)]


@lru_cache(maxsize=1)
def _all_readings() -> frozenset[str]:
    """Every pypinyin syllable (all readings of all characters, tones dropped)."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    return frozenset(to_normal(r).replace("ü", "v") for rs in pinyin_dict.values() for r in rs.split(","))


def _keyword_patterns(rules: dict[str, Any]) -> list[list[dict[str, str]]]:
    """Per QQ / WeChat keyword of two or more CJK characters (扣扣, 企鹅, 微信) and per sound pattern (kou|qiu
    kou|qiu|hao): for each position, syllable -> the character to write for it (the keyword's own, or the
    most common character read so)."""
    from detectors import words as word_freq

    kw = rules["keywords"]
    d = rules["digits"]
    fi = d["fuzzy_initials"]
    readings = _main_readings()
    listed = [w for key in ("qq", "wechat") for w in kw.get(key, []) if len(w) >= 2]
    # A short QQ keyword spelled alone (kou) is that keyword: it still ties only a number right after it.
    listed += [w for w in kw.get("qq_short", []) if len(w) == 1]
    own: dict[str, str] = {}
    for w in listed:
        for ch in w:
            if ch in readings:
                own.setdefault(readings[ch], ch)

    def char_for(syl: str) -> str:
        if syl in own:
            return own[syl]
        chars = [c for c, r in readings.items() if r == syl]
        return max(chars, key=lambda c: (word_freq.freq(c), -ord(c))) if chars else syl

    patterns: list[list[dict[str, str]]] = []
    for w in listed:
        if all(ch in readings for ch in w):
            patterns.append([{readings[ch]: ch} for ch in w])
    for key in ("qq_pinyin", "wechat_pinyin"):
        for seq in kw.get(key, []):
            pattern = []
            for alts in seq:
                pos: dict[str, str] = {}
                for syl in alts.split("|"):
                    for variant in fuzzy_variants(syl, fi, []):
                        if len(variant) > 1:
                            pos[variant] = char_for(variant)
                pattern.append(pos)
            patterns.append(pattern)
    return patterns
