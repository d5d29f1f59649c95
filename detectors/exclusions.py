"""Why a digit candidate is not a contact: prices, dates, units, contexts, masks, IPs, codes, hotlines.

Each check returns a short rule name (e.g. "exclude.price") so moderators can see why a number was skipped.
"""

from __future__ import annotations

import re
from typing import Any

from detectors.normalize import CLASS_LETTER, CLASS_LOOKALIKE, Views
from detectors.phone import is_service_number
from detectors.runs import Candidate

_DATE_SEPS = set("-/.")
_MASK = re.compile(r"[*x×#]{2,}|[*×#]")


def _word_rx(words: list[str]) -> re.Pattern[str]:
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
        w = w.lower()
        # ASCII words must stand alone (sn, no, gb would otherwise hit inside ordinary words).
        parts.append(
            rf"(?<![a-z]){re.escape(w)}(?![a-z])" if w.isascii() and w[-1].isalpha() else re.escape(w)
        )
    return re.compile("|".join(parts) or "(?!)")


class Exclusions:
    def __init__(self, rules: dict[str, Any]) -> None:
        self.rules = rules
        ex = rules["exclude"]
        self.window = int(ex.get("context_window", 8))
        self.before = _word_rx(ex["context_before"] + ["日期", "时间", "有效期", "保质期", "生产日期"])
        self.after = re.compile(r"^[\s:：,，.。]{0,2}(?:" + _word_rx(ex["context_after"]).pattern + ")")
        units = sorted({u.lower() for u in ex["units"]}, key=len, reverse=True)
        self.unit = re.compile(
            r"^ ?(?:"
            + "|".join(re.escape(u) + ("(?![a-z])" if u.isascii() and u[-1].isalpha() else "") for u in units)
            + ")"
        )
        self.currency = re.compile(
            "(?:" + "|".join(re.escape(c.lower()) for c in ex["currency"]) + r")\s?[:：]?\s?$"
        )

    def check(self, c: Candidate, v: Views, tied: bool) -> str | None:
        """The exclusion rule that applies to `c`, or None. `tied`: a contact keyword sits right before it."""
        text, canon = v.text, v.canon
        s, e = c.start, c.end
        gaps = c.gaps(text)
        n = len(c.digits)
        if (
            any("**" in g or "×" in g for g in gaps)
            or _MASK.match(canon[e : e + 2])
            or (s >= 1 and canon[s - 1] in "*×#")
        ):
            return "exclude.masked"
        dot_gaps = [g for g in gaps if g]
        if len(dot_gaps) == 3 and all(g == "." for g in dot_gaps) and n <= 12:
            groups = _groups(c, gaps)
            if len(groups) == 4 and all(1 <= len(g) <= 3 for g in groups):
                return "exclude.ip"
        if self._is_date(c, gaps):
            return "exclude.date"
        if self.currency.search(canon[max(0, s - 5) : s]):
            return "exclude.price"
        tail = canon[e : e + 6]
        if re.match(r"^\.\d{1,2}(?!\d)", tail) or (dot_gaps == ["."] and not tied):
            return "exclude.price"
        if self.unit.match(tail):
            return "exclude.unit"
        if is_service_number(c.digits, self.rules):
            return "exclude.service_number"
        if self._glued_to_letters(v, s, e):
            return "exclude.code"
        if not tied:
            if self.before.search(canon[max(0, s - self.window) : s]):
                return "exclude.context"
            if self.after.search(canon[e : e + self.window]):
                return "exclude.context"
        return None

    @staticmethod
    def _glued_to_letters(v: Views, s: int, e: int) -> bool:
        """Model numbers and codes (ABC12345678, 1234567890abc): letters glued to the digits."""
        letters = CLASS_LETTER + CLASS_LOOKALIKE
        before = s > 0 and v.cls[s - 1] in letters
        if before and v.canon[s - 1] == "x" and s > 1 and v.canon[s - 2].isdigit():
            before = False  # an ID number's X check digit, glued to a mobile
        after = e < len(v.cls) and v.cls[e] in letters
        return before or after

    @staticmethod
    def _is_date(c: Candidate, gaps: list[str]) -> bool:
        groups = _groups(c, gaps)
        seps = {g for g in gaps if g}
        if len(groups) >= 3 and seps and seps <= _DATE_SEPS | {" "}:
            y, m, d = groups[0], groups[1], groups[2]
            if (
                len(y) in (2, 4)
                and 1 <= len(m) <= 2
                and 1 <= len(d) <= 2
                and 1 <= int(m) <= 12
                and 1 <= int(d) <= 31
            ):
                return True
        return False


def _groups(c: Candidate, gaps: list[str]) -> list[str]:
    groups = [c.digits[0]]
    for g, d in zip(gaps, c.digits[1:], strict=False):
        if g:
            groups.append("")
        groups[-1] += d
    return groups
