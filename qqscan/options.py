"""Options shared by the commands, so a name and its format mean the same everywhere: `--shop`, `--listing`
(old `--shop-id`/`--listing-id` kept as hidden aliases), `--since` (an age like 1h/2d or an ISO date/time),
`--url`/`-u` for Redis (read from QQSCAN_REDIS_URL, else rq's RQ_REDIS_URL), and `setting_option`: a flag
for a setting of the table (ground/settings.py), whose variable, type, default and help come from there.

The settings of a command are one frozen `Settings` (config file, environment, flags) on click's context:
the root group loads it (`--config`), a flag given on the command line is added to it, and the command
passes it down (`cli_settings()`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from click.core import ParameterSource

from ground.settings import SETTINGS, Settings

F = Callable[..., Any]
_CLICK_TYPES: dict[str, Any] = {"int": int, "float": float, "str": str, "path": str, "url": str}


def cli_settings() -> Settings:
    """The running command's settings: the root group's (config file, environment) with its flags on top.
    A command invoked without the root group (a test calling it alone) reads them here: the CLI is an edge."""
    ctx = click.get_current_context()
    found = ctx.find_object(Settings)
    if found is None:
        found = ctx.find_root().obj = Settings.load()
    return found


def setting_option(
    *decls: str, setting: str, help: str | None = None, export: bool = False, **kw: Any
) -> Callable[[F], F]:
    """A flag for the setting `setting`, typed and defaulted as the table says and by the command's settings
    (config file, then variable), so flag, variable, config file and docs agree. `help` replaces the
    table's text (which names the flag); other keywords go to click.option.
    export=True: the command does not take the value; a flag given goes into the command's settings
    (cli_settings), which the command passes down."""
    s = SETTINGS[setting]
    kind = click.Choice(s.choices, case_sensitive=False) if s.choices else _CLICK_TYPES.get(s.type, str)
    shown = f"; default: {s.shown_default}" if s.default not in (None, ()) else ""
    options: dict[str, Any] = {
        "type": kind,
        "default": lambda: cli_settings()[s.name],
        "show_default": False,  # the bracket below says it as click would, beside the variable
        "help": f"{help or s.help.replace('`', '')}  [env var: {s.name}{shown}]",
    }
    if export:

        def put(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            source = ctx.get_parameter_source(param.name or "")
            if value not in (None, "") and source is not ParameterSource.DEFAULT:
                ctx.obj = cli_settings().with_flags(**{s.name: value})
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
    setting="QQSCAN_REDIS_URL",  # rq's own RQ_REDIS_URL too (Settings.load)
    export=True,
    show_default=False,
    help="Redis URL of the queues, as `rq --url` (default redis://localhost:6379/0; rq's RQ_REDIS_URL "
    "is read when QQSCAN_REDIS_URL is unset).",
)

database_url_option = setting_option(
    "--database-url",
    "--db",
    setting="QQSCAN_DATABASE_URL",
    export=True,
    help="Results store: sqlite:///PATH (the folder must exist) or postgresql://... "
    "(default: a SQLite file under $XDG_DATA_HOME/qqscan).",
)
