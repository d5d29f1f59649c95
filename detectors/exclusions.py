"""Why a digit candidate is not a contact: prices, dates, units, contexts, masks, IPs, codes, hotlines.

Each check returns a short rule name (e.g. "exclude.price") so moderators can see why a number was skipped.
"""

from __future__ import annotations

import re
from typing import Any

from detectors.normalize import CLASS_DIGIT, CLASS_LETTER, CLASS_LOOKALIKE, CLASS_NUMERAL, Views
from detectors.phone import MOBILE, is_service_number
from detectors.runs import Candidate

_DATE_SEPS = set("-/.")


def _word_rx(words: list[str]) -> re.Pattern[str]:
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
        w = w.lower()
        # ASCII words must stand alone (sn, no, gb would otherwise hit inside ordinary words).
        parts.append(
            rf"(?<![a-z]){re.escape(w)}(?![a-z])" if w.isascii() and w[-1].isalpha() else re.escape(w)
        )
    return re.compile("|".join(parts) or "(?!)")


def _unit_rx(units: list[str]) -> re.Pattern[str]:
    alts = sorted({u.lower() for u in units}, key=len, reverse=True)
    return re.compile(
        r"^ ?(?:"
        + "|".join(re.escape(u) + ("(?![a-z])" if u.isascii() and u[-1].isalpha() else "") for u in alts)
        + ")"
    )


