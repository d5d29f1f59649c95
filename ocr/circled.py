"""Circled zero: the one circled digit the recogniser has no class for.

PP-OCRv6's character list (18,708 characters, in the model's own metadata) holds ① … ⑨ but not ⓪, so a
circled zero can only come out as something else: a ① read with little confidence, or nothing at all (the
blank wins, weakly, with the rest of the probability spread over the circled digits). True circled digits
come out with near certainty. So a line with three or more circled digits is decoded again from the
recogniser's per-step probabilities, and inside its run of circled digits:
- a ① whose best step is below ONE_MAX is a ⓪;
- a step the blank wins below BLANK_MAX, whose runner-up is a circled digit, standing between two emitted
  circled digits and not next to either, is a ⓪ the greedy decoding dropped.
Measured on the devset's and the fixtures' circled lines (docs/accuracy.md): true digits read at 0.98 and
above; the zeros at 0.43-0.58 (as ①) and as blanks at 0.40.
"""

from __future__ import annotations

import numpy as np

ONE_MAX = 0.7
BLANK_MAX = 0.6
MIN_CIRCLED = 3
CIRCLED = "①②③④⑤⑥⑦⑧⑨"
ZERO = "⓪"


def wants_second_look(text: str) -> bool:
    return sum(c in CIRCLED for c in text) >= MIN_CIRCLED


def decode(probs: np.ndarray, characters: list[str]) -> str:
    """Greedy CTC decoding of one crop's step probabilities (T x C, class 0 the blank), with the circled
    zeros put back."""
    best = probs.argmax(1)
    emitted: list[tuple[int, str, float]] = []  # (step, character, its best probability)
    prev = -1
    for t, k in enumerate(best):
        if k != 0 and k != prev:
            emitted.append((t, characters[k], float(probs[t, k])))
        elif k != 0 and emitted:
            step, ch, p = emitted[-1]
            emitted[-1] = (step, ch, max(p, float(probs[t, k])))
        prev = k
    circled_ids = [characters.index(c) for c in CIRCLED if c in characters]
    out: list[tuple[int, str]] = []
    for n, (t, ch, p) in enumerate(emitted):
        before = emitted[n - 1][1] if n else ""
        after = emitted[n + 1][1] if n + 1 < len(emitted) else ""
        in_run = before in CIRCLED or after in CIRCLED or before == ZERO
        out.append((t, ZERO if ch == "①" and p < ONE_MAX and in_run else ch))
    # Zeros the blank swallowed, between two circled digits.
    for n in range(len(out) - 1):
        (t0, a), (t1, b) = out[n], out[n + 1]
        if a not in CIRCLED + ZERO or b not in CIRCLED + ZERO:
            continue
        for t in range(t0 + 2, t1 - 1):
            runner = max(circled_ids, key=lambda k: probs[t, k]) if circled_ids else 0
            if best[t] == 0 and probs[t, 0] < BLANK_MAX and runner and probs[t, runner] >= probs[t, 1:].max():
                out.append((t, ZERO))
                break
    return "".join(ch for _, ch in sorted(out))
