"""`qqscan doctor`: which engine, runtime and models this install runs, where the weights are, threads, and
(for the paddle engine) whether oneDNN is on."""

from __future__ import annotations

import json
import sys

import click

from ground.errors import ExitCode
from qqscan.options import cli_settings


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def doctor(as_json: bool) -> None:
    """Build the OCR engine once and report engine, runtime, models, threads (and oneDNN for paddle)."""
    import cv2

    from jobs.scanner import Scanner
    from ocr.engine import EngineError
    from ocr.models import ModelNotFoundError

    try:
        info = Scanner(cli_settings()).engine.describe()
    except (ModelNotFoundError, EngineError) as exc:
        click.echo(f"qqscan: {exc}", err=True)
        sys.exit(ExitCode.FOUND)
    info["opencv"] = cv2.__version__
    info["python"] = sys.version.split()[0]
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            click.echo(f"{key:14} {value}")
    if info.get("onednn") is False:
        click.echo(
            "warning: oneDNN is OFF, OCR will be several times slower (check the paddlepaddle pin)", err=True
        )
        sys.exit(ExitCode.FOUND)
