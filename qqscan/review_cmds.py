"""`qqscan review`: the moderation queue from a terminal, over the same store, accounts and audit trail as
the web app (`qqscan review serve`). list / show / decide / undo / export, and the allow-list.

Who decides is a named account (`--as NAME`, default $QQSCAN_REVIEWER) that must exist and be enabled:
a decision made here is attributed and undoable exactly like one made in the browser. Editing the
allow-list needs an admin account; a moderator's `decide --allow` for every shop makes requests an admin
approves or rejects (`allow pending`, `allow approve`, `allow reject`). Heavy imports (SQLAlchemy, the
store) happen inside the commands so `qqscan --help` stays fast.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TextIO

import click

from ground.errors import ExitCode, exit_code_for, fail
from qqscan.options import cli_settings, database_url_option, setting_option, shop_option, since_option
from review.safetext import csv_cell, json_escape_controls, visible
from store.terms import CONTACT_TYPES, REVIEW_STATUSES

if TYPE_CHECKING:
    from store.accounts import UserInfo
    from store.review import ReviewStore

SHORT = 12  # hash digits shown in tables
URL_WIDTH = 60
VALUES_WIDTH = 40
# violations()' keys, for the CSV header of an export with no rows (tests check they match the store's).
EXPORT_COLUMNS = (
    "sha256",
    "decided_at",
    "reviewer",
    "note",
    "url",
    "listing_id",
    "shop_id",
    "page_url",
    "type",
    "value",
    "text",
    "rule",
    "confidence",
    "rules_version",
)
DATE = click.DateTime(formats=["%Y-%m-%d"])


# --- shared plumbing (users_cmd uses these too) ------------------------------------------------------------


@contextmanager
def opened_store() -> Iterator[ReviewStore]:
    """The review store at QQSCAN_DATABASE_URL (or the default), closed afterwards. Store errors and input
    the store refuses (ValueError: a short password, a bad name) become one-line errors: exit 3 when the
    database cannot be reached, 2 for a URL that can never work, 1 for a refused request (ground.errors)."""
    from store.database import StoreError, StoreUnavailable, database_url
    from store.review import ReviewStore

    try:
        store = ReviewStore(database_url(cli_settings()))
    except StoreError as exc:
        fail(f"{exc}. Check QQSCAN_DATABASE_URL.", exit_code_for(exc))
    try:
        yield store
    except StoreUnavailable as exc:  # the database went away mid-command
        fail(str(exc), ExitCode.UNAVAILABLE)
    except (StoreError, ValueError) as exc:
        fail(str(exc), ExitCode.FOUND)
    finally:
        store.close()


def read_password(name: str, from_stdin: bool) -> str:
    """The first line of stdin, or typed twice without echo."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise click.ClickException("--password-stdin: no password on the first line of stdin")
        return password
    return click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return None
    return str(value)


def dumps(obj: Any, **kw: Any) -> str:
    """JSON, UTF-8 text as is, bidi and control characters as \\uXXXX escapes (exact, and inert on screen)."""
    return json_escape_controls(json.dumps(obj, ensure_ascii=False, default=_jsonable, **kw))


def say(message: str, *, err: bool = False) -> None:
    """click.echo for every line these commands print: stored text (OCR lines, shop names, notes) comes
    from sellers and people, so bidi and control characters in it are shown as markers, never obeyed."""
    click.echo(visible(message), err=err)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        if value.utcoffset() is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")  # the store keeps UTC (naive from SQLite)
    return "-" if value is None else str(value)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def resolve(store: ReviewStore, prefix: str) -> str:
    """The full hash for a hash or prefix; a clear error when none or several images match."""
    try:
        return store.queue.resolve(prefix)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from exc


