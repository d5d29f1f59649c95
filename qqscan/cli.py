"""The `qqscan` command: a thin click layer over the library. Each subcommand lives in its own module."""

from __future__ import annotations

import click

from qqscan import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qqscan")
def cli() -> None:
    """Find QQ numbers, phones, WeChat ids and QR codes hidden in product images."""


def main() -> None:
    cli()


# Subcommands register below, one line each.
from qqscan.doctor_cmd import doctor as _doctor  # noqa: E402
from qqscan.scan_cmd import scan as _scan  # noqa: E402

cli.add_command(_scan)
cli.add_command(_doctor)
from detectors.cli import detect_text as _detect_text  # noqa: E402

cli.add_command(_detect_text)
from qqscan.batch_cmds import crawl as _crawl  # noqa: E402
from qqscan.batch_cmds import enqueue as _enqueue  # noqa: E402
from qqscan.batch_cmds import results as _results  # noqa: E402
from qqscan.batch_cmds import status as _status  # noqa: E402
from qqscan.batch_cmds import worker as _worker  # noqa: E402

cli.add_command(_enqueue)
cli.add_command(_crawl)
cli.add_command(_worker)
cli.add_command(_results)
cli.add_command(_status)
from qqscan.review_cmds import review as _review  # noqa: E402
from qqscan.users_cmd import users as _users  # noqa: E402

cli.add_command(_review)
cli.add_command(_users)
