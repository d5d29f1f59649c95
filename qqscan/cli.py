"""The `qqscan` command: a thin click layer over the library. Each subcommand lives in its own module."""

from __future__ import annotations

import importlib

import click

from ground.errors import QqscanError
from qqscan import __version__


class _Group(click.Group):
    """Subcommands in `lazy` are imported only when run or listed (`qqscan --help` stays fast)."""

    lazy = {"detect-text": "detectors.cli:detect_text"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attr = self.lazy[cmd_name].split(":")
            return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, cmd_name)


def _load_config(ctx: click.Context, param: click.Parameter, path: str | None) -> str | None:
    """Apply the config file before any subcommand reads its options (their envvars see its values)."""
    if path:
        from ground.settings import SettingError, export_config_file

        try:
            export_config_file(path)
        except SettingError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return path


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
def cli() -> None:
    """Find QQ numbers, phones, WeChat ids and QR codes hidden in product images."""


def main() -> None:
    """Every command's errors end here alike: a qqscan error the command did not report itself (a bad
    QQSCAN_RULES met when the detector is first built, say) is one line in click's format and its own
    exit code, never a traceback."""
    try:
        code = cli(standalone_mode=False)  # a command's ctx.exit(n) comes back as n here
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.Abort:
        click.echo("Aborted!", err=True)
        raise SystemExit(1) from None
    except QqscanError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(int(exc.exit_code)) from None
    raise SystemExit(code if isinstance(code, int) else 0)


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
