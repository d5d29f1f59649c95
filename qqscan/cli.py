"""The `qqscan` command: a thin click layer over the library. Each subcommand lives in its own module."""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from ground.errors import ExitCode, QqscanError, exit_code_for
from qqscan import __version__

_verbose = False  # `qqscan -v …`: tracebacks for errors (set by the root option, read by the handler)


def _report(exc: BaseException) -> int:
    """The one handler for an error that ends a command: one line `qqscan: message` on stderr (a usage
    error keeps click's usage and hint lines above it), the exit code from the error's class
    (ground.errors), and a traceback only with `qqscan -v` for an error qqscan did not expect."""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        hint = f"Try '{exc.ctx.command_path} {exc.ctx.help_option_names[0]}' for help."
        click.echo(f"{exc.ctx.get_usage()}\n{hint}\n", err=True)
    if isinstance(exc, click.ClickException):
        click.echo(f"qqscan: {exc.format_message()}", err=True)
        return exc.exit_code
    if isinstance(exc, click.Abort):  # a prompt met Ctrl-C or the end of its input
        click.echo("qqscan: aborted", err=True)
        return 1
    if isinstance(exc, KeyboardInterrupt):
        click.echo("qqscan: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    if isinstance(exc, QqscanError):
        click.echo(f"qqscan: {exc}", err=True)
        return int(exc.exit_code)
    if _verbose:
        traceback.print_exception(exc)
    hint = "" if _verbose else " (qqscan -v … shows the traceback)"
    click.echo(f"qqscan: {type(exc).__name__}: {exc}{hint}", err=True)
    return int(exit_code_for(exc))


class _Group(click.Group):
    """Subcommands in `lazy` are imported only when run or listed (`qqscan --help` stays fast). Every
    command's errors end in one handler (_report), whether run as `qqscan` or by click's test runner."""

    lazy = {"detect-text": "qqscan.detect_cmd:detect_text"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attr = self.lazy[cmd_name].split(":")
            return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, cmd_name)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        global _verbose
        _verbose = False
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)  # ctx.exit(n) comes back as n
        except SystemExit:
            raise  # a command that chose its exit status (sys.exit) has said what it had to say
        except BaseException as exc:  # the one handler: everything a command raised ends here
            sys.exit(_report(exc))
        sys.exit(code if isinstance(code, int) else 0)


def _load_config(ctx: click.Context, param: click.Parameter, path: str | None) -> str | None:
    """Read the settings once, here at the edge (config file, then environment), before any subcommand
    reads its options; the commands add their flags and pass them down (qqscan.options.cli_settings)."""
    from ground.settings import SettingError, Settings

    try:
        ctx.obj = Settings.load(config_file=path)
    except SettingError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return path


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    global _verbose
    _verbose = _verbose or value
    return value


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qqscan")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="QQSCAN_CONFIG",
    show_envvar=True,
    expose_value=False,
    callback=_load_config,
    help="TOML file of QQSCAN_* settings (docs/settings.md); the environment overrides it.",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_verbose,
    help="A traceback with an unexpected error.",
)
def cli() -> None:
    """Find QQ numbers, phones, WeChat ids and QR codes hidden in product images."""


def main() -> None:
    """The `qqscan` command (its errors: _report)."""
    cli()


# Subcommands register below, one line each.
from qqscan.doctor_cmd import doctor as _doctor  # noqa: E402
from qqscan.scan_cmd import scan as _scan  # noqa: E402

cli.add_command(_scan)
cli.add_command(_doctor)
from qqscan.batch_cmds import crawl as _crawl  # noqa: E402
from qqscan.batch_cmds import enqueue as _enqueue  # noqa: E402
from qqscan.batch_cmds import reconcile as _reconcile  # noqa: E402
from qqscan.batch_cmds import results as _results  # noqa: E402
from qqscan.batch_cmds import status as _status  # noqa: E402
from qqscan.batch_cmds import worker as _worker  # noqa: E402

cli.add_command(_enqueue)
cli.add_command(_crawl)
cli.add_command(_worker)
cli.add_command(_results)
cli.add_command(_status)
cli.add_command(_reconcile)
from qqscan.health_cmd import health as _health  # noqa: E402

cli.add_command(_health)
from qqscan.review_cmds import review as _review  # noqa: E402
from qqscan.users_cmd import users as _users  # noqa: E402

cli.add_command(_review)
cli.add_command(_users)
from qqscan.contacts_cmd import contacts as _contacts  # noqa: E402

cli.add_command(_contacts)
from qqscan.api_cmd import api as _api  # noqa: E402
from qqscan.tokens_cmd import tokens as _tokens  # noqa: E402

cli.add_command(_api)
cli.add_command(_tokens)
