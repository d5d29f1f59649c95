"""Load the detector rules (vocab.toml + optional operator override), check the override, and derive the
rules version.

An override is checked against the shipped file before it is used, so a typo or a wrong type is one line
naming the file and the key instead of a traceback or a detector that silently stops (a negative
`max_separator_run` stopped QQ detection). The expected type of every key is the type of its shipped
value, so keys added to vocab.toml later are covered without touching this module:
- a top-level table (`[digits]`) is a section: its keys are fixed, an unknown one is a typo;
- a table inside a section (`traditional = { ... }`) is data: any keys, values of the shipped values' type;
- a list holds elements of its shipped elements' types; a whole number fits where a number goes.
Numbers also get a range: RANGES where a key needs a tighter one, else at least 0 (every number in the
rules is a count, a length, a window or a word frequency).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, TypeAlias

from ground.errors import UsageError

SHIPPED = Path(__file__).with_name("vocab.toml")
ENV_OVERRIDE = "QQSCAN_RULES"


class RulesError(UsageError, ValueError):
    """The rules file (shipped or QQSCAN_RULES override) is unreadable or malformed."""


# (section, key) -> (minimum, maximum or None); "*" = every key of the section.
RANGES: dict[tuple[str, str], tuple[float, float | None]] = {
    ("confidence", "*"): (0, 1),
    # a number has at least one digit
    **{("qq", k): (1, None) for k in ("min_digits", "max_digits", "min_disguise_digits",
                                      "min_homophone_disguise_digits", "bare_min_digits",
                                      "inner_keyword_min_digits", "max_group_digits")},
}  # fmt: skip
DEFAULT_MINIMUM = 0
# (smaller, larger): a QQ length window that is empty would find no QQ number at all.
ORDERED = [(("qq", "min_digits"), ("qq", "max_digits"))]

# A key's expected shape: "bool" | "int" | "float" | "str", or ("list" | "table", the element shapes).
Shape: TypeAlias = str | tuple[str, frozenset[Any]]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Lists extend (deduplicated, order kept), tables merge, scalars are replaced."""
    out = dict(base)
    for key, val in over.items():
        cur = out.get(key)
        if isinstance(cur, dict) and isinstance(val, dict):
            out[key] = _merge(cur, val)
        elif isinstance(cur, list) and isinstance(val, list):
            seen = [json.dumps(x, sort_keys=True) for x in cur]
            out[key] = cur + [x for x in val if json.dumps(x, sort_keys=True) not in seen]
        else:
            out[key] = val
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise RulesError(f"cannot read rules file {path}: {exc}; fix the path in ${ENV_OVERRIDE}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file {path} is not valid TOML: {exc}") from exc


