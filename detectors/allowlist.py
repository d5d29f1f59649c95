"""Allow-list from review: contacts moderators dismissed (a shop's official hotline) and phrases that are
not contacts. The pipeline applies it after detection; an allowed finding is kept in the result, marked
with the entry that allowed it, and does not flag the image.

Matching, decided here once:
- "value": the finding's normalised value equals the entry's (compared on letters and digits only,
  case-folded, so "400-820-8820" matches 4008208820); limited to one contact type and/or one shop when
  the entry names them.
- "phrase": the finding's evidence text (as read), NFKC-folded, contains the phrase.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from detectors.base import Finding

KINDS = ("value", "phrase")


@dataclass(frozen=True)
class Allowed:
    id: int
    kind: str  # "value" | "phrase"
    value: str
    contact_type: str | None = None
    shop_id: str | None = None


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def value_key(value: str) -> str:
    return re.sub(r"[\W_]+", "", fold(value))


def allowed_by(finding: Finding, entries: Sequence[Allowed], shop_id: str | None = None) -> Allowed | None:
    """The first entry that allows this finding, or None."""
    for entry in entries:
        if entry.shop_id is not None and entry.shop_id != shop_id:
            continue
        if entry.contact_type is not None and entry.contact_type != finding.type:
            continue
        if entry.kind == "value":
            if finding.value and value_key(finding.value) == value_key(entry.value) != "":
                return entry
        elif entry.kind == "phrase":
            phrase = fold(entry.value).strip()
            if phrase and phrase in fold(finding.text or ""):
                return entry
    return None


def apply(findings: Sequence[Finding], entries: Sequence[Allowed], shop_id: str | None = None) -> int:
    """Mark allowed findings (extra["allowed_by"] = entry id); returns how many were marked."""
    marked = 0
    if not entries:
        return 0
    for finding in findings:
        entry = allowed_by(finding, entries, shop_id)
        if entry is not None:
            finding.extra["allowed_by"] = entry.id
            marked += 1
    return marked
