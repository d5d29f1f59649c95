"""Chinese phone numbers: mainland mobiles, landlines with area codes, service numbers, glued ID numbers."""

from __future__ import annotations

import re
from typing import Any

MOBILE = re.compile(r"1[3-9]\d{9}")
# Area codes: 010, 02x, 0[3-9]xx; local numbers never start with 0 or 1.
LANDLINE = re.compile(r"(0(?:10|2\d|[3-9]\d\d))([2-9]\d{6,7})")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def mobile(digits: str) -> str | None:
    """The mobile number in `digits` (an optional 86 / 0086 country code dropped), else None."""
    for prefix in ("0086", "86", ""):
        if digits.startswith(prefix) and MOBILE.fullmatch(digits[len(prefix) :]):
            return digits[len(prefix) :]
    return None


def landline(digits: str) -> tuple[str, str] | None:
    """(area code, local number) if `digits` is a landline with its area code."""
    m = LANDLINE.fullmatch(digits)
    return (m.group(1), m.group(2)) if m else None


_ID = re.compile(r"[1-8]\d{5}(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]")


def is_id_number(digits: str) -> bool:
    """Looks like an 18-digit resident ID: region, birth date, sequence, check digit.

    The check digit is not verified: OCR that glues an ID to a phone number also misreads digits."""
    return _ID.fullmatch(digits) is not None


def id_checksum_ok(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == digits[17]


def split_glued_id(digits: str) -> tuple[int, int] | None:
    """OCR glued an 18-digit ID to an 11-digit mobile: the mobile's (start, end) within `digits`."""
    if len(digits) == 29:
        if is_id_number(digits[:18]) and MOBILE.fullmatch(digits[18:]):
            return (18, 29)
        if MOBILE.fullmatch(digits[:11]) and is_id_number(digits[11:]):
            return (0, 11)
    if len(digits) == 28:
        # An ID ending in the check digit X: the X is not a digit, so 17 ID digits sit next to the mobile.
        if MOBILE.fullmatch(digits[17:]) and is_id_number(digits[:17] + "X"):
            return (17, 28)
        if MOBILE.fullmatch(digits[:11]) and is_id_number(digits[11:] + "X"):
            return (0, 11)
    return None


def is_service_number(digits: str, rules: dict[str, Any]) -> bool:
    ex = rules["exclude"]
    if digits in ex["service_numbers"]:
        return True
    if len(digits) == 10 and any(digits.startswith(p) for p in ex["service_prefixes"]):
        return True
    # 95xxx / 96xxx five-digit national service numbers.
    return len(digits) == 5 and digits[:2] in ("95", "96")
