"""What the recogniser must read: contacts in glyphs PP-OCRv5 mobile dropped (fixtures/hard.py).

Each generated hard case is scanned end to end with the default engine; the number drawn must come back
digit for digit from the OCR text and as a QQ finding with the exact value.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fixtures.hard import FAMILIES, digits_read
from jobs.pipeline import scan_bytes


def _family(rel: str) -> str:
    return rel.split("/")[1].rsplit("_", 1)[0]


@pytest.fixture(scope="module")
def hard_results(engine, fixture_dir: Path, manifest: list[dict]) -> list[tuple[dict, bool, bool, str]]:
    out = []
    for item in (e for e in manifest if e["set"] == "hard"):
        (c,) = item["contacts"]
        r = scan_bytes((fixture_dir / item["file"]).read_bytes(), item["file"], engine=engine)
        text = " / ".join(ln.text for ln in r.lines)
        read = c["value"] in digits_read("".join(ln.text for ln in r.lines))
        found = c["value"] in {f.value for f in r.findings if f.type == "qq"}
        out.append((item, read, found, text))
    return out


def test_every_family_is_generated(hard_results) -> None:
    families = Counter(_family(item["file"]) for item, *_ in hard_results)
    assert set(families) == set(FAMILIES) and min(families.values()) >= 5


def test_hard_cases_are_read_digit_for_digit(hard_results) -> None:
    # Measured with the default engine (PP-OCRv6 small): 28 of 30; the two misses are thin serif circled
    # digits (⑨ and ⑧ misread, ⓪ as ◎). PP-OCRv5 mobile misses 3: a regression towards it fails here.
    misses = [(i["file"], i["contacts"][0]["shown"], t) for i, read, _, t in hard_results if not read]
    assert len(misses) <= 2, misses


def test_hard_cases_are_found_with_the_exact_value(hard_results) -> None:
    misses = [(i["file"], i["contacts"][0]["value"], t)
              for i, read, found, t in hard_results if read and not found]
    assert not misses, misses
