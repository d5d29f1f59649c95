"""`qqscan api serve`: the HTTP API (api/) on waitress, beside the review app, same store and Redis."""

from __future__ import annotations

import click

from qqscan.options import cli_settings, database_url_option, redis_url_option


@click.group("api")
def api() -> None:
    """The HTTP API for listing services: submit image URLs, read verdicts (docs/api.md)."""


@api.command("serve")
@redis_url_option
@database_url_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8081, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True, help="Requests at once.")
def serve(host: str, port: int, threads: int) -> None:
    """Serve the API until interrupted (put it behind HTTPS: tokens travel in a header)."""
    import sys

    from waitress import create_server

    from api.app import create_api

    app = create_api(settings=cli_settings())
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="qqscan-api")
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
    where = f"http://{host}:{server.effective_port}/v1/"
    print(f"qqscan api: serving {where} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