def load_rules(override: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The effective rules: the shipped file, merged with (or replaced by) the override file if given.

    `override` is QQSCAN_RULES's value (None: the shipped file alone). An override with `replace = true`
    replaces the shipped file (and must then set every key it has). RulesError, naming the file and the
    key, for an override that does not fit the shipped file's keys, types and ranges.
    """
    rules = _read(SHIPPED)
    path = override
    if path:
        extra = _read(Path(path))
        check_override(extra, rules, f"rules file {path}")
        rules = dict(extra) if extra.pop("replace", False) else _merge(rules, extra)
        _check_order(rules, f"rules file {path}")
    return rules


def check_override(extra: dict[str, Any], shipped: dict[str, Any], where: str) -> None:
    """RulesError for the first key of `extra` that `shipped` does not have, or whose value does not have
    the shipped value's type or is out of range; with `replace = true`, also for a shipped key it lacks."""
    replace = extra.get("replace", False)
    if not isinstance(replace, bool):
        raise RulesError(f"{where}: replace = {_shown(replace)}: must be true or false")
    for key, value in extra.items():
        if key == "replace":
            continue
        expected = _known(shipped, key, where, "")
        if not isinstance(expected, dict):
            _check_value(value, _shape(expected), ("", key), where)
            continue
        if not isinstance(value, dict):
            raise RulesError(f"{where}: {key} = {_shown(value)}: must be a table (a [{key}] section)")
        for name, item in value.items():
            _check_value(item, _shape(_known(expected, name, where, key)), (key, name), where)
    lacking = _first_missing(extra, shipped) if replace else None
    if lacking:
        raise RulesError(f"{where}: {lacking} is missing (a file with replace = true must set every key of "
                         "the shipped vocab.toml)")  # fmt: skip


def _first_missing(extra: dict[str, Any], shipped: dict[str, Any]) -> str | None:
    """The first shipped key (or section key) a replacing file does not set."""
    for key, expected in shipped.items():
        if key not in extra:
            return f"[{key}]" if isinstance(expected, dict) else key
        if isinstance(expected, dict):
            for name in expected:
                if name not in extra[key]:
                    return f"[{key}] {_toml_key(name)}"
    return None


def _known(table: dict[str, Any], key: str, where: str, section: str) -> Any:
    """The shipped value of `key`, or RulesError naming the unknown key and the nearest known one."""
    if key in table:
        return table[key]
    near = difflib.get_close_matches(key, list(table), n=1)
    if section:
        hint = f" (did you mean {_toml_key(near[0])}?)" if near else ""
        raise RulesError(f"{where}: [{section}] {_toml_key(key)}: unknown key{hint}")
    if isinstance(table.get(near[0]) if near else None, dict):
        raise RulesError(f"{where}: [{key}]: unknown section (did you mean [{near[0]}]?)")
    raise RulesError(
        f"{where}: {_toml_key(key)}: unknown key" + (f" (did you mean {near[0]}?)" if near else "")
    )


def _shape(value: Any) -> Shape:
    """The shape of a shipped value (see Shape); containers by the shapes of what they hold."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return ("list", frozenset(_shape(v) for v in value))
    if isinstance(value, dict):
        return ("table", frozenset(_shape(v) for v in value.values()))
    return "str"  # tomllib also yields dates; the vocabulary has none


def _fits(value: Any, shape: Shape) -> bool:
    if isinstance(shape, tuple):
        kind, inner = shape
        items = value if kind == "list" and isinstance(value, list) else None
        if kind == "table" and isinstance(value, dict):
            items = list(value.values())
        return items is not None and (not inner or all(any(_fits(v, s) for s in inner) for v in items))
    if shape == "bool" or isinstance(value, bool):
        return shape == "bool" and isinstance(value, bool)
    if shape == "int":
        return isinstance(value, int)
    if shape == "float":
        return isinstance(value, int | float)
    return isinstance(value, str)


_NAMES = {"bool": ("true or false", "true/false values"), "int": ("an integer", "integers"),
          "float": ("a number", "numbers"), "str": ("a string", "strings")}  # fmt: skip


def _describe(shape: Shape, plural: bool = False) -> str:
    """What a shape is, in words: "a list of strings", "tables of lists of strings" ..."""
    if isinstance(shape, tuple):
        kind, inner = shape
        held = " or ".join(sorted(_describe(s, plural=True) for s in inner))
        return (f"{kind}s" if plural else f"a {kind}") + (f" of {held}" if held else "")
    return _NAMES[shape][1 if plural else 0]


def _range(section: str, key: str) -> tuple[float, float | None]:
    return RANGES.get((section, key)) or RANGES.get((section, "*")) or (DEFAULT_MINIMUM, None)


def _check_value(value: Any, shape: Shape, at: tuple[str, str], where: str) -> None:
    section, key = at
    what = (f"[{section}] " if section else "") + f"{_toml_key(key)} = {_shown(value)}"
    if shape not in ("int", "float"):
        if not _fits(value, shape):
            raise RulesError(f"{where}: {what}: must be {_describe(shape)}")
        return
    low, high = _range(section, key)
    if high is not None:
        need = f"{'an integer' if shape == 'int' else 'a number'} from {low:g} to {high:g}"
    else:
        need = f"{_describe(shape)} >= {low:g}"
    if not _fits(value, shape) or value < low or (high is not None and value > high):
        raise RulesError(f"{where}: {what}: must be {need}")


def _check_order(rules: dict[str, Any], where: str) -> None:
    for (s1, k1), (s2, k2) in ORDERED:
        small, large = rules.get(s1, {}).get(k1), rules.get(s2, {}).get(k2)
        if isinstance(small, int | float) and isinstance(large, int | float) and small > large:
            raise RulesError(
                f"{where}: [{s1}] {k1} = {_shown(small)}: must be at most [{s2}] {k2} = {_shown(large)}"
            )


def _toml_key(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted ("qq.keyword")."""
    return (
        key
        if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
        else json.dumps(key, ensure_ascii=False)
    )


def _shown(value: Any, width: int = 60) -> str:
    """A value as TOML would show it (JSON is close enough for strings, numbers, booleans and lists)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def rules_version(rules: dict[str, Any]) -> str:
    """`<version>+<hash>`: the declared version plus a short hash of the effective content."""
    digest = hashlib.sha256(json.dumps(rules, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"{rules.get('version', '0')}+{digest[:8]}"
