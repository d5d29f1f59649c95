"""Options shared by the commands, so a name and its format mean the same everywhere: `--shop`, `--listing`
(old `--shop-id`/`--listing-id` kept as hidden aliases), `--since` (an age like 1h/2d or an ISO date/time),
`--url`/`-u` for Redis (read from QQSCAN_REDIS_URL, else rq's RQ_REDIS_URL), and `setting_option`: a flag
for a setting of the table (ground/settings.py), whose variable, type, default and help come from there."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from click.core import ParameterSource

from ground.settings import SETTINGS

F = Callable[..., Any]
_CLICK_TYPES: dict[str, Any] = {"int": int, "float": float, "str": str, "path": str, "url": str}


def setting_option(
    *decls: str, setting: str, help: str | None = None, export: bool = False, **kw: Any
) -> Callable[[F], F]:
    """A flag for the setting `setting`: read from its variable (or the config file, which fills the
    environment), typed and defaulted as the table says, so flag, variable, config file and docs agree.
    `help` replaces the table's text (which names the flag); other keywords go to click.option.
    export=True: the command does not take the value; it becomes the setting's variable, which every reader
    in this process and in its child processes (--jobs workers, RQ work horses) goes through."""
    s = SETTINGS[setting]
    kind = click.Choice(s.choices, case_sensitive=False) if s.choices else _CLICK_TYPES.get(s.type, str)
    options: dict[str, Any] = {
        "type": kind,
        "default": s.default,
        "show_default": s.default is not None,
        "envvar": s.name,
        "show_envvar": True,
        "help": help or s.help.replace("`", ""),
    }
    if export:

        def put(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            # A default stays out of the environment (readers have it); a flag, or rq's RQ_REDIS_URL, goes in.
            source = ctx.get_parameter_source(param.name or "")
            if value not in (None, "") and source is not ParameterSource.DEFAULT:
                os.environ[s.name] = str(value)
            return value

        options |= {"expose_value": False, "callback": put}
    return click.option(*decls, **(options | kw))

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """'1h', '30m', '2d', '1w' ago, or an ISO date/time (naive = UTC)."""
    m = _AGO.match(value)
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2).lower()]
        return (now or datetime.now(UTC)) - timedelta(**{unit: float(m.group(1))})
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: use an ISO time (2026-11-24T08:00), a date (2026-11-24) or an age like 1h, 2d"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class Since(click.ParamType):
    """`--since`: an age (1h, 2d) or an ISO date/time, as an aware UTC datetime."""

    name = "AGE|DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_since(str(value))
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)


SINCE = Since()


def since_option(help: str) -> Callable[[F], F]:
    return click.option("--since", type=SINCE, default=None, help=f"{help} An age (1h, 2d) or ISO date/time.")


def _with_alias(new: str, old: str, dest: str, help: str) -> Callable[[F], F]:
    """`new` as the option (value in `dest`), `old` accepted too but hidden from --help."""
    alias = f"{dest}__alias"

    def deco(f: F) -> F:
        @functools.wraps(f)
        def inner(*args: Any, **kwargs: Any) -> Any:
            old_value = kwargs.pop(alias, None)
            if old_value is not None:
                if kwargs.get(dest) not in (None, old_value):
                    raise click.UsageError(f"{new} and {old} say different things: give {new} only")
                kwargs[dest] = old_value
            return f(*args, **kwargs)

        inner = click.option(old, alias, hidden=True, default=None)(inner)
        return click.option(new, dest, default=None, help=help)(inner)  # type: ignore[no-any-return]

    return deco


def shop_option(help: str, dest: str = "shop") -> Callable[[F], F]:
    """`--shop` (the old `--shop-id` also works, hidden)."""
    return _with_alias("--shop", "--shop-id", dest, help)


def listing_option(help: str, dest: str = "listing") -> Callable[[F], F]:
    """`--listing` (the old `--listing-id` also works, hidden)."""
    return _with_alias("--listing", "--listing-id", dest, help)


redis_url_option = setting_option(
    "--url",
    "-u",
    setting="QQSCAN_REDIS_URL",
    envvar=["QQSCAN_REDIS_URL", "RQ_REDIS_URL"],  # rq's own variable too
    export=True,
    show_default=False,
    help="Redis URL of the queues, as `rq --url` (default redis://localhost:6379/0).",
)

database_url_option = setting_option(
    "--database-url",
    "--db",
    setting="QQSCAN_DATABASE_URL",
    export=True,
    help="Results store: sqlite:///PATH (the folder must exist) or postgresql://... "
    "(default: a SQLite file under $XDG_DATA_HOME/qqscan).",
)
