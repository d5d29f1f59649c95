"""Text from sellers' images (OCR lines, finding text, shop names, URLs) and from people (notes) shown
without letting its invisible characters act on the screen around it.

- `visible(text)`: bidirectional controls (Unicode's Bidi_Control set: U+061C, U+200E/200F, U+202A-202E,
  U+2066-2069) and other control characters (C0 but tab and newline, DEL, C1) become a visible marker such
  as `<U+202E>`. Without it, U+202E in a shop name reverses the rest of the line ("s<RLO>gnp.exe" reads
  "sexe.png") including the app's own words after it, and an ESC in OCR text can drive a terminal.
  A CRLF pair (what browsers send for a newline in a textarea) counts as a newline; a lone CR is shown.
  The one function used by the web pages (a Jinja finalize hook, so every `{{ }}` gets it), the terminal
  output of `qqscan review` and CSV exports.
- `json_escape_controls(json_text)`: the same characters as JSON `\\uXXXX` escapes in JSON output: still
  the exact text for a program reading it, inert for a person reading the file.
- `csv_cell(value)`: `visible()` plus the OWASP CSV-injection rule: a text cell starting with
  = + - @ tab or CR gets a leading apostrophe, so a spreadsheet shows it as text instead of running it.
"""

from __future__ import annotations

import re
from typing import Any

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# C0 controls except tab (\x09) and newline (\x0a); DEL; C1 controls; the bidi controls.
_SHOWN = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}]")
_CRLF = re.compile("\r\n")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _marker(m: re.Match[str]) -> str:
    return f"<U+{ord(m.group()):04X}>"


def visible(text: str) -> str:
    """`text` with bidi and control characters replaced by visible `<U+XXXX>` markers."""
    if not _SHOWN.search(text):
        return text  # the common case: nothing to do, same object
    return _SHOWN.sub(_marker, _CRLF.sub("\n", text))


def json_escape_controls(json_text: str) -> str:
    """JSON text (as json.dumps with ensure_ascii=False writes it) with the characters `visible()` marks
    written as \\uXXXX escapes. They can only occur inside JSON strings, where the escape means the same."""
    return _SHOWN.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def csv_cell(value: Any) -> Any:
    """A CSV export cell: text made visible and kept from being read as a formula; other values as is."""
    if not isinstance(value, str):
        return value
    value = visible(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value
