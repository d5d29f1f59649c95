"""Solicitations: text asking to be contacted off-platform with no number or id (加我微信, v我详聊, 加企鹅,
私聊加微, 扫码加我, 维亻言). A finding of type "solicitation" with value None.

Built on the keyword hits (listed, sound and shape forms alike): a contact verb before a channel keyword,
a channel keyword asking by itself (加微, 加V) or followed by 我 / 私聊 (v我, vx私聊), a channel written in
disguise that is no ordinary word (维亻言, 威新), a channel and a colon ending the line (微信：), or a listed
phrase (扫码加我, 联系方式见图). A solicitation whose keyword already introduces a contact that was found is
not reported again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from detectors.base import Finding
from detectors.keywords import (
    CONTACT_KINDS,
    KeywordHit,
    KeywordMatcher,
    after_colon,
    alternation,
    keyword_extra,
)
from detectors.normalize import Views
from detectors.rules import rules_version

# A channel keyword and a colon (or 是, 同号) ending its line: the contact is left to a QR code or another
# picture (微信：, 扣扣号是, 微信同号).
_COLON_END = re.compile(r"[ \t]*(?:[:：]|号码?是|是|为|同号)(?=[ \t]*(?:\n|$))")
# The standard names of the channels: written like this they are not a disguise by themselves.
_PLAIN = {
    "微信",
    "微信号",
    "wechat",
    "weixin",
    "qq",
    "qq号",
    "qq号码",
    "企鹅",
    "企鹅号",
    "扣扣",
    "威信",
    "卫星",
    "q号",
}


class Solicitations:
    def __init__(self, rules: dict[str, Any], keywords: KeywordMatcher) -> None:
        s = rules["solicitation"]
        self.keywords = keywords
        self.version = rules_version(rules)
        fillers = alternation([f.lower() for f in s["fillers"]])
        # A symbol verb after a digit is arithmetic or "more than" (月销2000+), not 加.
        verbs = "|".join(
            alternation([w], True) if w[0].isalnum() else f"(?<![0-9]){re.escape(w)}"
            for w in sorted({w.lower() for w in s["verbs"]}, key=len, reverse=True)
        )
        self._verb_end = re.compile(f"(?:{verbs})(?:{fillers}){{0,2}}$")
        self._sound_verb_end = re.compile(f"[{''.join(s['sound_verbs'])}]我(?:{fillers})?$")
        self._me = re.compile(alternation(s["channel_me"]))
        self._phrases = re.compile(alternation([p.lower() for p in s["phrases"]]) or "(?!)")
        self.phrases = [p.lower() for p in s["phrases"]]
        self.phrase_firsts = {p[0] for p in self.phrases}
        self._payment = re.compile(alternation([w.lower() for w in s["not_asking_after"]]) or "(?!)")

    def find(
        self, v: Views, hits: list[KeywordHit], found: list[Finding], conf: Callable[[str], float]
    ) -> list[Finding]:
        canon = v.canon
        taken = [f.span for f in found if f.span is not None]
        out: list[Finding] = []

        def add(start: int, end: int, rule: str, h: KeywordHit | None) -> None:
            if any(a < end and b > start for a, b in taken):
                return
            extra: dict[str, Any] = {"rules_version": self.version}
            if h is not None:
                extra |= keyword_extra(v.text, h)
            out.append(
                Finding("solicitation", None, v.text[start:end], conf(rule), rule, (start, end), extra=extra)
            )
            taken.append((start, end))

        for h in hits:
            if h.kind not in CONTACT_KINDS:
                continue
            before = canon[max(0, h.start - 8) : h.start]
            verb = self._verb_end.search(before) or self._sound_verb_end.search(before)
            if h.kind == "wechat" and self.keywords.not_contact_after(canon, h.end):
                # 微信支付, 微信公众号; but 加微信公众号 / 加微信群 asks all the same (not 加微信支付).
                if verb is None or self._payment.match(canon, after_colon(canon, h.end)):
                    continue
            # 扣我 / 微我 are ordinary words (扣我钱): only V我, Q我 and full keywords ask this way.
            me = self._me.match(canon, h.end) if not h.short or h.word.isascii() else None
            if verb is not None:
                add(h.start - len(verb.group()), h.end, "solicitation.verb_channel", h)
            elif h.word in self.keywords.asking:
                add(h.start, h.end, "solicitation.keyword", h)
            elif me is not None:
                add(h.start, me.end(), "solicitation.channel_me", h)
            elif not h.short and (colon := _COLON_END.match(canon, h.end)) is not None:
                add(h.start, colon.end(), "solicitation.channel_colon", h)  # 微信： and nothing after it
            elif h.kind == "wechat" and self._disguised(h):
                add(h.start, h.end, "solicitation.disguised_channel", h)
        for m in self._phrases.finditer(canon):
            if self.keywords.starts_inside_word(canon, m.start()):
                continue  # 点点滴滴我: the phrase starts inside a word
            add(m.start(), m.end(), "solicitation.phrase", None)
        return out

    def _disguised(self, h: KeywordHit) -> bool:
        """A WeChat keyword in disguise (维亻言, 威新, 薇信): neither a standard name nor an ordinary word."""
        if h.short or h.how == "sound" or h.word in _PLAIN or h.word.isascii():
            return False  # a sound-alike alone is too often ordinary text (为新, 未形); it needs a verb
        return not self.keywords.is_word(h.word)
