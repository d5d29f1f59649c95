"""`qqscan tokens`: clients of the HTTP API (`qqscan api serve`). A token's secret is printed once, on
`add`; only its hash is kept. Every change is in the audit log (actor "cli")."""

from __future__ import annotations

import click

from qqscan.options import database_url_option
from qqscan.review_cmds import dumps, opened_store, say


@click.group("tokens")
@database_url_option
def tokens() -> None:
    """HTTP API tokens: add, list, revoke."""


@tokens.command("add")
@click.argument("name")
@click.option("--scope", default="scan,read", show_default=True, help="Comma list of: scan, read.")
@click.option(
    "--rate", type=click.IntRange(min=1), default=600, show_default=True, help="Requests per minute."
)
def add(name: str, scope: str, rate: int) -> None:
    """Make a token NAME; its secret goes to stdout, once."""
    from store.api_tokens import TokenError

    scopes = {s.strip() for s in scope.split(",") if s.strip()}
    with opened_store() as store:
        try:
            secret = store.tokens.add(name, scopes, rate_per_minute=rate)
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(secret)
    say(f"token {name} ({', '.join(sorted(scopes))}, {rate}/min): keep it, it is not shown again", err=True)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per token.")
def list_(as_json: bool) -> None:
    """Tokens: name, scopes, rate, made, revoked (never the secret)."""
    with opened_store() as store:
        rows = store.tokens.list()
    for t in rows:
        doc = {
            "name": t.name,
            "scopes": sorted(t.scopes),
            "rate_per_minute": t.rate_per_minute,
            "created_at": t.created_at,
            "revoked_at": t.revoked_at,
        }
        if as_json:
            click.echo(dumps(doc))
        else:
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
            say(f"{t.name:<20} {','.join(sorted(t.scopes)):<10} {t.rate_per_minute:>6}/min  {state}")
    if not rows and not as_json:
        say("no tokens yet: qqscan tokens add NAME")


@tokens.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke NAME's token: its next request gets 401."""
    with opened_store() as store:
        if not store.tokens.revoke(name):
            raise click.ClickException(f"no live token named {name!r}")
    say(f"revoked {name}")