def _reviewer(store: ReviewStore, name: str | None, *, admin: bool = False) -> UserInfo:
    """The enabled account acting here, proven by its password (asked on a terminal) or its personal token
    (QQSCAN_REVIEW_TOKEN); an admin one when `admin`. Who proved it from where (OS user, host) goes to the
    audit log. Anything less is refused (exit 1) before anything is written."""
    if not name:
        raise click.UsageError("say who you are: --as NAME or QQSCAN_REVIEWER=NAME (a review account)")
    user = next((u for u in store.accounts.users() if u.name == name), None)
    if user is None:
        raise click.ClickException(
            f"no review account {name!r}: terminal review uses the web app's accounts "
            f"(an admin creates one with `qqscan users add {name}`)"
        )
    if user.disabled:
        raise click.ClickException(f"review account {name!r} is disabled")
    if admin and not user.is_admin:
        raise click.ClickException(f"{name} is a {user.role}: editing the allow-list needs an admin account")
    _authenticate(store, user)
    return user


def _authenticate(store: ReviewStore, user: UserInfo) -> None:
    import getpass
    import socket

    token = cli_settings()["QQSCAN_REVIEW_TOKEN"]
    if token:
        proven, how = store.accounts.session_user(user.id, token) is not None, "token"
    elif _interactive():
        password = click.prompt(f"Password for {user.name}", hide_input=True, err=True)
        proven, how = store.accounts.verify(user.name, password) is not None, "password"
    else:
        fail(
            f"acting as {user.name} needs its password (asked on a terminal) or its personal token in "
            f"QQSCAN_REVIEW_TOKEN (`qqscan users token {user.name}`)",
            ExitCode.FOUND,
        )
    if not proven:
        what = "wrong password" if how == "password" else "the token is not theirs, or expired or revoked"
        fail(f"cannot act as {user.name}: {what}", ExitCode.FOUND)
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        os_user = str(os.getuid())
    detail = {"auth": how, "os_user": os_user, "host": socket.gethostname()}
    with store.db.write() as conn:
        store.audit.append(conn, user.name, "terminal_auth", None, detail)


AS_OPTION = setting_option(
    "--as",
    "as_user",
    setting="QQSCAN_REVIEWER",
    help="Review account acting (must exist and be enabled).",
)


# --- the group -------------------------------------------------------------------------------------------


@click.group("review")
@database_url_option
def review() -> None:
    """Review flagged images: the web app, or the queue from a terminal."""


