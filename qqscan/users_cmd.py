"""`qqscan users`: review accounts (moderators and admins) for the web app and `qqscan review`.

Passwords are typed twice without echo, or read from the first line of stdin with --password-stdin so
scripts and CI can create accounts. Every change is in the store's audit log (actor "cli").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from qqscan.options import database_url_option
from qqscan.review_cmds import dumps, opened_store, read_password, say
from store.terms import ROLES

if TYPE_CHECKING:
    from store.review import ReviewStore

STDIN_OPTION = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


@click.group("users")
@database_url_option
def users() -> None:
    """Review accounts: add, list, disable, enable, passwd; who is logged in (sessions, logout)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="moderator", show_default=True)
@STDIN_OPTION
def add(name: str, role: str, password_stdin: bool) -> None:
    """Create a review account."""
    with opened_store() as store:
        password = _password_for(store, name.strip(), password_stdin, exists=False)
        user = store.accounts.add(name, password, role)
    say(f"added {user.role} {user.name}")


@contextmanager
def _account_store() -> Iterator[ReviewStore]:
    """The store, where an unknown account (the store's KeyError) ends the command with one line."""
    with opened_store() as store:
        try:
            yield store
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from exc


def _password_for(store: ReviewStore, name: str, password_stdin: bool, *, exists: bool) -> str:
    """Read the password only once the account is known to exist (or not to): no typing for nothing."""
    known = any(u.name == name for u in store.accounts.users())
    if known != exists:
        raise click.ClickException(f"user {name!r} already exists" if known else f"no user {name!r}")
    return read_password(name, password_stdin)


@users.command("token")
@click.argument("name")
@click.option("--days", type=click.FloatRange(min=0.01, max=366), default=90, show_default=True)
@STDIN_OPTION
def token(name: str, days: float, password_stdin: bool) -> None:
    """A personal token for NAME's terminal decisions (QQSCAN_REVIEW_TOKEN), after NAME's password.
    Printed once (only its hash is kept); listed under `sessions`, ended by `logout`."""
    import getpass
    import socket

    with _account_store() as store:
        user = next((u for u in store.accounts.users() if u.name == name), None)
        if user is None or user.disabled:
            raise click.ClickException(f"no enabled user {name!r}")
        if password_stdin:
            password = read_password(name, True)
        else:
            password = click.prompt(f"Password for {name}", hide_input=True, err=True)
        if store.accounts.verify(name, password) is None:
            raise click.ClickException(f"cannot issue a token for {name}: wrong password")
        label = f"qqscan terminal token ({getpass.getuser()}@{socket.gethostname()})"
        issued = store.accounts.issue_token(user.id, days=days, label=label)
        with store.db.write() as conn:
            store.audit.append(conn, name, "token_issued", name, {"days": days, "label": label})
    click.echo(issued)
    say(f"token for {name}, valid {days:g} days: export QQSCAN_REVIEW_TOKEN=... (shown once)", err=True)


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per account.")
def list_(as_json: bool) -> None:
    """Accounts: name, role, enabled."""
    with opened_store() as store:
        accounts = store.accounts.users()
    _show(
        [{"name": u.name, "role": u.role, "enabled": not u.disabled} for u in accounts],
        [(u.name, f"{u.role:<9}", "no" if u.disabled else "yes") for u in accounts],
        header=("name", f"{'role':<9}", "enabled"),
        empty="no accounts yet: qqscan users add NAME --role admin",
        as_json=as_json,
    )


def _show(
    docs: list[dict[str, Any]],
    rows: list[tuple[str, ...]],
    *,
    header: tuple[str, ...],
    empty: str,
    as_json: bool,
) -> None:
    """A listing: `docs` one JSON object a line (--json), else `rows` under `header`, cells two spaces
    apart and the first column padded to its widest; `empty` when there is nothing."""
    if as_json:
        for doc in docs:
            say(dumps(doc))
        return
    if not rows:
        say(empty)
        return
    width = max(4, *(len(r[0]) for r in rows))
    for first, *rest in (header, *rows):
        say("  ".join((f"{first:<{width}}", *rest)))


def _set_disabled(name: str, disabled: bool) -> None:
    with _account_store() as store:
        store.accounts.set_disabled(name, disabled)
    say(f"{'disabled' if disabled else 'enabled'} {name}")


@users.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Disable an account: it can no longer log in or decide (its history stays)."""
    _set_disabled(name, True)


@users.command("enable")
@click.argument("name")
def enable(name: str) -> None:
    """Enable a disabled account again."""
    _set_disabled(name, False)


@users.command("passwd")
@click.argument("name")
@STDIN_OPTION
def passwd(name: str, password_stdin: bool) -> None:
    """Set an account's password."""
    with _account_store() as store:
        password = _password_for(store, name, password_stdin, exists=True)
        store.accounts.set_password(name, password)
    say(f"password changed for {name}")


@users.command("sessions")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per session.")
def sessions(as_json: bool) -> None:
    """Live review-app sessions (newest first): who, since when, until when, from where."""
    with opened_store() as store:
        live = store.accounts.sessions()
    day = "%Y-%m-%d %H:%M:%S"
    _show(
        [{k: s[k] for k in ("user", "created_at", "expires_at", "ip", "user_agent")} for s in live],
        [
            (
                s["user"],
                s["created_at"].strftime(day),
                s["expires_at"].strftime(day),
                s["ip"] or "-",
                s["user_agent"] or "",
            )
            for s in live
        ],
        header=("user", f"{'since (UTC)':<19}", f"{'until (UTC)':<19}", "from"),
        empty="nobody is logged in",
        as_json=as_json,
    )


@users.command("logout")
@click.argument("name")
def logout(name: str) -> None:
    """Log an account out everywhere: every review-app session it has ends on its next request (a copied
    cookie too). It can log in again; to stop that, disable the account or change its password."""
    with _account_store() as store:
        n = store.accounts.end_sessions(name, actor="cli")
    say(f"logged {name} out everywhere: {n} session{'' if n == 1 else 's'} ended")
