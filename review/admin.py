"""Admin pages: the audit log (logins, allow-list and account changes, next to every decision), the
allow-list (every entry, removed ones too, since entries are never deleted; add value or phrase entries;
remove; approve or reject the moderators' requests for every-shop entries, which count for nothing until
approved), and the live sessions (end one, or log a user out everywhere). Moderators get 403 here.
Accounts are managed with `qqscan users` on the command line. An admin's navigation shows how many
requests wait.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from detectors.allowlist import KINDS as ALLOW_KINDS
from review.auth import admin_required, current_store
from review.views import _page_arg, _per_page
from store.terms import CONTACT_TYPES

SESSION_ID_RE = re.compile(r"[0-9a-f]{64}")


@admin_required
def audit() -> Any:
    store = current_store()
    actor = (request.args.get("actor") or "").strip()[:128]
    page, per = _page_arg(), _per_page()
    events = store.audit.log(actor=actor or None, limit=per + 1, offset=(page - 1) * per)
    decisions = store.decisions.history(reviewer=actor or None, limit=per + 1, offset=(page - 1) * per)
    return render_template(
        "audit.html",
        actor=actor,
        events=events[:per],
        decisions=decisions[:per],
        page=page,
        has_next=len(events) > per or len(decisions) > per,
        users=store.accounts.users(),
    )


@admin_required
def allowlist() -> Any:
    store = current_store()
    entries = store.allowlist.entries(include_removed=True)
    return render_template(
        "allowlist.html",
        requests=[e for e in entries if e["status"] == "pending" and e["removed_at"] is None],
        entries=entries,
        kinds=ALLOW_KINDS,
        types=CONTACT_TYPES,
        shops=store.queue.shops_in_use(),
    )


@admin_required
def allowlist_add() -> Any:
    kind = request.form.get("kind", "")
    if kind not in ALLOW_KINDS:
        abort(400, "Choose what kind of entry to add: a contact value or a phrase.")
    contact_type = (request.form.get("contact_type") or "").strip()[:16] or None
    shop_id = (request.form.get("shop_id") or "").strip()[:128] or None
    try:
        eid = current_store().allowlist.add(
            kind,
            request.form.get("value") or "",
            created_by=current_user.name,
            contact_type=contact_type,
            shop_id=shop_id,
            note=request.form.get("note"),
        )
    except ValueError as exc:
        flash(f"Not added: {exc}.", "error")
    else:
        flash(f"Added allow-list entry {eid}.", "ok")
    return redirect(url_for("allowlist"), 303)


@admin_required
def allowlist_remove(entry_id: int) -> Any:
    if current_store().allowlist.remove(entry_id, removed_by=current_user.name):
        flash(f"Removed allow-list entry {entry_id}: scans from now on no longer use it.", "ok")
    else:
        flash(f"Allow-list entry {entry_id} does not exist or was already removed.", "error")
    return redirect(url_for("allowlist"), 303)


@admin_required
def allowlist_approve(entry_id: int) -> Any:
    try:
        e = current_store().allowlist.approve(entry_id, admin=current_user.name)
    except KeyError as exc:
        flash(f"Nothing done: {exc.args[0]}.", "error")
    else:
        flash(f"Approved request {entry_id} ({e['value']}, every shop): scans from now on use it.", "ok")
    return redirect(url_for("allowlist"), 303)


@admin_required
def allowlist_reject(entry_id: int) -> Any:
    try:
        e = current_store().allowlist.reject(entry_id, admin=current_user.name, note=request.form.get("note"))
    except KeyError as exc:
        flash(f"Nothing done: {exc.args[0]}.", "error")
    else:
        flash(f"Rejected request {entry_id} ({e['value']}): it never counts.", "ok")
    return redirect(url_for("allowlist"), 303)


def allow_requests() -> int:
    """For the navigation: how many allow-list requests wait for an admin (0 for anyone else)."""
    if not current_user.is_authenticated or not current_user.is_admin:
        return 0
    return current_store().allowlist.count_requests()


@admin_required
def sessions() -> Any:
    store = current_store()
    sid = session.get("sid")
    return render_template(
        "sessions.html",
        sessions=store.accounts.sessions(),
        mine=store.accounts.session_id(sid) if isinstance(sid, str) else None,
        users=store.accounts.users(),
    )


@admin_required
def sessions_end() -> Any:
    """End one session (`session` = its id from the list) or every session of `user` (log out everywhere)."""
    name = (request.form.get("user") or "").strip()[:64]
    one = (request.form.get("session") or "").strip() or None
    if not name or (one is not None and not SESSION_ID_RE.fullmatch(one)):
        abort(400, "Say whose sessions to end (and which one, by its id from the list).")
    try:
        n = current_store().accounts.end_sessions(name, actor=current_user.name, session_id=one)
    except KeyError:
        abort(400, f"There is no account {name!r}.")
    if one:
        flash(f"Ended {name}'s session." if n else f"{name} had no such session (already ended).", "ok")
    else:
        flash(f"Logged {name} out everywhere: {n} session{'' if n == 1 else 's'} ended.", "ok")
    return redirect(url_for("sessions"), 303)


def register(app: Flask) -> None:
    app.add_url_rule("/sessions", "sessions", sessions)
    app.add_url_rule("/sessions/end", "sessions_end", sessions_end, methods=["POST"])
    app.add_url_rule("/audit", "audit", audit)
    app.add_url_rule("/allowlist", "allowlist", allowlist)
    app.add_url_rule("/allowlist", "allowlist_add", allowlist_add, methods=["POST"])
    app.add_url_rule(
        "/allowlist/<int:entry_id>/remove", "allowlist_remove", allowlist_remove, methods=["POST"]
    )
    app.add_url_rule(
        "/allowlist/<int:entry_id>/approve", "allowlist_approve", allowlist_approve, methods=["POST"]
    )
    app.add_url_rule(
        "/allowlist/<int:entry_id>/reject", "allowlist_reject", allowlist_reject, methods=["POST"]
    )
    app.jinja_env.globals["allow_requests"] = allow_requests  # called by the navigation, not on error pages
