"""QQ numbers: which rule (if any) makes a candidate number a QQ contact."""

from __future__ import annotations

from typing import Any

from detectors.runs import Candidate


def qq_rule(
    c: Candidate, kind: str | None, rules: dict[str, Any], near: bool = False, direct: bool = False
) -> str | None:
    """The QQ rule for candidate `c` tied to a keyword of `kind` (None: no keyword), or None.

    QQ numbers have 5-11 digits and never start with 0. Without a keyword, only a disguised run (numerals,
    circled digits, homophones: ordinary text almost never has one this long) or a long plain run with a
    contact word `near` it (alone, a plain run is a serial or a trace code).
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
        # A verb asking for contact with me (联系我, 加我, 私我, add me) ties from the shortest QQ length.
        return "qq.contact_verb" if n >= 6 or (direct and n >= int(q["min_digits"])) else None
    if c.core_disguised:
        need = int(q["min_homophone_disguise_digits"] if c.homophones else q["min_disguise_digits"])
        return "qq.disguise" if n >= need else None
    # Plain digits with no keyword: only one unbroken block (6031669 1599 is two figures in a table).
    # (and alone in its run: 1239·90 3·84 28015046099 is a row of a table).
    contiguous = c.end - c.start == n
    return "qq.bare" if near and n >= int(q["bare_min_digits"]) and contiguous and c.alone else None
