"""QQ numbers: which rule (if any) makes a candidate number a QQ contact."""

from __future__ import annotations

from typing import Any

from detectors.runs import Candidate


def qq_rule(c: Candidate, kind: str | None, rules: dict[str, Any]) -> str | None:
    """The QQ rule for candidate `c` tied to a keyword of `kind` (None: no keyword), or None.

    QQ numbers have 5-11 digits and never start with 0. Without a keyword, only a disguised run (numerals,
    circled digits, homophones: ordinary text almost never has one this long) or a long plain run counts.
    """
    q = rules["qq"]
    digits = c.digits
    n = len(digits)
    if not (int(q["min_digits"]) <= n <= int(q["max_digits"])) or digits[0] == "0":
        return None
    if kind == "qq":
        return "qq.keyword"
    if kind == "qq_group":
        return "qq.group"
    if kind == "verb":
        return "qq.contact_verb" if n >= 6 else None
    if c.disguised:
        need = int(q["min_homophone_disguise_digits"] if c.homophones else q["min_disguise_digits"])
        return "qq.disguise" if n >= need else None
    return "qq.bare" if n >= int(q["bare_min_digits"]) else None