class Exclusions:
    def __init__(self, rules: dict[str, Any]) -> None:
        self.rules = rules
        ex = rules["exclude"]
        self.window = int(ex.get("context_window", 8))
        self.before = _word_rx(ex["context_before"] + ["日期", "时间", "有效期", "保质期", "生产日期"])
        ctx = self.before.pattern
        # The context word must introduce the number (订单号：1411592970, 订单184477629), not just be near it.
        self.before = re.compile(f"(?:{ctx})(?:[号码:：#=是为\\s]|no\\.?)*$")
        # A mobile number is distinctive: only a context word glued to it counts (发票 13812345678 is not
        # an invoice number, 发票号：13812345678 is).
        self.before_tight = re.compile(f"(?:{ctx})(?:(?:[号码:：#=]|no\\.?)[号码:：#=是为\\s]*|[是为]*)$")
        # After the number: "174208675是我的订单编号" (not "13812345678 订单号1411592970").
        after = _word_rx(ex["context_after"]).pattern
        self.after = re.compile(rf"^\s?(?:是|为)?(?:我们的|我的|的)?(?:{after})(?![号码:：\s]*\d)")
        self.after_tight = re.compile(rf"^(?:是|为)?(?:我们的|我的|的)?(?:{after})(?![号码:：\s]*\d)")
        self.unit_always = _unit_rx([u for u in ex["units"] if u.isascii() or u in ex["units_always"]])
        self.unit_untied = _unit_rx(ex["units"])
        self.max_unit_digits = int(ex.get("max_unit_digits", 8))
        self.currency_symbol = re.compile(r"[¥￥$€£]\s?$")
        self.currency = re.compile(
            "(?:" + "|".join(re.escape(c.lower()) for c in ex["currency"]) + r")\s?[:：]?\s?$"
        )

    def check(
        self, c: Candidate, v: Views, tied: bool, mail: bool = False, qq: bool = False
    ) -> tuple[str, str] | None:
        """(rule, scope) of the exclusion that applies to `c`, or None. `tied`: a contact keyword sits right
        before it. scope says which digits the reason is about: "all", or only the "head" / "tail" group
        (a decimal tail or a unit after the last group says nothing about an earlier group). `mail`: the
        number is a mailbox's name (a QQ mail domain follows it); `qq`: a QQ keyword introduces it (a QQ
        number may start with 400 or 800, a hotline is not given after 扣扣：)."""
        text, canon = v.text, v.canon
        s, e = c.start, c.end
        gaps = c.gaps(text, canon)
        n = len(c.digits)
        masks = sum(1 for g in gaps if "**" in g or "×" in g)
        # 138****5678 hides digits; the same mark between every digit (3×9×1×2...) is a separator.
        if (0 < masks <= 2 and masks < len(gaps)) or (
            s >= 2 and canon[s - 2 : s] in ("**", "××", "xx", "##")
        ):
            return "exclude.masked", "all"
        if re.match(r"[*×#]{2}|xx(?![a-z])|\*(?=\d)", canon[e : e + 2]):
            return "exclude.masked", "tail"
        dot_gaps = [g for g in gaps if g]
        if len(dot_gaps) == 3 and all(g == "." for g in dot_gaps) and n <= 12 and not tied:
            groups = _groups(c, gaps)
            if len(groups) == 4 and all(1 <= len(g) <= 3 and int(g) <= 255 for g in groups):
                return "exclude.ip", "all"
        if _is_time(c, gaps):
            return "exclude.time", "all"  # 9:00-23:00: opening hours
        date_groups = self._date_groups(c, gaps, tied)
        if date_groups:
            # 2008/04/14 13812345678: the date condemns its own groups, not a number after it.
            return "exclude.date", "all" if date_groups == len(_groups(c, gaps)) else "head"
        mobile = MOBILE.fullmatch(c.digits) is not None
        # Currency before: any mark for ordinary numbers; before a mobile only a currency symbol counts.
        if (self.currency_symbol if mobile else self.currency).search(canon[max(0, s - 5) : s]):
            return "exclude.price", "head"
        if len(dot_gaps) == 1 and dot_gaps[0] in (".", "·") and not tied:
            return "exclude.price", "all"
        tail = canon[e : e + 6]
        if re.match(r"^[.·]\d{1,2}(?!\d)", tail):
            return "exclude.price", "tail"
        # 5000mAh, 12元 always; 391287654人 / 13812345678包装 is a contact followed by the next word:
        # counting words only exclude short, untied numbers.
        # After a keyword only a glued unit counts ("QQ 391287654 元的标间" is two things).
        if self.unit_always.match("" if (tied or mobile) and tail[:1] == " " else tail) or (
            not tied and n <= self.max_unit_digits and self.unit_untied.match(tail)
        ):
            return "exclude.unit", "tail"
        plain_tail = len(c.classes) - len(c.classes.rstrip(CLASS_DIGIT))
        # (a tail of one plain digit glued to disguised ones is the number's last digit: ...①４秒回)
        switch = 1 < plain_tail < n and c.classes[n - plain_tail - 1] != CLASS_LOOKALIKE
        counting = c.classes[-1] in (CLASS_DIGIT, CLASS_NUMERAL)  # ⑦秒回 counts nothing
        unit = self.unit_untied.match(tail)
        # Glued to disguised digits, only a unit of two or more characters (小时) counts: ...④２４秒回.
        long_unit = unit is not None and len(unit.group().strip()) >= 2
        if (dot_gaps or (switch and long_unit)) and counting and unit and tail[:1] != " ":
            # 391287654 24小时在线, 陆柒...伍24小时: a last group glued to a unit counts something; it is not
            # the number's.
            return "exclude.unit", "tail"
        if is_service_number(c.digits, self.rules) and not c.disguised and not qq:
            # Hotlines are printed to be dialled; one spelled in homophones or numerals is being hidden.
            return "exclude.service_number", "all"
        if self._glued_to_letters(v, s, e, tied):
            return "exclude.code", "all"
        if not tied:
            before, after = (self.before_tight, self.after_tight) if mobile else (self.before, self.after)
            if before.search(canon[max(0, s - self.window) : s]):
                return "exclude.context", "head"
            if after.search(canon[e : e + 12]):
                return "exclude.context", "tail"
            if _DATE8.fullmatch(c.digits):
                return "exclude.date", "all"  # 20241124 with no contact keyword is a date
            if c.digits.endswith("0000") and not c.disguised and not mobile:
                return "exclude.round", "all"  # 100000, 1000000: amounts, not numbers anyone is given
            if len(set(c.digits)) == 1:
                return "exclude.repeated", "all"  # 55555555 is crying (呜呜), not a number
            if c.digits in "01234567890" or c.digits in "98765432109876543210":
                return "exclude.sequence", "all"  # 一二三四五六七八九: counting, not a number
            if c.in_list and not c.disguised:
                return "exclude.number_list", "none"  # 2 9 4 1 5 8 9 9 3 0 2 1 ...: spaced figures
            if not c.alone and _in_table(canon, s, e):
                return "exclude.number_list", "all"  # 1293·78 0·67 16984418409: a row of figures
            if not c.disguised and any(g in _LIST_SEPS for g in gaps):
                # 6.673.581.09, 1,234,567: figures in a table. A '.' at one end only condemns that end.
                # Says nothing about any one group: shorter readings are still tried.
                return "exclude.number_list", "none"
        if mail:
            return None  # 391287654#qq.com is a mailbox, not a link
        head_url, tail_url = _in_url(canon, s), _in_url(canon, e - 1)
        if head_url or tail_url:
            return "exclude.url", "all" if head_url and tail_url else "head" if head_url else "tail"
        return None

    @staticmethod
    def _glued_to_letters(v: Views, s: int, e: int, tied: bool = False) -> bool:
        """Model numbers and codes (ABC12345678, 1234567890abc): letters glued to the digits. After a
        contact keyword, letters after the number are the next word (QQ：391287654CPU)."""
        letters = CLASS_LETTER + CLASS_LOOKALIKE
        before = s > 0 and v.cls[s - 1] in letters
        if before and v.canon[s - 1] == "x" and s > 1 and v.canon[s - 2].isdigit():
            before = False  # an ID number's X check digit, glued to a mobile
        after = not tied and e < len(v.cls) and v.cls[e] in letters
        if after and v.canon[e] == "x" and e - s >= 17:
            after = False  # an ID number's X check digit ends the run
        return before or after

    @staticmethod
    def _date_groups(c: Candidate, gaps: list[str], tied: bool = False) -> int:
        """How many leading groups form a date (and its time): 2007-7-11 14 -> 4; 0 if no date. After a
        contact keyword only a four-digit year makes one (QQ 76 3 8 53 2 is grouped digits)."""
        groups = _groups(c, gaps)
        seps = {g for g in gaps if g}
        if len(groups) >= 3 and seps and seps <= _DATE_SEPS | {" "}:
            y, m, d = groups[0], groups[1], groups[2]
            if (
                ((len(y) == 2 and not tied) or (len(y) == 4 and y[:2] in ("19", "20")))
                and 1 <= len(m) <= 2
                and 1 <= len(d) <= 2
                and 1 <= int(m) <= 12
                and 1 <= int(d) <= 31
            ):
                k = 3
                while k < len(groups) and len(groups[k]) <= 2:
                    k += 1
                return k
        return 0