@review.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0 = any free port."
)
@click.option(
    "--cookie-secure/--no-cookie-secure",
    default=None,
    help="Send the session cookie over HTTPS only (default: decided by the server).",
)
@click.option("--threads", type=click.IntRange(1, 256), default=4, show_default=True, help="Worker threads.")
@click.option(
    "--access-log",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="Access log (Common Log Format): a file to append to, or - for stderr.",
)
@click.option("--no-access-log", is_flag=True, help="Write no access log.")
@click.option("-v", "--verbose", is_flag=True, help="Also log waitress's 'Task queue depth' warnings.")
def serve(
    host: str,
    port: int,
    cookie_secure: bool | None,
    threads: int,
    access_log: str,
    no_access_log: bool,
    verbose: bool,
) -> None:
    """Run the review web app (waitress) on the store at QQSCAN_DATABASE_URL.

    It binds first, then prints where it serves; one access-log line per request follows."""
    try:
        from review.server import run
    except ModuleNotFoundError as exc:
        if exc.name not in ("review.server", "review"):
            raise
        raise click.ClickException("the review web app (review/server.py) is not installed") from exc
    from store.database import StoreError

    log: TextIO | None = None
    try:
        if not no_access_log:
            log = sys.stderr if access_log == "-" else open(access_log, "a", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise click.ClickException(f"cannot open the access log {access_log}: {exc}") from exc
    try:
        run(
            host=host,
            port=port,
            settings=cli_settings(),
            cookie_secure=cookie_secure,
            threads=threads,
            access_log=log,
            verbose=verbose,
        )
    except StoreError as exc:
        fail(str(exc), exc.exit_code)  # 3 unreachable, 2 a URL that can never work
    except OSError as exc:  # address in use, permission denied on a low port
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
    finally:
        if log is not None and log is not sys.stderr:
            log.close()


# --- list / show -----------------------------------------------------------------------------------------


@review.command("list")
@click.option(
    "--status",
    type=click.Choice((*REVIEW_STATUSES, "all")),
    default="pending",
    show_default=True,
    help="Review status (all = any).",
)
@click.option("--type", "type_", type=click.Choice(CONTACT_TYPES), help="Only images with this finding type.")
@click.option("--rule", help="Only images where this rule fired (e.g. qq.keyword).")
@shop_option("Only images seen in this shop.")
@since_option("Scanned on or after that day (UTC; the queue filters whole days).")
@click.option("--until", type=DATE, help="Scanned on or before YYYY-MM-DD (UTC).")
@click.option("--sort", type=click.Choice(("newest", "confidence")), default="newest", show_default=True)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image, nothing else.")
def list_(
    status: str,
    type_: str | None,
    rule: str | None,
    shop: str | None,
    since: datetime | None,
    until: datetime | None,
    sort: str,
    page: int,
    per_page: int,
    as_json: bool,
) -> None:
    """The review queue: flagged images (their newest scan), newest first by default."""
    from store.queue import QueueFilter

    try:
        f = QueueFilter(
            status=None if status == "all" else status,
            type=type_,
            rule=rule,
            shop=shop,
            since=since.astimezone(UTC).date() if since else None,
            until=until.date() if until else None,
            sort=sort,
        )
    except ValueError as exc:  # a date out of range (9999-12-31 has no next day)
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    with opened_store() as store:
        qp = store.queue.page(f, page=page, per_page=per_page)
    if as_json:
        for item in qp.items:
            say(dumps(item))
        return
    if qp.items:
        say(f"{'sha':<{SHORT}}  {'status':<14} {'conf':>5}  {'types':<16} {'values':<{VALUES_WIDTH}}  url")
        for it in qp.items:
            conf = f"{it['max_confidence']:.2f}" if it["max_confidence"] is not None else "-"
            values = ",".join(dict.fromkeys(str(x.get("value")) for x in it["findings"] if x.get("value")))
            more = f" (+{it['sources'] - 1})" if it["sources"] > 1 else ""
            say(
                f"{it['sha256'][:SHORT]}  {it['review_status']:<14} {conf:>5}  {','.join(it['types']):<16} "
                f"{_cut(values, VALUES_WIDTH):<{VALUES_WIDTH}}  {_cut(it['url'] or '-', URL_WIDTH)}{more}"
            )
    else:
        say("no images match")
    say("  ".join(f"{s}: {n}" for s, n in qp.counts.items()))
    say(f"page {qp.page}/{qp.pages} ({qp.total} image(s))")


def _box(box: Any) -> str:
    try:
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        return f"({min(xs):.0f},{min(ys):.0f})-({max(xs):.0f},{max(ys):.0f})"
    except (TypeError, ValueError, IndexError):
        return "-"


@review.command("show")
@click.argument("sha")
@click.option("--json", "as_json", is_flag=True, help="The whole record as one JSON object.")
def show(sha: str, as_json: bool) -> None:
    """One image: findings, OCR lines, every URL it was seen at, the decision history.

    SHA is the image's sha256 or a prefix of at least 6 hex digits."""
    with opened_store() as store:
        item = store.queue.item(resolve(store, sha))
    if item is None:  # removed between resolve and read
        raise click.ClickException(f"no image {sha}")
    if as_json:
        say(dumps(item, indent=2))
        return
    scan = item["scan"] or {}
    echo = say
    echo(f"image {item['sha256']}")
    reviewed = f" (reviewed {_when(item['reviewed_at'])})" if item["reviewed_at"] else ""
    echo(f"  status     {item['review_status']}{reviewed}")
    echo(
        f"  picture    {item['width']}x{item['height']} {item['format'] or '?'}, "
        f"{item['frames_total'] or 1} frame(s), {item['bytes'] or '?'} bytes, "
        f"first seen {_when(item['first_seen'])}"
    )
    if scan:
        echo(
            f"  scan       #{scan['id']} at {_when(scan['scanned_at'])}, rules {scan['rules_version']}, "
            f"engine {scan['engine_version'] or '?'}" + (f", {scan['ms']} ms" if scan.get("ms") else "")
        )
        if scan.get("error"):
            echo(f"  error      {scan['error']}")
    echo(f"findings ({len(item['findings'])}, rules {scan.get('rules_version', '?')}):")
    for f in item["findings"]:
        conf = f.get("confidence")
        allowed = f"  ALLOWED by entry #{f['allowed_by']}" if f.get("allowed_by") else ""
        echo(
            f"  [{f['index']}] {f.get('type')} {f.get('value')}  rule {f.get('rule')}  "
            f"conf {conf if conf is None else f'{conf:.2f}'}  frame {f.get('frame', 0)}  "
            f"box {_box(f.get('box'))}"
            f"  text {f.get('text')!r}{allowed}"
        )
    lines = scan.get("lines") or []
    echo(f"OCR lines ({len(lines)}):")
    for ln in lines:
        score = ln.get("score")
        echo(
            f"  frame {ln.get('frame', 0)}  {score if score is None else f'{score:.2f}'}  "
            f"box {_box(ln.get('box'))}  {ln.get('text')}"
        )
    echo(f"sources ({len(item['sources'])}):")
    for s in item["sources"]:
        extra = [f"{k} {s[k]}" for k in ("listing_id", "shop_id", "page_url") if s.get(k)]
        echo(f"  {s['url']}" + ("  " + "  ".join(extra) if extra else ""))
    echo(f"decisions ({len(item['decisions'])}):")
    for d in item["decisions"]:
        how = (
            f" [undo of #{d['undoes']}]"
            if d["action"] == "undo"
            else (" [bulk]" if d["action"] == "bulk" else "")
        )
        note = f"  note {d['note']!r}" if d["note"] else ""
        echo(
            f"  #{d['id']} {_when(d['decided_at'])} {d['reviewer']}: "
            f"{d['previous_status'] or '?'} -> {d['status']}{how}{note}"
        )


# --- decide / undo ---------------------------------------------------------------------------------------


@review.command("decide")
@click.argument("shas", nargs=-1, required=True)
@click.option(
    "--status", type=click.Choice(REVIEW_STATUSES), required=True, help="The decision (pending = reset)."
)
@click.option("--note", help="Why (kept with the decision).")
@AS_OPTION
@click.option(
    "--allow",
    is_flag=True,
    help="With false_positive: allow-list the images' contact values (every shop, or --allow-shop).",
)
@click.option(
    "--allow-shop",
    metavar="SHOP",
    help="With --allow: allow-list the values in this shop only (a shop every decided image was seen in).",
)
@click.option(
    "--with-neardups",
    is_flag=True,
    help="Also decide the images' pending near-duplicates (docs/near-duplicates.md), all together.",
)
def decide(
    shas: tuple[str, ...],
    status: str,
    note: str | None,
    as_user: str | None,
    allow: bool,
    allow_shop: str | None,
    with_neardups: bool,
) -> None:
    """Decide one or more images (hashes or prefixes). Several are decided together: all or nothing."""
    if allow and status != "false_positive":
        raise click.UsageError("--allow goes with --status false_positive")
    if allow_shop and not allow:
        raise click.UsageError("--allow-shop goes with --allow")
    with opened_store() as store:
        user = _reviewer(store, as_user)
        full = list(dict.fromkeys(resolve(store, s) for s in shas))  # every hash resolves before any write
        if with_neardups:
            from store.neardup import NearDups

            near = NearDups(store.db)
            found = [n["sha256"] for sha in full for n in near.near(sha) if n["review_status"] == "pending"]
            full = list(dict.fromkeys(full + found))
        if allow:
            _decide_and_allow(store, full, user.name, note, allow_shop)
            return
        if len(full) == 1:
            store.decisions.record(full[0], status, reviewer=user.name, note=note)
        else:
            store.decisions.record_many(full, status, reviewer=user.name, note=note)
        for sha in full:
            say(f"{sha[:SHORT]} -> {status} (by {user.name})")


def _decide_and_allow(
    store: ReviewStore, shas: list[str], reviewer: str, note: str | None, shop: str | None
) -> None:
    """False positive + allow-list every live finding value of these images, as the web app does it
    (Decisions.false_positive: one transaction, scope from the request, no duplicate entries)."""
    from store.findings import live_findings

    values = {}
    for sha in shas:
        item = store.queue.item(sha) or {"findings": []}
        found = [(str(f.get("value") or "").strip(), f.get("type")) for f in live_findings(item["findings"])]
        values[sha] = [(value, ctype) for value, ctype in found if value]
    done = store.decisions.false_positive(values, reviewer=reviewer, shop_id=shop, note=note)
    for sha in shas:
        say(f"{sha[:SHORT]} -> false_positive (by {reviewer})")
    where = f"shop {shop}" if shop else "all shops"
    for e in done.covered:
        if e["waiting"]:
            say(f"already requested: {e['contact_type']} {e['value']} ({where}) by request #{e['entry']}")
        else:
            say(f"already allowed: {e['contact_type']} {e['value']} ({where}) by entry #{e['entry']}")
    for e in done.added:
        say(f"allow-listed #{e['id']}: {e['contact_type']} {e['value']} ({where})")
    for e in done.requested:
        say(f"requested #{e['id']}: {e['contact_type']} {e['value']} ({where}), in force once approved")
    if done.requested:
        ids = " ".join(str(e["id"]) for e in done.requested)
        say(f"an admin approves with: qqscan review allow approve {ids}")
    if not done.added and not done.requested:
        say("allow-list: nothing new to add")


def _interactive() -> bool:
    return sys.stdin.isatty()


@review.command("undo")
@AS_OPTION
@click.option(
    "--remove-allow/--keep-allow",
    default=None,
    help="When the undone decision allow-listed values: remove those entries too, or keep them "
    "(default: ask on a terminal, else keep and say how to remove them).",
)
def undo(as_user: str | None, remove_allow: bool | None) -> None:
    """Undo your most recent decision (refused when someone changed that image since)."""
    with opened_store() as store:
        user = _reviewer(store, as_user)
        done = store.decisions.undo_last(user.name)
        if done is None:
            say(f"nothing to undo for {user.name}")
            return
        # a decision on a contact (qqscan contacts decide) is undone whole: the contact and its images
        what = done["sha256"][:SHORT] if done["sha256"] else f"contact #{done['contact']}"
        say(
            f"undid decision #{done['undone']} on {what}: {done['from']} -> {done['to']} "
            f"(decision #{done['id']})"
        )
        if not done["sha256"]:
            say(f"  {len(done['images'])} image(s) back; left as others decided them: {len(done['skipped'])}")
        left = done["allow_entries"]
        if not left:
            return
        stays = "still in force" if all(e["status"] == "active" for e in left) else "not withdrawn"
        say(f"decision #{done['undone']} allow-listed {len(left)} value(s), {stays}:")
        for e in left:
            where = f"shop {e['shop_id']}" if e["shop_id"] else "all shops"
            waiting = ", a request awaiting an admin" if e["status"] == "pending" else ""
            say(f"  #{e['id']} {e['contact_type'] or 'any type'} {e['value']} ({where}{waiting})")
        if remove_allow is None and _interactive():
            remove_allow = click.confirm("remove these allow-list entries too?", default=False)
        if remove_allow:
            removed = store.allowlist.remove_decision(
                done["undone"], removed_by=user.name, admin=user.is_admin
            )
            say(
                f"removed allow-list entr{'y' if len(removed) == 1 else 'ies'} "
                + ", ".join(f"#{i}" for i in removed)
            )
        else:
            ids = " ".join(str(e["id"]) for e in left)
            say(f"kept; an admin can remove them: qqscan review allow remove {ids}")


# --- export ----------------------------------------------------------------------------------------------


@review.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(("csv", "json", "jsonl")), default="csv", show_default=True
)
@since_option("Decided on or after that day (UTC; whole days).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-",
    help="Write here instead of stdout.",
)
def export(fmt: str, since: datetime | None, output: str) -> None:
    """Confirmed violations for enforcement: one row per URL x finding, with who decided and when (UTF-8).

    CSV is for spreadsheets: a text cell starting with = + - @ (or a tab/CR) gets a leading ' so it is not
    run as a formula, and bidi/control characters are shown as <U+XXXX>. JSON keeps the exact text."""
    with opened_store() as store:
        rows = store.queue.violations(since=since.astimezone(UTC).date() if since else None)
        if output == "-":
            sys.stdout.flush()
            out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
            try:
                n = _write_rows(rows, fmt, out)
            finally:
                out.flush()
                out.detach()  # leave stdout open
        else:
            try:
                with open(output, "w", encoding="utf-8", newline="") as fh:
                    n = _write_rows(rows, fmt, fh)
            except OSError as exc:
                raise click.ClickException(f"cannot write {output}: {exc}") from exc
    say(f"exported {n} row(s)" + ("" if output == "-" else f" to {output}"), err=True)


