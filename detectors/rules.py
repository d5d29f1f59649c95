"""Load the detector rules (vocab.toml + optional operator override) and derive the rules version."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from qqscan.errors import UsageError
from qqscan.settings import setting

SHIPPED = Path(__file__).with_name("vocab.toml")
ENV_OVERRIDE = "QQSCAN_RULES"


class RulesError(UsageError, ValueError):
    """The rules file (shipped or QQSCAN_RULES override) is unreadable or malformed."""


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

    `override` defaults to $QQSCAN_RULES. An override with `replace = true` replaces the shipped file.
    """
    rules = _read(SHIPPED)
    path = override if override is not None else setting(ENV_OVERRIDE)
    if path:
        extra = _read(Path(path))
        rules = dict(extra) if extra.pop("replace", False) else _merge(rules, extra)
    return rules


def rules_version(rules: dict[str, Any]) -> str:
    """`<version>+<hash>`: the declared version plus a short hash of the effective content."""
    digest = hashlib.sha256(json.dumps(rules, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"{rules.get('version', '0')}+{digest[:8]}"