_DATE8 = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
_LIST_SEPS = (".", ",", "·", "、")
_DECIMAL = re.compile(r"\d[.·]\d")
_CELL = re.compile(r"[0-9.·\-+%\s]*")
_CELL_END = re.compile(r"[0-9.·\-+%\s]*$")


def _in_table(canon: str, s: int, e: int) -> bool:
    """Decimal figures in the same stretch of numbers (no list punctuation or words in between)."""
    left = _CELL_END.search(canon, max(0, s - 16), s)
    right = _CELL.match(canon, e)
    around = (left.group() if left else "") + " " + (right.group() if right else "")
    return _DECIMAL.search(around) is not None


_URL_HINTS = ("://", "www.", ".com", ".htm", ".cn", ".net", ".org", ".php", ".asp")
_URL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789./:?=&_%#-~+")


def _in_url(canon: str, i: int) -> bool:
    """The digit at `i` sits inside a URL or path (.com/thread-1368750-1-2.html)."""
    a = i
    while a > 0 and canon[a - 1] in _URL_CHARS:
        a -= 1
    b = i + 1
    while b < len(canon) and canon[b] in _URL_CHARS:
        b += 1
    return any(h in canon[a:b] for h in _URL_HINTS)


def _is_time(c: Candidate, gaps: list[str]) -> bool:
    """A clock time inside the digits: hours (up to 24) and a colon and two-digit minutes (9:00, 23:30)."""
    groups = _groups(c, gaps)
    seps = [g for g in gaps if g]
    for k, sep in enumerate(seps):
        if sep.strip() in (":", "：") and len(groups[k]) <= 2 and len(groups[k + 1]) == 2:
            if int(groups[k]) <= 24 and int(groups[k + 1]) <= 59:
                return True
    return False


def _groups(c: Candidate, gaps: list[str]) -> list[str]:
    groups = [c.digits[0]]
    for g, d in zip(gaps, c.digits[1:], strict=False):
        if g:
            groups.append("")
        groups[-1] += d
    return groups