def _write_rows(rows: Iterator[dict[str, Any]], fmt: str, out: TextIO) -> int:
    n = 0
    if fmt == "csv":
        writer: Any = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row))
                writer.writeheader()
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
            n += 1
        if writer is None:
            csv.writer(out).writerow(EXPORT_COLUMNS)
        return n
    if fmt == "jsonl":
        for row in rows:
            out.write(dumps(row) + "\n")
            n += 1
        return n
    out.write("[")
    for row in rows:
        out.write(("," if n else "") + "\n" + dumps(row))
        n += 1
    out.write("\n]\n")
    return n


# --- allow-list ------------------------------------------------------------------------------------------


@review.group("allow")
def allow() -> None:
    """The allow-list: contacts and phrases that no longer flag an image (editing needs an admin)."""


@allow.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed entries and requests.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
def allow_list(include_removed: bool, as_json: bool) -> None:
    """Allow-list entries in force, oldest first (requests for every shop: `allow pending`)."""
    with opened_store() as store:
        entries = store.allowlist.entries(include_removed=include_removed)
    _show_entries(entries, as_json, "the allow-list is empty")


@allow.command("pending")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per request.")
def allow_pending(as_json: bool) -> None:
    """Requests for every-shop entries that wait for an admin (`allow approve` / `allow reject`)."""
    with opened_store() as store:
        entries = store.allowlist.requests()
    _show_entries(entries, as_json, "no requests waiting")


