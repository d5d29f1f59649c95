"""Word evidence from real text: jieba's dictionary (word -> frequency counted over a large corpus).

Used where a character sequence could be a disguise or an ordinary word: a keyword followed by a product
word (QQ音乐), an edge homophone that forms a word with its neighbour (会议, 期间), a sound-alike keyword
that is a common word of its own (口号). Loaded on first use (about a second), never for most lines.
"""

from __future__ import annotations

import logging
from functools import lru_cache


@lru_cache(maxsize=1)
def _freq() -> dict[str, int]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.dt.check_initialized()
    return jieba.dt.FREQ


def freq(word: str) -> int:
    """How often `word` occurs as a word in jieba's corpus (0 if it is not in the dictionary)."""
    return _freq().get(word) or 0


def longest_word(text: str, min_freq: int, max_len: int = 4) -> str | None:
    """The longest prefix of `text` (2..max_len characters) that is a word of at least `min_freq`."""
    for n in range(min(max_len, len(text)), 1, -1):
        if freq(text[:n]) >= min_freq:
            return text[:n]
    return None


@lru_cache(maxsize=1)
def _tags() -> dict[str, str]:
    import jieba.posseg

    _freq()
    return jieba.posseg.dt.word_tag_tab


def is_noun(word: str) -> bool:
    """jieba tags the word as a common noun (n) or other proper noun (nz): 音乐, 游戏, 红包; not 优惠 (vn)."""
    return _tags().get(word, "") in ("n", "nz")


def tag(word: str) -> str:
    """jieba's part-of-speech tag for the word ("" if it is not in the dictionary)."""
    return _tags().get(word, "")
