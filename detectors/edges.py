"""Evidence for the ends of a digit run: is the homophone / numeral / look-alike at an edge a digit, or
part of the text around it? Decided with jieba's dictionary (words, part of speech, frequencies)."""

from __future__ import annotations

from typing import Any

from detectors import words
from detectors.normalize import CLASS_DIGIT, CLASS_HOMOPHONE, CLASS_NUMERAL, Views
from detectors.runs import FIRM, PLAIN, EdgeDrop

# jieba part-of-speech tags of words that start a phrase: verb, adverb, preposition, conjunction, particle.
_FUNCTION_TAGS = ("v", "d", "p", "c", "y", "u")


class EdgeEvidence:
    def __init__(self, rules: dict[str, Any]) -> None:
        q = rules["qq"]
        self.edge_word_freq = int(q.get("edge_word_min_freq", 50))
        self.edge_char_freq = int(q.get("edge_char_min_freq", 20000))
        self.edge_glued_freq = int(q.get("edge_glued_char_min_freq", 5000))

    def drop(self, v: Views, untied: bool) -> EdgeDrop:
        """Is the homophone / look-alike at the edge of a run not a digit? Decided on evidence, not a list.
        Glued to more CJK text, it is dropped when it makes a jieba word with the character outside
        (会议三九..., ...零期间); or, in a run mostly of plain digits or with no keyword before it, when the
        run turns from ASCII digits to text there (加我就391287654), when no keyword ties a run of 4+
        firmer digits (这意①③⑧...: glued into a sentence), or when it is a common word on its own and a
        word follows (...7领红包). At the end of the text only a frequent function word after plain digits
        is dropped (QQ391287654吧). '|' '!' at an edge are punctuation."""
        n = len(v.canon)

        def drop(i: int, inner: int, leading: bool, classes: str) -> bool:
            ch = v.canon[i]
            firm = sum(c in FIRM for c in classes)
            dense = sum(c not in PLAIN for c in classes) * 2 >= len(classes)
            if v.cls[i] == CLASS_NUMERAL:
                # 942257一进房间: a frequent numeral between plain digits and text is a word there.
                out = i - 1 if leading else i + 1
                glued = 0 <= out < n and "\u3400" <= v.canon[out] <= "\u9fff"
                plain = v.cls[inner] == CLASS_DIGIT and v.text[inner].isascii()
                return not dense and glued and plain and self.function_word(ch)
            if v.cls[i] != CLASS_HOMOPHONE:
                return not ch.isalnum()
            out = i - 1 if leading else i + 1
            inner_plain = v.cls[inner] == CLASS_DIGIT and v.text[inner].isascii()
            if 0 <= out < n and "\u3400" <= v.canon[out] <= "\u9fff":
                if self.makes_word(v.canon, i if leading else out):
                    return True
                if classes.count(CLASS_HOMOPHONE) == len(classes):
                    return False  # every digit a homophone (伞酒依...死谢谢): the last one is a digit too
                if untied and firm >= 4:
                    return True  # 这意①③⑧...: a run of firm digits glued into a sentence
                if not dense and (inner_plain or _after_plain(v, i, leading)):
                    return True  # plain digits turning into text (加我就391287654, 31621270商务机)
                # Otherwise its ends are digits, unless a verb / particle starts the words that follow
                # (...玖领红包).
                return not leading and self.starts_phrase(ch, v.canon[out : out + 4])
            return inner_plain and self.function_word(ch)

        return drop

    def makes_word(self, canon: str, j: int) -> bool:
        """canon[j - 1] and canon[j] make a word of the dictionary (edge_word_min_freq): 三九 in 会议三九."""
        return j > 0 and words.freq(canon[j - 1 : j + 1]) >= self.edge_word_freq

    def function_word(self, ch: str) -> bool:
        """`ch` is frequent on its own (edge_char_min_freq): 就 吧 一 at an edge are words, not digits."""
        return words.freq(ch) >= self.edge_char_freq

    def starts_phrase(self, ch: str, after: str) -> bool:
        """`ch` is a common verb / adverb / particle on its own (jieba) and a word follows: 领 in 领红包."""
        if words.freq(ch) < self.edge_glued_freq or words.tag(ch) not in _FUNCTION_TAGS:
            return False
        return words.longest_word(after, self.edge_word_freq) is not None


def _after_plain(v: Views, i: int, leading: bool) -> bool:
    """Only homophones between the edge at i and a plain ASCII digit (31621270商务机): text there."""
    step = 1 if leading else -1
    j = i + step
    while 0 <= j < len(v.cls) and v.cls[j] == CLASS_HOMOPHONE:
        j += step
    return 0 <= j < len(v.cls) and v.cls[j] == CLASS_DIGIT and v.text[j].isascii()