def _show_entries(entries: list[dict[str, Any]], as_json: bool, none: str) -> None:
    if as_json:
        for e in entries:
            say(dumps(e))
        return
    if not entries:
        say(none)
        return
    say(f"{'id':>5}  {'kind':<6} {'type':<7} {'shop':<12} {'value':<30} by / note")
    for e in entries:
        state = {"pending": "  AWAITING APPROVAL", "rejected": "  REJECTED"}.get(e["status"], "")
        if e.get("decided_by"):
            verb = "approved" if e["status"] == "active" else ""
            state += f"  {verb + ' ' if verb else ''}{_when(e['decided_at'])} by {e['decided_by']}"
        if e.get("removed_at"):
            state += f"  REMOVED {_when(e['removed_at'])} by {e['removed_by']}"
        note = f"  {e['note']!r}" if e.get("note") else ""
        say(
            f"{e['id']:>5}  {e['kind']:<6} {e['contact_type'] or 'any':<7} {e['shop_id'] or 'all':<12} "
            f"{_cut(e['value'], 30):<30} {e['created_by']} {_when(e['created_at'])}{note}{state}"
        )


@allow.command("add")
@click.argument("value")
@click.option(
    "--kind",
    type=click.Choice(("value", "phrase")),
    default="value",
    show_default=True,
    help="value: a contact (compared on letters and digits); phrase: text that is not a contact.",
)
@click.option("--type", "type_", type=click.Choice(CONTACT_TYPES), help="Only for this contact type.")
@shop_option("Only in this shop (default: every shop).")
@click.option("--note", help="Why.")
@AS_OPTION
def allow_add(
    value: str, kind: str, type_: str | None, shop: str | None, note: str | None, as_user: str | None
) -> None:
    """Add an allow-list entry (admin)."""
    with opened_store() as store:
        user = _reviewer(store, as_user, admin=True)
        eid = store.allowlist.add(
            kind, value, created_by=user.name, contact_type=type_, shop_id=shop, note=note
        )
    say(
        f"allow-listed #{eid}: {kind} {value.strip()!r} for {type_ or 'any type'}, "
        f"{f'shop {shop}' if shop else 'all shops'}"
    )


