"""WeChat ids written after a WeChat keyword (微信, vx, 薇信 ...). Numbers after a keyword go via engine."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from detectors.base import Finding
from detectors.edges import EdgeEvidence
from detectors.keywords import KeywordHit, KeywordMatcher, keyword_extra
from detectors.normalize import CLASS_HOMOPHONE, CLASS_NUMERAL, CLASS_SPOKEN, Views, symbol_class
from detectors.rules import rules_version

# WeChat's own rule for ids: a letter, then 5-19 letters, digits, '-' or '_'.
_ID = re.compile(r"[a-z][-_a-z0-9]{5,19}(?![-_a-z0-9])")
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
# Characters that stand for a digit in a disguised id (贰, 幺, 酒).
_READ_AS_DIGIT = CLASS_NUMERAL + CLASS_SPOKEN + CLASS_HOMOPHONE
# Between the keyword and the id: joiner words, and any punctuation, symbol, emoji or space (微信➡, VX☞).
_GAP = re.compile(f"(?:{symbol_class()}|\n|号码|号|码|[账帐]号|是|为|我的?|加|搜|id(?![a-z]))*")


class WechatIds:
    def __init__(self, rules: dict[str, Any], keywords: KeywordMatcher, edges: EdgeEvidence) -> None:
        self.keywords = keywords
        self.edges = edges
        self.version = rules_version(rules)
        kw = rules["keywords"]
        self.max_gap = int(kw.get("max_keyword_gap", 6))
        self.explicit = {w.lower() for w in kw.get("wechat_explicit", [])}
        self.not_ids = {w.lower() for w in kw.get("wechat_not_ids", [])}

    def find(self, v: Views, hits: list[KeywordHit], conf: Callable[[str], float]) -> list[Finding]:
        out: list[Finding] = []
        for h in hits:
            if h.kind != "wechat":
                continue
            gap = _GAP.match(v.canon, h.end)
            assert gap is not None
            if gap.end() - h.end > self.max_gap or (h.short and gap.end() - h.end > 2):
                continue
            if self.keywords.not_contact_after(v.canon, h.end):
                continue  # 微信支付, 微信公众号 ...
            m = _ID.match(v.canon, gap.end())
            disguised = self._disguised_id(v, gap.end())
            if disguised is not None and (m is None or disguised[0] > m.end()):
                end, value = disguised
                out.append(self._finding(v, h, end, value, "wechat.keyword_id_disguised", conf))
                continue
            if m is None or m.group() in self.not_ids:
                continue
            if m.group().isalpha():
                # A plain word is an id only after a colon or an unmistakable keyword: "微信：shopmall",
                # not "威信 prestige" (威信 is also a word) or "v download".
                colon = any(ch in ":：=" for ch in v.canon[h.end : gap.end()])
                if h.short or not (colon or h.word in self.explicit):
                    continue
            value = unicodedata.normalize("NFKC", v.text[m.start() : m.end()])
            if not value.isascii():
                value = m.group()  # written in look-alike letters (ӏιυ520): the id they spell
            # A trailing dash is nearly always OCR reading a rule or underline after the id.
            if value.endswith("-") and len(value.rstrip("-")) >= 6:
                value = value.rstrip("-")
            out.append(self._finding(v, h, m.end(), value, "wechat.keyword_id", conf))
        return out

    def _finding(
        self, v: Views, h: KeywordHit, end: int, value: str, rule: str, conf: Callable[[str], float]
    ) -> Finding:
        """The id ending at `end` after keyword `h`, found by `rule` (its confidence from `conf`)."""
        extra: dict[str, Any] = {"rules_version": self.version, **keyword_extra(v.text, h)}
        if rule == "wechat.keyword_id_disguised":
            extra["disguised"] = True
        return Finding("wechat", value, v.text[h.start : end], conf(rule), rule, (h.start, end), extra=extra)

    def _disguised_id(self, v: Views, i: int) -> tuple[int, str] | None:
        """A WeChat id whose digits are written in disguise (shop贰零贰肆, abc伞酒依): (end, id), else None.

        Numerals, spoken forms and homophones read as their digit; homophones at the end that make a word with
        what follows (abc123就行) are not part of the id."""
        n = len(v.canon)
        if i >= n or not ("a" <= v.canon[i] <= "z"):
            return None
        chars: list[str] = []
        kinds: list[str] = []
        j = i
        while j < n and len(chars) <= 20:
            ch, c = v.canon[j], v.cls[j]
            if c in _READ_AS_DIGIT:
                chars.append(v.value[j])
                kinds.append(c)
            elif ch in _ID_CHARS:
                chars.append(ch)
                kinds.append("a")
            else:
                break
            j += 1
        while kinds and kinds[-1] == CLASS_HOMOPHONE:
            word = j < n and "\u3400" <= v.canon[j] <= "\u9fff" and self.edges.makes_word(v.canon, j)
            glued_to_plain = len(kinds) > 1 and kinds[-2] == "a"
            if not word and not (glued_to_plain and self.edges.function_word(v.canon[j - 1])):
                break  # neither a word with what follows nor a function word after plain digits (就, 吧)
            chars.pop()
            kinds.pop()
            j -= 1
        value = "".join(chars)
        if not any(k in _READ_AS_DIGIT for k in kinds) or _ID.fullmatch(value) is None:
            return None
        return j, value
