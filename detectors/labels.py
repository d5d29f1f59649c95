"""Label-then-number: a number right after a label of its own (货号518264-907, 邮编200000, 型号：XJ-40215583).

Not a list of labels but a shape over two lists: any CJK word ending in one of the [labels] suffixes
(号 码 编号 标准 批次 ...) or the [exclude] context_before words, then an optional colon and code prefix,
then the number. A label that is
itself a contact keyword (QQ号, 群号, 手机号, 扣号) or a contact label (我的号码) is not foreign.
"""

from __future__ import annotations

import re
from typing import Any

from detectors.keywords import KEYWORD_REACH, Hits
from detectors.normalize import Views

_PRONOUNS = set("我的是为请加你本人")


class Labels:
    def __init__(self, rules: dict[str, Any]) -> None:
        lab = rules["labels"]
        self.suffixes = tuple(sorted({s.lower() for s in lab["suffixes"]}, key=len, reverse=True))
        cjk_ctx = [w.lower() for w in rules["exclude"]["context_before"] if not w.isascii()]
        self.context = tuple(sorted(set(cjk_ctx), key=len, reverse=True))
        self.contact = tuple(sorted({w.lower() for w in lab["contact_labels"]}, key=len, reverse=True))
        n = int(lab.get("max_label_chars", 6))
        self.window = n + 12
        self._rx = re.compile(
            rf"([\u3400-\u9fff]{{1,{n}}})[\s:：#=是为]*(?:no\.?\s*)?(?:[a-z]{{1,4}}[-_\s]*)?$"
        )

    def foreign(self, v: Views, start: int, hits: Hits) -> bool:
        """The digits starting at `start` carry a label of their own that names no contact."""
        lo = max(0, start - self.window)
        m = self._rx.search(v.canon, lo, start)
        if m is None:
            return False
        label = m.group(1)
        if not (label.endswith(self.suffixes) or label.endswith(self.context)):
            return False
        a, b = m.span(1)
        if any(h.end > a for h in hits.starting_in(a - KEYWORD_REACH, b)):
            return False  # QQ号, 手机号, 联系电话: the label is a contact keyword
        for h in hits.starting_in(b, start):
            # 货号 QQ 391287654: a contact keyword between label and number introduces it; glued to the
            # number, or joined as a code's prefix is, it is that prefix (SKU编码 WX63414003, WX-7982270).
            if not h.short and h.kind != "verb" and v.canon[h.end : start].strip("-_/.") != "":
                return False
        if label.endswith("号码") and not label.endswith(self.context):
            return False  # 手机号码, 投诉号码: a phone number's label; 订单号码 is a context word
        for w in self.contact:
            if label.endswith(w):
                head = label[: len(label) - len(w)]
                if not head or head[-1] in _PRONOUNS:
                    return False  # 号码：, 我的号码：
        return True
