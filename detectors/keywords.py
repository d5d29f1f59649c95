"""Keyword hits (QQ / WeChat / phone / contact verbs) in the canonical view, literal and through pinyin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from detectors.normalize import DIGIT_CLASSES, Views, syllable_chars


@dataclass(frozen=True)
class KeywordHit:
    kind: str  # "qq" | "qq_group" | "wechat" | "phone" | "verb"
    start: int
    end: int
    short: bool  # an ordinary word elsewhere (扣, 微, v): only counts right before the number
    word: str


def _alternation(words: list[str], ascii_bounds: bool = False) -> str:
    """Longest first. With ascii_bounds, a word that starts/ends with an ASCII letter must not touch
    another ASCII letter there (wxid, qqmusic), so 加qq is read as 加 + qq rather than 加q + q."""
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
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
        self._kind_of: dict[str, tuple[str, bool]] = {}
        # Later entries win for words listed twice, so order from weakest to most specific.
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
                self._kind_of[w.lower()] = (kind, short)
        # The lookahead on first characters lets the regex engine skip most positions in C.
        firsts = "".join(sorted({re.escape(w[0]) for w in self._kind_of}))
        self._literal = re.compile(
            f"(?=[{firsts}])(?:{_alternation(list(self._kind_of), ascii_bounds=True)})"
        )
        pinyin: list[tuple[str, re.Pattern[str]]] = []
        wechat_firsts: set[str] = {w[0] for w, (k, _) in self._kind_of.items() if k == "wechat"}
        for kind, key in [("qq", "qq_pinyin"), ("wechat", "wechat_pinyin")]:
            for pair in kw.get(key, []):
                classes = []
                for k, syl in enumerate(pair):
                    # Exact reading, plus the -in/-ing confusion (xin/xing) input methods accept.
                    chars = syllable_chars(syl) | (syllable_chars(syl + "g") if syl.endswith("n") else set())
                    classes.append("[" + "".join(sorted(re.escape(c) for c in chars)) + "]")
                    if kind == "wechat" and k == 0:
                        wechat_firsts |= chars
                pinyin.append((kind, re.compile("".join(classes))))
        self._pinyin = pinyin
        self.not_contact_wechat = re.compile(_alternation(kw.get("wechat_not_contact", [])) or "(?!)")
        # Prefilter for lines without digits: only a WeChat id (keyword + ASCII letters) can be found there.
        self.wechat_char = re.compile("[" + "".join(sorted(re.escape(c) for c in wechat_firsts)) + "]")

    def find(self, v: Views) -> list[KeywordHit]:
        canon = v.canon
        hits: list[KeywordHit] = []
        taken: set[int] = set()
        for m in self._literal.finditer(canon):
            word = m.group()
            s, e = m.span()
            kind, short = self._kind_of[word]
            hits.append(KeywordHit(kind, s, e, short, word))
            taken.update(range(s, e))
        for kind, rx in self._pinyin:
            for m in rx.finditer(canon):
                s, e = m.span()
                if taken.intersection(range(s, e)):
                    continue
                # Inside a run of digit homophones (起饿 = 7 2) it is digits, not a keyword.
                if s > 0 and v.cls[s - 1] in DIGIT_CLASSES:
                    continue
                hits.append(KeywordHit(kind, s, e, False, m.group()))
        hits.sort(key=lambda h: h.start)
        return hits
