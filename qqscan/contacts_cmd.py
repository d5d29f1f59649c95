"""`qqscan contacts`: contacts (a QQ number, phone, WeChat id, QR payload: its canonical value) across
every image and shop they were seen in, over the same store, accounts and audit trail as the web app.
list / show / decide, each with --json.

A contact is named by "#ID", "TYPE:VALUE" (qq:391287654; raw spellings such as "qq:391 287-654" are made
canonical) or a value only one contact has. Deciding one decides all its pending images in one audited
action, undone whole by `qqscan review undo`; the acting account is named as for `qqscan review decide`
(--as / QQSCAN_REVIEWER, proven by its password or QQSCAN_REVIEW_TOKEN). With
QQSCAN_KNOWN_CONTACT_AUTO_CONFIRM on, confirming a contact (violation) also confirms its later images as
they are stored.
"""

from __future__ import annotations

from typing import Any

import click

from qqscan.options import cli_settings, database_url_option, shop_option
from qqscan.review_cmds import AS_OPTION, SHORT, _reviewer, _when, dumps, opened_store, say
from store.terms import CONTACT_SORTS, CONTACT_STATUSES, CONTACT_TYPES, DECISIONS


@click.group("contacts")
@database_url_option
def contacts() -> None:
    """Contacts across images and shops: list by spread, show one, decide one (all its images)."""


def _find(store: Any, ref: str) -> int:
    try:
        return int(store.contacts.resolve(ref))
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from exc


def _row(c: dict[str, Any]) -> str:
    return (
        f"#{c['id']:<6} {c['type']:<8} {c['value'][:32]:<32} {c['status']:<9} {c['shops']:>5} "
        f"{c['images']:>6} {c['pending']:>7}  {_when(c['last_seen'])}"
    )


HEADER = (
    f"{'id':<7} {'type':<8} {'value':<32} {'status':<9} {'shops':>5} {'images':>6} {'pending':>7}  last seen"
)


@contacts.command("list")
@click.option("--sort", type=click.Choice(CONTACT_SORTS), default="shops", show_default=True)
@click.option("--status", type=click.Choice(CONTACT_STATUSES), help="Only contacts with this status.")
@click.option("--type", "type_", type=click.Choice(CONTACT_TYPES), help="Only contacts of this type.")
@shop_option("Only contacts seen in this shop.")
@click.option(
    "--search", "text", metavar="TEXT", help="Contacts a pasted number or id names (raw or canonical)."
)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per contact, nothing else.")
def list_(
    sort: str,
    status: str | None,
    type_: str | None,
    shop: str | None,
    text: str | None,
    page: int,
    per_page: int,
    as_json: bool,
) -> None:
    """Contacts by spread: most shops first (or most images, or newest seen)."""
    with opened_store() as store:
        if text:
            items, footer = store.contacts.search(text), None
        else:
            cp = store.contacts.page(
                sort=sort, page=page, per_page=per_page, status=status, type=type_, shop=shop
            )
            items = cp.items
            counts = "  ".join(f"{s}: {n}" for s, n in cp.counts.items())
            footer = f"{counts}\npage {cp.page}/{cp.pages} ({cp.total} contact(s))"
    if as_json:
        for c in items:
            say(dumps(c))
        return
    if items:
        say(HEADER)
        for c in items:
            say(_row(c))
    else:
        say("no contacts match")
    if footer:
        say(footer)


@contacts.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="The whole record as one JSON object.")
def show(ref: str, as_json: bool) -> None:
    """One contact: its images (with status and shops), its shops, decisions and timeline."""
    with opened_store() as store:
        c = store.contacts.get(_find(store, ref))
    if c is None:
        raise click.ClickException(f"no contact {ref}")
    if as_json:
        say(dumps(c))
        return
    say(
        f"contact #{c['id']}: {c['type']} {c['value']}  "
        f"({c['status']}{', auto-confirm' if c['auto_confirm'] else ''})"
    )
    say(
        f"  {c['images']} image(s), {c['pending']} pending; {c['shops']} shop(s), {c['sources']} source(s), "
        f"{c['listings']} listing(s); first seen {_when(c['first_seen'])}, last seen {_when(c['last_seen'])}"
    )
    say("shops: " + (", ".join(s["shop_id"] for s in c["shop_list"]) or "-"))
    say("images:")
    for i in c["image_list"]:
        live = "" if i["live"] else "  (allow-listed here)"
        say(f"  {i['sha256'][:SHORT]}  {i['review_status']:<14} {','.join(i['shops']) or '-'}{live}")
    say("timeline:")
    for e in c["timeline"]:
        say(f"  {_when(e['at'])}  {e['what']}")


@contacts.command("decide")
@click.argument("ref")
@click.option("--status", type=click.Choice(DECISIONS), required=True, help="What the contact's images are.")
@click.option("--note", help="Why (kept with every decision).")
@AS_OPTION
@click.option("--json", "as_json", is_flag=True, help="What was decided, as one JSON object.")
def decide(ref: str, status: str, note: str | None, as_user: str | None, as_json: bool) -> None:
    """Decide a contact and all its pending images, as one action (`qqscan review undo` takes it back).

    violation: the contact is a seller's (a known contact: its later images go first in the queue);
    false_positive: an allow-list entry for its value in every shop (a request unless you are an admin);
    escalated: its images go to the escalated queue."""
    auto = bool(cli_settings()["QQSCAN_KNOWN_CONTACT_AUTO_CONFIRM"])
    with opened_store() as store:
        user = _reviewer(store, as_user)
        done = store.contacts.decide(
            _find(store, ref), status, reviewer=user.name, note=note, auto_confirm=auto
        )
    if as_json:
        say(dumps(done))
        return
    say(
        f"contact #{done['contact']} {done['type']} {done['value']}: "
        f"{done['previous_status']} -> {done['status']}; "
        f"{len(done['images'])} pending image(s) -> {status} (by {user.name})"
    )
    if done["auto_confirm"]:
        say(
            "  later images that carry it are confirmed as they are stored "
            "(QQSCAN_KNOWN_CONTACT_AUTO_CONFIRM)"
        )
    if done["allow_entry"] is not None:
        waits = "" if user.is_admin else " (a request until an admin approves it)"
        say(f"  allow-list entry #{done['allow_entry']} for every shop{waits}")
    elif done["allow_covered"] is not None:
        say(f"  already allow-listed (entry #{done['allow_covered']})")
