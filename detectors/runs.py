"""Digit-like runs in the class view, and the candidate numbers each run offers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from detectors.normalize import (
    CLASS_DIGIT,
    CLASS_DISGUISED,
    CLASS_HOMOPHONE,
    CLASS_LETTER,
    CLASS_LOOKALIKE,
    CLASS_NUMERAL,
    CLASS_OTHER,
    CLASS_SPOKEN,
    DIGIT_CLASSES,
)

# Edge characters `drop` may rule out: homophones, look-alikes, and numerals that are words too (一进).
TRIMMABLE = CLASS_HOMOPHONE + CLASS_LOOKALIKE + CLASS_NUMERAL
PLAIN = CLASS_DIGIT + CLASS_LOOKALIKE
FIRM = CLASS_DIGIT + CLASS_DISGUISED + CLASS_NUMERAL + CLASS_SPOKEN
_STRONG = CLASS_DIGIT + CLASS_DISGUISED + CLASS_NUMERAL
# A block of ASCII letters: its look-alikes (o, l, i) are digits only if the whole block is look-alikes.
_LETTER_BLOCK = re.compile(f"[{CLASS_LETTER}{CLASS_LOOKALIKE}]+")
EdgeDrop = Callable[[int, int, bool, str], bool]
_IGNORABLE = set("\u200b\u200c\u200d\u2060\ufeff\ufe0f\ufe0e\u20e3")


def fix_lookalikes(cls: str, canon: str, units: frozenset[str], max_block: int, words: frozenset[str]) -> str:
    """Demote look-alikes (O l S B ...) to letters unless they form a short letter block of their own glued
    to a digit: a block holding any other letter is a word or a code (iPhone, SM-G9910), a long one is a
    word (BIOS), a block at the end of a run that is a unit (1380000000g, 256GB; not 81b7884l不加) or a
    word (ISO9001) is that."""
    if CLASS_LOOKALIKE not in cls:
        return cls
    out = list(cls)
    for m in _LETTER_BLOCK.finditer(cls):
        s, e = m.span()
        block = m.group()
        # A single look-alike between a digit and a homophone / spoken digit counts too (q47i久i久i82).
        near = _STRONG if e - s > 1 else _STRONG + CLASS_HOMOPHONE + CLASS_SPOKEN
        before = s > 0 and cls[s - 1] in near
        after = e < len(cls) and cls[e] in near
        if e - s == 1 and not (
            (s > 0 and cls[s - 1] in _STRONG) or (e < len(cls) and cls[e] in _STRONG) or (before and after)
        ):
            before = after = False  # a lone letter beside one homophone is a word (S型酒)
        word = canon[s:e]
        if (not word[0].isalnum() and not before) or (not word[-1].isalnum() and not after):
            keep = False  # '|' '!' are digits only between digits
        else:
            inner = before and after
            keep = (
                (before or after)
                and CLASS_LETTER not in block
                and e - s <= max_block
                and not (before and not after and word in units and not _cjk_at(canon, e))
                and (inner or word not in words)
            )
        if not keep:
            for i in range(s, e):
                if out[i] == CLASS_LOOKALIKE:
                    out[i] = CLASS_LETTER if canon[i].isalnum() else CLASS_OTHER
    return "".join(out)


def _cjk_at(text: str, i: int) -> bool:
    return i < len(text) and "\u3400" <= text[i] <= "\u9fff"


@dataclass(frozen=True)
class Candidate:
    """A number made of some digit positions of one run."""

    positions: tuple[int, ...]  # offsets of each digit in the text
    digits: str
    classes: str  # class letter per digit
    alone: bool = True  # the whole run: no other digit group shares its run (tables, lists)
    in_list: bool = False  # short groups cut out of a longer sequence of such groups (engine._cuts_list)

    @property
    def start(self) -> int:
        return self.positions[0]

    @property
    def end(self) -> int:
        return self.positions[-1] + 1

    @property
    def disguised(self) -> bool:
        return any(c != CLASS_DIGIT for c in self.classes)

    @property
    def homophones(self) -> bool:
        return CLASS_HOMOPHONE in self.classes

    def gaps(self, text: str, canon: str) -> list[str]:
        """Canonical text between consecutive digits, keycap modifiers and zero-width characters removed."""
        return _gaps(self.positions, text, canon)

    @property
    def core_disguised(self) -> bool:
        """Really written in disguise: at least half the digits non-ASCII (叁玖壹, ③⑨①, 伞酒依), or non-ASCII
        digits woven between ASCII ones (3九1二8七6五4). A word before or after a plain number (以2008,
        一起 39128765, 1995、1996三) is not a disguise; nor are look-alike letters (they need a keyword)."""
        cl = self.classes.replace(CLASS_LOOKALIKE, CLASS_DIGIT)
        odd = [k for k, c in enumerate(cl) if c != CLASS_DIGIT]
        if len(odd) * 2 >= len(cl):
            return True
        return any(0 < k < len(cl) - 1 and cl[k - 1] == CLASS_DIGIT and cl[k + 1] == CLASS_DIGIT for k in odd)


def _gaps(p: tuple[int, ...] | list[int], text: str, canon: str) -> list[str]:
    return [
        "".join(canon[i] for i in range(a + 1, b) if text[i] not in _IGNORABLE)
        for a, b in zip(p, p[1:], strict=False)
    ]


def enumerator(canon: str, group: list[int] | range) -> bool:
    """The digit group numbers an item of a list: one or two digits and a mark (3. 4、 5） 6)), not a
    decimal point before more digits."""
    end = group[-1] + 1
    return (
        len(group) <= 2
        and canon[end : end + 1] in (".", "、", ")", "）")
        and not canon[end + 1 : end + 2].isdigit()
    )


def find_runs(cls: str, max_sep: int) -> list[tuple[int, int]]:
    rx = _run_regex(max_sep)
    return [m.span() for m in rx.finditer(cls)]


_RUN_RX: dict[int, re.Pattern[str]] = {}


def _run_regex(max_sep: int) -> re.Pattern[str]:
    if max_sep not in _RUN_RX:
        # Keycap digits carry two modifiers each, counted as separators: allow for them.
        _RUN_RX[max_sep] = re.compile(f"[{DIGIT_CLASSES}](?:_{{0,{max_sep}}}[{DIGIT_CLASSES}])*")
    return _RUN_RX[max_sep]


def _make(positions: list[int], value: str, cls: str) -> Candidate:
    return Candidate(
        tuple(positions), "".join(value[i] for i in positions), "".join(cls[i] for i in positions)
    )


def _trim_edges(pos: list[int], cls: str, drop: EdgeDrop | None) -> list[int]:
    """Drop homophones / look-alikes at the edges of a run when `drop(i, inner, leading, classes)` says the
    character at i is not a digit there (a word with its neighbour: 会议三九..., 加我就391287654);
    `classes`: the class letters of the whole run. Spoken forms (幺 两 拐) and numerals stay."""
    if drop is None:
        return pos
    classes = "".join(cls[i] for i in pos)
    a, b = 0, len(pos)
    while a < b - 1 and cls[pos[a]] in TRIMMABLE and drop(pos[a], pos[a + 1], True, classes):
        a += 1
    while b - 1 > a and cls[pos[b - 1]] in TRIMMABLE and drop(pos[b - 1], pos[b - 2], False, classes):
        b -= 1
    return pos[a:b]


def digit_groups(span: tuple[int, int], text: str, canon: str, cls: str) -> list[list[int]]:
    """Digit positions of a run, split wherever a separator stands between two digits (138 1234 5678)
    and where plain digits meet disguised ones (③⑨①②⑧⑦⑥⑤④2: the 2 belongs to what follows)."""
    pos = [i for i in range(span[0], span[1]) if cls[i] in DIGIT_CLASSES]
    groups = [[pos[0]]]
    for (a, b), gap in zip(zip(pos, pos[1:], strict=False), _gaps(pos, text, canon), strict=True):
        if gap or (cls[a] in PLAIN) != (cls[b] in PLAIN):
            groups.append([])
        groups[-1].append(b)
    return groups


def readings(
    positions: list[int],
    cls: str,
    value: str,
    alone: bool = True,
    in_list: bool = False,
    counted: Callable[[int], bool] | None = None,
    drop: EdgeDrop | None = None,
) -> list[Candidate]:
    """The ways to read these digit positions as one number, best first: without weak edge characters
    (加我就391287654: 就 is not a 9); without a last 一/两 that counts the next word (...捌一个, ...4两只);
    as written. `counted(i)`: the character at i is 一/两 and a measure word follows it; `drop`: see
    _trim_edges."""
    out = []
    trimmed = _trim_edges(positions, cls, drop)
    if trimmed and trimmed != positions:
        out.append(_make(trimmed, value, cls))
    last = positions[-1]
    if counted is not None and len(positions) > 1 and cls[last] not in PLAIN and counted(last):
        out.append(_make(positions[:-1], value, cls))
    out.append(_make(positions, value, cls))
    return [replace(c, alone=alone, in_list=in_list) for c in out] if not alone or in_list else out
