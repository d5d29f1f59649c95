"""The `qqscan` command: a thin click layer over the library. Each subcommand lives in its own module."""

from __future__ import annotations

import importlib

import click

from ground.errors import QqscanError, fail
from qqscan import __version__


class _Group(click.Group):
    """Subcommands in `lazy` are imported only when run or listed: importing `detectors` builds the rule
    tables (~0.6 s), which `qqscan scan missing.jpg` must not pay before its one-line answer."""

    lazy = {"detect-text": "detectors.cli:detect_text"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attr = self.lazy[cmd_name].split(":")
            try:  # importing `detectors` loads the rules: a bad QQSCAN_RULES is one line, not a traceback
                return getattr(importlib.import_module(module), attr)
            except QqscanError as exc:
                fail(str(exc), exc.exit_code)
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
    help="TOML file of QQSCAN_* settings (README, Configuration); the environment overrides it.",
)
def cli() -> None:
    """Find QQ numbers, phones, WeChat ids and QR codes hidden in product images."""


def main() -> None:
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