@allow.command("remove")
@click.argument("entry_ids", metavar="ID...", type=int, nargs=-1, required=True)
@AS_OPTION
def allow_remove(entry_ids: tuple[int, ...], as_user: str | None) -> None:
    """Remove allow-list entries (admin; kept in the history with who removed them)."""
    with opened_store() as store:
        user = _reviewer(store, as_user, admin=True)
        active = {e["id"] for e in store.allowlist.entries()}
        missing = [i for i in entry_ids if i not in active]
        if missing:  # before removing any
            raise click.ClickException(f"no active allow-list entry #{missing[0]}")
        for entry_id in dict.fromkeys(entry_ids):
            store.allowlist.remove(entry_id, removed_by=user.name)
            say(f"removed allow-list entry #{entry_id}")


@allow.command("approve")
@click.argument("entry_ids", metavar="ID...", type=int, nargs=-1, required=True)
@AS_OPTION
def allow_approve(entry_ids: tuple[int, ...], as_user: str | None) -> None:
    """Approve requests for every-shop entries (admin): they are in force from the next scan."""
    with opened_store() as store:
        user = _reviewer(store, as_user, admin=True)
        _waiting(store, entry_ids)
        for entry_id in dict.fromkeys(entry_ids):
            e = store.allowlist.approve(entry_id, admin=user.name)
            say(f"approved #{entry_id}: {e['contact_type'] or 'any type'} {e['value']} (all shops)")


@allow.command("reject")
@click.argument("entry_ids", metavar="ID...", type=int, nargs=-1, required=True)
@click.option("--note", help="Why not (kept in the audit log).")
@AS_OPTION
def allow_reject(entry_ids: tuple[int, ...], note: str | None, as_user: str | None) -> None:
    """Reject requests for every-shop entries (admin): they never count, and stay listed."""
    with opened_store() as store:
        user = _reviewer(store, as_user, admin=True)
        _waiting(store, entry_ids)
        for entry_id in dict.fromkeys(entry_ids):
            e = store.allowlist.reject(entry_id, admin=user.name, note=note)
            say(f"rejected #{entry_id}: {e['contact_type'] or 'any type'} {e['value']}")


def _waiting(store: ReviewStore, entry_ids: tuple[int, ...]) -> None:
    """Every id must be a waiting request, checked before any is decided."""
    waiting = {e["id"] for e in store.allowlist.requests()}
    missing = [i for i in entry_ids if i not in waiting]
    if missing:
        raise click.ClickException(f"no allow-list request #{missing[0]} waiting for approval")
