"""The text detector: keywords + digit runs + exclusions -> findings. One instance per rules set."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Any

from detectors import phone as ph
from detectors.anchored import AnchoredReader, Decoded, best_number
from detectors.base import Finding
from detectors.edges import EdgeEvidence
from detectors.exclusions import Exclusions
from detectors.keywords import (
    CONTACT_KINDS,
    KEYWORD_REACH,
    Hits,
    KeywordHit,
    KeywordMatcher,
    charset,
    keyword_extra,
)
from detectors.labels import Labels
from detectors.normalize import (
    CLASS_DIGIT,
    CLASS_DISGUISED,
    CLASS_OTHER,
    CLASS_SEP,
    DIGIT_CLASSES,
    Views,
    build_tables,
    symbol_class,
)
from detectors.qq import qq_rule
from detectors.rules import rules_version
from detectors.runs import Candidate, digit_groups, enumerator, find_runs, fix_lookalikes, readings
from detectors.solicit import Solicitations
from detectors.spelled import Speller
from detectors.wechat import WechatIds
from ground.errors import QqscanError

# A keyword followed by a number is introducing that number, not labelling the one before it.
_NEXT_NUMBER = re.compile(f"[^{DIGIT_CLASSES}]{{0,6}}[{DIGIT_CLASSES}]")
_LIST_PUNCT = set(",;、，；")
_KEYCAP = re.compile("[0-9#*]\ufe0f?\u20e3")
MAX_RUN_DIGITS = 29  # an 18-digit ID glued to an 11-digit mobile is the longest run worth reading
# Text is read in pieces this long (each with this much context on both sides): see TextDetector.detect.
CHUNK = 4096
CONTEXT = 256
MAX_RUN_GROUPS = 29  # ... and 29 single digits the most groups one number can be written in
# Rejections that say "this reading of the run is not a contact" rather than "these digits are a date /
# price / ...": after them a shorter reading of the same run is still worth trying.
SOFT_EXCLUSIONS = {"exclude.no_rule", "exclude.too_long", "exclude.code"}


def _gaps(ends: list[int], starts: list[int], canon: str) -> list[str]:
    """Text between digit groups: ends[k] is the last digit of group k, starts[k] the first of group k+1."""
    return [canon[a + 1 : b] for a, b in zip(ends, starts, strict=True)]


class DetectionTimeout(QqscanError):
    """Detection ran past its time limit on one image's text: that image's error, the batch goes on."""


@dataclass(frozen=True)
class Excluded:
    """A candidate number that was considered and rejected, with the rule that rejected it."""

    digits: str
    span: tuple[int, int]
    text: str
    rule: str


class TextDetector:
    def __init__(self, rules: dict[str, Any]) -> None:
        self.rules = rules
        self.version = rules_version(rules)
        # Line endings after which OCR follows a cut line to the right (contact keywords): ocr/ gets them
        # from jobs/, which hands them over with this detector.
        self.extension_triggers = frozenset(rules["keywords"].get("line_extension_endings", ""))
        self.tables = build_tables(rules)
        self.keywords = KeywordMatcher(rules)
        self.exclusions = Exclusions(rules)
        self.edges = EdgeEvidence(rules)
        self.wechat = WechatIds(rules, self.keywords, self.edges)
        self.labels = Labels(rules)
        self.solicit = Solicitations(rules, self.keywords)
        digit_like = {chr(cp) for cp, c in self.tables.cls.items() if c in DIGIT_CLASSES and c != "L"}
        self.speller = Speller(rules, digit_like.__contains__)
        self.anchored = AnchoredReader(rules)
        self._units = frozenset(u.lower() for u in rules["exclude"]["units"] if u.isascii())
        self._max_block = int(rules["digits"].get("max_lookalike_block", 3))
        # A line without digits needs a QQ / WeChat keyword or a solicitation phrase: a cheap test on the raw
        # text, then one on the canonical text that accepts all the matcher does.
        self._channel_raw, self._channel = self.keywords.channel_prefilter(
            self.solicit.phrases, self.tables.canon
        )
        self._la_words = frozenset(w.lower() for w in rules["digits"].get("lookalike_words", []))
        kw = rules["keywords"]
        self.max_sep = int(rules["digits"].get("max_separator_run", 3))
        self.max_gap = int(kw.get("max_keyword_gap", 6))
        joiners = sorted({j.lower() for j in kw["joiners"]}, key=len, reverse=True)
        # Between a keyword and its number: the listed joiner words (号码是, 我的), and any punctuation,
        # symbol or space (：, ☛, ➡️, 👇, 【 】, >>) but sentence punctuation.
        symbols = symbol_class()
        self._joiners = re.compile("(?:" + "|".join(re.escape(j) for j in joiners) + f"|{symbols})*")
        # A short keyword (扣, 微, v) ties only a number right after it, past at most three such symbols.
        self._short_gap = re.compile(f"{symbols}{{0,3}}")
        self._suffixed = re.compile(f"[\u4e00-\u9fff](?:[:：]|{symbols})(?:{self._joiners.pattern})")
        # ... and a Latin letter keyword ending its line (Q: / V) ties the number that starts the next one.
        self._short_gap_line = re.compile(f"(?:{symbols}|\n){{0,3}}\n(?:{symbols}|\n){{0,2}}")
        # Measure words (个 只 次 ...): a numeral right before one is counting, not part of a number.
        self._measure = {u for u in rules["exclude"]["units"] if len(u) == 1 and not u.isascii()}
        q = rules["qq"]
        self.qq_min, self.qq_max = int(q["min_digits"]), int(q["max_digits"])
        self.bare_window = int(q.get("bare_context_window", 24))
        self.max_group = int(q.get("max_group_digits", 4))
        self.inner_tie_digits = int(q.get("inner_keyword_min_digits", 8))
        self.conf = rules["confidence"]
        # Prefilter: a line needs five digit-like characters in a run, or a keyword, to be worth a look.
        # (short CJK keywords count as separators there: 1744扣021扣484)
        inner = {w for w in kw.get("qq_short", []) + kw.get("wechat_short", []) if not w.isascii()}
        inner_cls = "".join(sorted(re.escape(w) for w in inner))
        self._digits5 = re.compile(
            f"[{DIGIT_CLASSES}](?:[_{inner_cls}]{{0,{self.max_sep}}}[{DIGIT_CLASSES}]){{4,}}"
        )
        # ... written on the raw text with the characters of each class (a superset: astral characters
        # count as both), so lines without one skip the translations.
        digit_like = charset({chr(cp) for cp, c in self.tables.cls.items() if c in DIGIT_CLASSES})
        sep = charset({chr(cp) for cp, c in self.tables.cls.items() if c == "_"} | inner)
        self._digits5_raw = re.compile(f"{digit_like}(?:{sep}{{0,{self.max_sep}}}{digit_like}){{4,}}")

    # -- public ---------------------------------------------------------------------------------------
    @property
    def joiners(self) -> re.Pattern[str]:
        """What may stand between a keyword and its number (joiner words, symbols, spaces)."""
        return self._joiners

    def detect(self, text: str, deadline: float | None = None) -> list[Finding]:
        """Findings in `text`. Long text is read in pieces of CHUNK characters cut at line ends, each with
        CONTEXT characters of the text around it, so time and memory grow linearly with the text;
        `deadline` (time.monotonic()) ends the work with DetectionTimeout between pieces."""
        if len(text) <= CHUNK + 2 * CONTEXT:
            return self._run(text, None)
        out: list[Finding] = []
        for a, b in _chunks(text):
            if deadline is not None and time.monotonic() > deadline:
                raise DetectionTimeout(
                    f"contact detection stopped at character {a} of {len(text)} (time limit; "
                    "QQSCAN_DETECT_SECONDS): the image holds too much text to read in time"
                )
            lo = max(0, a - CONTEXT)
            for f in self._run(text[lo : b + CONTEXT], None):
                assert f.span is not None
                start, end = f.span[0] + lo, f.span[1] + lo
                if a <= start < b:  # each finding belongs to the piece its start falls in
                    out.append(replace(f, span=(start, end)))
        return out

    def explain(self, text: str) -> list[Excluded]:
        """Candidates that were rejected, with the exclusion rule (for moderators and debugging)."""
        out: list[Excluded] = []
        self._run(text, out)
        return out

    # -- internals ------------------------------------------------------------------------------------
    def _run(self, text: str, excluded: list[Excluded] | None) -> list[Finding]:
        """Findings in `text`, read with its spelled-out words (san jiu yi, kou kou) rewritten."""
        spelled = self.speller.respell(text)
        if spelled is None:
            return self._read(text, excluded)
        out: list[Excluded] | None = [] if excluded is not None else None
        found = [spelled.restore(f, text) for f in self._read(spelled.text, out)]
        if excluded is not None and out is not None:
            for x in out:
                a, b = spelled.span(*x.span)
                excluded.append(replace(x, span=(a, b), text=text[a:b]))
        return found

    def _read(self, text: str, excluded: list[Excluded] | None) -> list[Finding]:
        # The digit test on the raw text first: most lines stop here without building any view.
        maybe_digits = self._digits5_raw.search(text) is not None
        if not maybe_digits and not self._channel_raw(text):
            return []
        canon = text.translate(self.tables.canon)
        if not maybe_digits and not self._channel(canon):
            return []
        return self._detect(text, canon, maybe_digits, excluded)

    def _detect(
        self, text: str, canon: str, maybe_digits: bool, excluded: list[Excluded] | None
    ) -> list[Finding]:
        """Findings in `text` (canonical view `canon`) past the prefilters; `maybe_digits`: the raw digit
        test passed."""
        t = self.tables
        cls = raw_cls = text.translate(t.cls)
        has_digits = maybe_digits and self._digits5.search(cls) is not None
        v = Views(text, canon, cls, text.translate(t.value))
        hits = self.keywords.find(v, verbs=maybe_digits)
        findings: list[Finding] = []
        if hits:
            findings.extend(self.wechat.find(v, hits, self._conf))
        if has_digits:
            # Keywords are never digits (企鹅 = qi e would read 7 2).
            cls_l = list(cls)
            for h in hits:
                # 1744扣021扣484: a short keyword written between digit groups separates them.
                inside = h.short and h.kind in CONTACT_KINDS and _between_digits(cls, h.start, h.end)
                for i in range(h.start, h.end):
                    cls_l[i] = CLASS_SEP if inside else CLASS_OTHER
            if "\u20e3" in text:
                # Keycap digits (3️⃣) are plain ASCII digits with modifiers: written in disguise all the same.
                for m in _KEYCAP.finditer(text):
                    cls_l[m.start()] = CLASS_DISGUISED
            cls = fix_lookalikes("".join(cls_l), canon, self._units, self._max_block, self._la_words)
            v = Views(text, v.canon, cls, v.value)
            for span in find_runs(cls, self.max_sep):
                if sum(1 for i in range(*span) if cls[i] in DIGIT_CLASSES) < self.qq_min:
                    continue
                findings.extend(self._run_findings(span, v, hits, excluded))
        if hits:
            findings = self._anchored(Views(text, canon, raw_cls, v.value), hits, findings)
        findings.extend(self.solicit.find(v, hits, findings, self._conf))
        if _REVERSE.search(v.canon):
            findings = [_read_reversed(f, v.canon) for f in findings]
        return _dedupe(findings)

    def _anchored(self, v: Views, hits: Hits, findings: list[Finding]) -> list[Finding]:
        """Numbers right after a QQ or phone keyword read whatever they are written in (anchored.py): added
        where the runs found nothing there, or in place of a shorter reading of the same number."""
        for h in hits:
            if h.kind not in ("qq", "qq_group", "phone"):
                continue
            gap = (self._short_gap if h.short else self._joiners).match(v.canon, h.end)
            assert gap is not None
            if gap.end() - h.end > self.max_gap:
                continue
            d = best_number(
                self.anchored.read(v, gap.end()),
                h.kind if h.kind == "phone" else "qq",
                self.qq_min,
                self.qq_max,
                self.edges.drop(v, untied=False),
            )
            if d is None:
                continue
            # A price, date, unit ... is what it is after a keyword too (扣扣领袖¥1844.05).
            # (Units were judged while reading: a circled digit before 秒回 counts nothing.)
            c = d.number
            checked = self.exclusions.check(c, v, tied=True, qq=h.kind != "phone")
            if (checked is not None and checked[0] != "exclude.unit") or self.labels.foreign(
                v, c.start, hits
            ):
                continue
            near = [f for f in findings if f.type != "solicitation" and _overlaps(f, c.start, c.end)]
            if any(not f.value or len(f.value) >= len(c.digits) or f.value not in c.digits for f in near):
                continue  # the runs read this number already, or read something else there
            findings = [f for f in findings if f not in near]
            findings.append(self._decoded(v, h, d))
        return findings

    def _decoded(self, v: Views, h: KeywordHit, d: Decoded) -> Finding:
        c = d.number
        if h.kind == "phone":
            kind, rule, value = "phone", "phone.mobile_decoded", ph.mobile(c.digits) or c.digits
        else:
            kind, rule, value = "qq", "qq.keyword_decoded", c.digits
        extra: dict[str, Any] = {"rules_version": self.version, "_core": (c.start, c.end)}
        extra |= keyword_extra(v.text, h)
        extra["disguised"] = True
        if d.fillers:
            extra["fillers"] = d.fillers
        span = (h.start, c.end)
        return Finding(kind, value, v.text[span[0] : span[1]], self._conf(rule), rule, span, extra=extra)

    def _run_findings(
        self, span: tuple[int, int], v: Views, hits: Hits, excluded: list[Excluded] | None
    ) -> list[Finding]:
        """Read a run as one or more numbers: consecutive groups of digits, most digits first.

        A reading that becomes a contact, or is excluded for what it is (a date, a price ...), uses up its
        groups; one that merely fits no rule (too long, no keyword) leaves them for shorter readings, so
        "13812345678 7天" still yields the mobile and "qq391287654 2009.03.08" the QQ number."""
        groups = digit_groups(span, v.text, v.canon, v.cls)
        sizes = [len(g) for g in groups]
        n = len(groups)
        # Readings are consecutive groups of at most MAX_RUN_DIGITS digits: O(n * MAX_RUN_DIGITS) of them.
        # A run of more than MAX_RUN_GROUPS groups is a table or a list (a contact spelled one digit at a
        # time has at most 29 groups): only its groups one by one are read there.
        reach = MAX_RUN_DIGITS if n <= MAX_RUN_GROUPS else 0
        subs = []
        for i in range(n):
            total = 0
            for j in range(i + 1, n + 1):
                total += sizes[j - 1]
                if total > MAX_RUN_DIGITS or (j > i + 1 and total > reach):
                    break
                if total >= self.qq_min:
                    subs.append((i, j))
        # A keyword right before the run says the run is one number.
        tied = self._tie(Candidate(tuple(groups[0]), "", ""), v, hits) is not None
        # Readings that reach across list punctuation (QQ：7822096122，1、长征) come after all that do not,
        # unless a keyword ties short groups all written with the run's own separator (加qq 58、271、3、09、4;
        # not "QQ：7 7 6 257 4，（陆..." where "，" ends the number). A line or box break next to that
        # separator, as the layout joins them, is the same separator.
        gaps = _gaps([g[-1] for g in groups[:-1]], [g[0] for g in groups[1:]], v.canon)
        short = [s <= self.max_group for s in sizes]
        own = gaps[0].strip() if gaps else ""
        lists = [0] + [
            int(
                (
                    any(ch in _LIST_PUNCT for ch in g)
                    and not (tied and short[k] and short[k + 1] and g.strip() == own)
                )
                or ("\n" in g and enumerator(v.canon, groups[k + 1]))
            )
            for k, g in enumerate(gaps)
        ]
        # ... and without a keyword, readings that join a block of 3+ plain digits to disguised ones without
        # a separator (③⑨①...④2009) come after those that do not; 1久山灵... and 32棋爸... stay one number.
        plain3 = [sizes[k] >= 3 and v.cls[groups[k][0]] == CLASS_DIGIT for k in range(n)]
        fams = [0] + [int(g == "" and not tied and (plain3[k] or plain3[k + 1])) for k, g in enumerate(gaps)]
        lists_at, fams_at, digits_at = _prefix(lists), _prefix(fams), _prefix(sizes)
        subs.sort(
            key=lambda ij: (
                lists_at[ij[1]] - lists_at[ij[0] + 1],
                fams_at[ij[1]] - fams_at[ij[0] + 1] > 0,
                digits_at[ij[0]] - digits_at[ij[1]],
                ij[0],
            )
        )
        used = [False] * n
        found: list[Finding] = []
        # 货号518264-907, 执行标准5161-607865: a label before the run owns every reading of it.
        # It owns the groups up to the first list punctuation (订单号：1421846721，3九1二... is two things).
        owned = next((k + 1 for k, g in enumerate(gaps) if any(ch in _LIST_PUNCT for ch in g)), n)
        owned_until = groups[owned - 1][-1] if self.labels.foreign(v, groups[0][0], hits) else -1
        drop = self.edges.drop(v, untied=not tied)

        def counted(k: int) -> bool:
            """一 / 两 right before a measure word is counting (一个), not a digit."""
            return v.canon[k] in "一两" and v.canon[k + 1 : k + 2] in self._measure

        for i, j in subs:
            if any(used[i:j]):
                continue
            positions = [p for g in groups[i:j] for p in g]
            hits_here: list[Finding] = []
            alone = (i, j) == (0, n)
            in_list = _cuts_list(sizes, gaps, i, j)
            for c in readings(positions, v.cls, v.value, alone, in_list, counted=counted, drop=drop):
                f, reason, scope = self._judge(c, v, hits, excluded, c.start <= owned_until)
                if f is not None:
                    hits_here.append(f)
                    continue  # a later reading may still be a phone number (腰散八腰二...: 幺 is 1)
                if reason in SOFT_EXCLUSIONS or scope == "none" or hits_here:
                    continue
                if scope == "head":
                    used[i] = True
                elif scope == "tail":
                    used[j - 1] = True
                else:
                    used[i:j] = [True] * (j - i)
                break
            if hits_here:
                # Phone readings first: a mobile's shape is more specific than a QQ number's.
                f = next((h for h in hits_here if h.type == "phone"), hits_here[0])
                found.append(f)
                if f.rule == "wechat.keyword_phone":
                    # 电话/微信同号 138...: the number is a phone as well as the WeChat account.
                    found.append(replace(f, type="phone", rule="phone.mobile", extra=dict(f.extra)))
                used[i:j] = [True] * (j - i)
        return found

    def _tie(self, c: Candidate, v: Views, hits: Hits) -> KeywordHit | None:
        """The keyword this number belongs to: nearest before it with only joiners between, or right after,
        or a short keyword written between its digit groups (1744扣021扣484: long numbers only)."""
        if len(c.digits) >= self.inner_tie_digits:
            for h in hits.starting_in(c.start + 1, c.end):
                if h.short and h.kind in CONTACT_KINDS and c.start < h.start and h.end < c.end:
                    return h
        best = None
        for h in hits.starting_in(c.start - KEYWORD_REACH, c.end + 3):
            if h.end <= c.start:
                gap = v.canon[h.end : c.start]
                if h.short:
                    ok = self._short_gap.fullmatch(gap) is not None or (
                        h.word.isascii() and self._short_gap_line.fullmatch(gap) is not None
                    )
                else:
                    # 企鹅君：, 鹅子❤: one more character (a nickname's suffix) before a colon or symbol.
                    ok = len(gap) <= self.max_gap and (
                        self._joiners.fullmatch(gap) is not None or self._suffixed.fullmatch(gap) is not None
                    )
                if ok:
                    best = h
            elif h.start >= c.end and not h.short and h.kind in CONTACT_KINDS:
                gap = v.canon[c.end : h.start]
                # "391287654（QQ）" labels the number before it; "，QQ：5599..." introduces the next one.
                introduces = _NEXT_NUMBER.match(v.cls, h.end) is not None
                if len(gap) <= 2 and self._short_gap.fullmatch(gap) and not introduces:
                    return best or h
                break
        return best

    def _judge(
        self,
        c: Candidate,
        v: Views,
        hits: Hits,
        excluded: list[Excluded] | None,
        labelled: bool = False,
    ) -> tuple[Finding | None, str | None, str]:
        """A finding for candidate `c`, or None, the exclusion rule that rejected it and its scope."""
        tie = self._tie(c, v, hits)
        if tie is not None and tie.kind == "wechat" and self.keywords.not_contact_after(v.canon, tie.end):
            tie = None  # 微信支付 13812345678: the number is not a WeChat account
        digits = c.digits
        glued = ph.split_glued_id(digits) if len(digits) > 12 else None
        if glued is not None:
            a, b = glued
            c = Candidate(c.positions[a:b], digits[a:b], c.classes[a:b])
            digits = c.digits
        mail = tie is not None and tie.how == "mail"
        qq = tie is not None and tie.kind in ("qq", "qq_group")
        checked = self.exclusions.check(c, v, tied=tie is not None and tie.kind != "verb", mail=mail, qq=qq)
        reason, scope = checked if checked is not None else (None, "all")
        if reason is None and (labelled or self.labels.foreign(v, c.start, hits)):
            # 货号518264-907, 型号：XJ-40215583: the number is its label's, whatever keyword is around.
            reason, scope = "exclude.label", "head"
        if reason is None and len(digits) > 13:
            reason = "exclude.too_long"
        rule = None
        value = digits
        if reason is None:
            rule, value = self._classify(c, v, tie, hits)
            if glued is not None and rule == "phone.mobile":
                rule = "phone.mobile_glued_id"
            if rule is None:
                reason = "exclude.no_rule"
        if reason is not None or rule is None:
            if excluded is not None:
                excluded.append(Excluded(digits, (c.start, c.end), v.text[c.start : c.end], reason or "?"))
            return None, reason, scope
        start = tie.start if tie is not None and tie.start < c.start else c.start
        end = tie.end if tie is not None and tie.end > c.end else c.end
        conf = self._conf(rule)
        if c.homophones:
            conf *= float(self.conf.get("homophone_penalty", 1.0))
        if "L" in c.classes:
            conf *= float(self.conf.get("lookalike_penalty", 1.0))
        kind = rule.split(".")[0]
        extra: dict[str, Any] = {"rules_version": self.version, "_core": (c.start, c.end)}
        if tie is not None:
            extra |= keyword_extra(v.text, tie)
        if c.disguised:
            extra["disguised"] = True
        return Finding(kind, value, v.text[start:end], conf, rule, (start, end), extra=extra), None, scope

    def _classify(self, c: Candidate, v: Views, tie: KeywordHit | None, hits: Hits) -> tuple[str | None, str]:
        digits = c.digits
        kind = tie.kind if tie is not None else None
        mob = ph.mobile(digits)
        if kind == "wechat":
            if mob:
                return "wechat.keyword_phone", mob
            if self.qq_min <= len(digits) <= self.qq_max and digits[0] != "0":
                return "wechat.keyword_number", digits
            return None, digits
        if kind in ("qq", "qq_group"):
            rule = qq_rule(c, kind, self.rules)
            if rule == "qq.keyword" and tie is not None and tie.how == "mail":
                rule = "qq.mailbox"
            return rule, digits
        # Without a phone keyword, a number in groups is a phone only as people group one: no group of a
        # single digit among longer ones (130 1400 6 220 is a table row, 0 15494 14382 7 a UPC).
        grouping_ok = kind == "phone" or _country_code(c, v.canon) or _phone_grouping(c.gaps(v.text, v.canon))
        if mob and grouping_ok:
            return "phone.mobile", mob
        land = ph.landline(digits) if grouping_ok else None
        if land is not None:
            gaps = c.gaps(v.text, v.canon)
            split_at = len(land[0]) - 1
            # Without a phone keyword, only the written form 010-12345678 / (010)12345678 counts.
            if kind == "phone" or (split_at < len(gaps) and gaps[split_at]):
                return "phone.landline", "-".join(land)
        if kind == "phone" and 7 <= len(digits) <= 8 and digits[0] in "23456789":
            return "phone.local", digits  # 电话：65091040 - a local number after a phone keyword
        if kind == "phone":
            # A phone keyword before a disguised run that is no phone: judge the disguise on its own
            # (电话，叁玖壹...); a plain number after 热线 is some phone we cannot place, not a QQ number.
            return (qq_rule(c, None, self.rules) if c.disguised else None), digits
        w = self.bare_window
        near = any(
            h.kind in (*CONTACT_KINDS, "verb") and c.start - w < h.end <= c.start
            for h in hits.starting_in(c.start - w - KEYWORD_REACH, c.start)
        )
        direct = tie is not None and tie.word.rstrip().endswith(("我", "me"))
        return qq_rule(c, kind, self.rules, near=near, direct=direct), digits

    def _conf(self, rule: str) -> float:
        return float(self.conf.get(rule, 0.5))


# A note telling the buyer to read the number backwards (倒着读, 反过来看, 从右往左, read it backwards).
_REVERSE = re.compile(
    r"倒着|倒过来|反过来|反着|倒序|从右往左|从右到左|(?<![a-z])(?:reversed?|backwards?)(?![a-z])"
)
_REVERSE_REACH = 16  # characters between the note and the number it is about


def _read_reversed(f: Finding, canon: str) -> Finding:
    """A QQ or mobile number next to a reversing note, read backwards: kept when the reversed digits are
    still a number of its kind."""
    if f.type not in ("qq", "phone") or not f.value or f.span is None or not f.value.isdigit():
        return f
    a, b = f.span
    near = _REVERSE.search(canon, max(0, a - _REVERSE_REACH), min(len(canon), b + _REVERSE_REACH))
    if near is None:
        return f
    value = f.value[::-1]
    if (f.type == "phone" and ph.mobile(value) is None) or (f.type == "qq" and value[0] == "0"):
        return f
    return replace(f, value=value, rule=f"{f.rule}_reversed", extra={**f.extra, "reversed_by": near.group()})


def _country_code(c: Candidate, canon: str) -> bool:
    """The number starts with China's calling code written as one (+86, (86), 0086): a phone, however its
    digits are grouped."""
    if c.digits.startswith("0086"):
        return True
    before = canon[max(0, c.start - 2) : c.start].strip()
    return c.digits.startswith("86") and before[-1:] in ("+", "(")


def _phone_grouping(gaps: list[str]) -> bool:
    """Digits split by these gaps make groups all longer than one digit, or all of one digit."""
    sizes = [1]
    for g in gaps:
        if g:
            sizes.append(0)
        sizes[-1] += 1
    return len(sizes) == 1 or min(sizes) > 1 or max(sizes) == 1


def _overlaps(f: Finding, start: int, end: int) -> bool:
    a, b = f.extra.get("_core", f.span)
    return a < end and start < b


def _chunks(text: str) -> list[tuple[int, int]]:
    """[a, b) pieces of about CHUNK characters, cut after a line end where there is one."""
    out = []
    a = 0
    while a < len(text):
        b = min(len(text), a + CHUNK)
        if b < len(text):
            cut = text.rfind("\n", a + CHUNK // 2, b)
            b = cut + 1 if cut >= 0 else b
        out.append((a, b))
        a = b
    return out


def _cuts_list(sizes: list[int], gaps: list[str], i: int, j: int) -> bool:
    """Groups i..j-1 of a run are one- or two-digit figures cut out of a longer sequence of such figures
    written with the same separators (a table of spaced digits, rows joined): a neighbouring short group
    follows or precedes them across a separator the reading itself uses."""
    if j - i < 3 or any(size > 2 for size in sizes[i:j]):
        return False
    inner = set(gaps[i : j - 1])
    left = i > 0 and sizes[i - 1] <= 2 and gaps[i - 1] in inner
    right = j < len(sizes) and sizes[j] <= 2 and gaps[j - 1] in inner
    return left or right


def _prefix(values: list[int]) -> list[int]:
    """out[k] = sum(values[:k]), so any slice sum is one subtraction."""
    out = [0]
    for x in values:
        out.append(out[-1] + x)
    return out


def _between_digits(cls: str, s: int, e: int) -> bool:
    return 0 < s and e < len(cls) and cls[s - 1] in DIGIT_CLASSES and cls[e] in DIGIT_CLASSES


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """Findings over the same characters (a WeChat id and a number inside it): keep the most confident.

    Overlap is judged on the contact itself, not its keyword: two numbers may share one keyword. A
    phone number given as the WeChat account is reported as both."""
    kept: list[tuple[tuple[int, int], Finding]] = []
    for f in sorted(findings, key=lambda f: -f.confidence):
        assert f.span is not None
        core = f.extra.get("_core", f.span)
        if all(core[1] <= k[0] or core[0] >= k[1] or f.type != g.type for k, g in kept):
            kept.append((core, f))
    out = []
    for _, f in sorted(kept, key=lambda kf: kf[1].span or (0, 0)):
        f.extra.pop("_core", None)
        out.append(f)
    return out
