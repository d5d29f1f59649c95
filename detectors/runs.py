"""Digit-like runs in the class view, and the candidate numbers each run offers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from detectors.normalize import (
    CLASS_DIGIT,
    CLASS_DISGUISED,
    CLASS_HOMOPHONE,
    CLASS_LETTER,
    CLASS_LOOKALIKE,
    CLASS_NUMERAL,
    CLASS_SPOKEN,
    DIGIT_CLASSES,
)

_WEAK = CLASS_HOMOPHONE + CLASS_SPOKEN + CLASS_LOOKALIKE
_STRONG = CLASS_DIGIT + CLASS_DISGUISED + CLASS_NUMERAL
# A block of ASCII letters: its look-alikes (o, l, i) are digits only if the whole block is look-alikes.
_LETTER_BLOCK = re.compile(f"[{CLASS_LETTER}{CLASS_LOOKALIKE}]+")
_IGNORABLE = set("\u200b\u200c\u200d\u2060\ufeff\ufe0f\ufe0e\u20e3")


def fix_lookalikes(cls: str) -> str:
    """Demote o/l/i to letters unless they form a letter block of their own glued to a digit."""
    if CLASS_LOOKALIKE not in cls:
        return cls
    out = list(cls)
    for m in _LETTER_BLOCK.finditer(cls):
        s, e = m.span()
        block = m.group()
        glued = (s > 0 and cls[s - 1] in _STRONG) or (e < len(cls) and cls[e] in _STRONG)
        if CLASS_LETTER in block or not glued:
            for i in range(s, e):
                if out[i] == CLASS_LOOKALIKE:
                    out[i] = CLASS_LETTER
    return "".join(out)


@dataclass(frozen=True)
class Candidate:
    """A number made of some digit positions of one run."""

    positions: tuple[int, ...]  # offsets of each digit in the text
    digits: str
    classes: str  # class letter per digit

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

    def gaps(self, text: str) -> list[str]:
        """Text between consecutive digits, ignorable characters (keycap modifiers) removed."""
        p = self.positions
        return [
            "".join(ch for ch in text[a + 1 : b] if ch not in _IGNORABLE)
            for a, b in zip(p, p[1:], strict=False)
        ]


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


def _trim_weak(pos: list[int], cls: str) -> list[int]:
    """Drop homophones / spoken forms at the edges of a mostly strong run (加我就391287654: 就 is not 9)."""
    if sum(cls[i] in _STRONG for i in pos) < 4:
        return pos
    a, b = 0, len(pos)
    while a < b and cls[pos[a]] in _WEAK:
        a += 1
    while b > a and cls[pos[b - 1]] in _WEAK:
        b -= 1
    return pos[a:b]


def candidates(span: tuple[int, int], text: str, cls: str, value: str) -> list[list[Candidate]]:
    """Alternatives for one run, best first; each alternative is a list of numbers read from the run.

    1. the whole run; 2. the run without weak edge characters; 3. the run split at hard gaps (line breaks,
    wide separators), each piece whole or trimmed.
    """
    s, e = span
    pos = [i for i in range(s, e) if cls[i] in DIGIT_CLASSES]
    out: list[list[Candidate]] = [[_make(pos, value, cls)]]
    trimmed = _trim_weak(pos, cls)
    if trimmed and trimmed != pos:
        out.append([_make(trimmed, value, cls)])
    pieces: list[list[int]] = [[pos[0]]]
    for a, b in zip(pos, pos[1:], strict=False):
        gap = "".join(ch for ch in text[a + 1 : b] if ch not in _IGNORABLE)
        if "\n" in gap or len(gap) >= 2 or (cls[a] in _STRONG) != (cls[b] in _STRONG):
            pieces.append([])
        pieces[-1].append(b)
    if len(pieces) > 1:
        alt = []
        for p in pieces:
            t = _trim_weak(p, cls)
            alt.append(_make(t or p, value, cls))
        out.append(alt)
    return out
