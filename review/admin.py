"""Admin pages: the audit log (logins, allow-list and account changes, next to every decision) and the
allow-list (every entry, removed ones too, since entries are never deleted; add value or phrase entries;
remove). Moderators get 403 here. Accounts are managed with `qqscan review` on the command line.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from detectors.allowlist import KINDS as ALLOW_KINDS
from review.auth import admin_required, current_store
from review.views import KNOWN_TYPES, _page_arg, _per_page


@admin_required
def audit() -> Any:
    store = current_store()
    actor = (request.args.get("actor") or "").strip()[:128]
    page, per = _page_arg(), _per_page()
    events = store.audit_log(actor=actor or None, limit=per + 1, offset=(page - 1) * per)
    decisions = store.history(reviewer=actor or None, limit=per + 1, offset=(page - 1) * per)
    return render_template(
        "audit.html",
        actor=actor,
        events=events[:per],
        decisions=decisions[:per],
        page=page,
        has_next=len(events) > per or len(decisions) > per,
        users=store.users(),
    )


@admin_required
def allowlist() -> Any:
    store = current_store()
    return render_template(
        "allowlist.html",
        entries=store.allow_entries(include_removed=True),
        kinds=ALLOW_KINDS,
        types=KNOWN_TYPES,
        shops=store.shops_in_use(),
    )


@admin_required
def allowlist_add() -> Any:
    kind = request.form.get("kind", "")
    if kind not in ALLOW_KINDS:
        abort(400, "Choose what kind of entry to add: a contact value or a phrase.")
    contact_type = (request.form.get("contact_type") or "").strip()[:16] or None
    shop_id = (request.form.get("shop_id") or "").strip()[:128] or None
    try:
        eid = current_store().add_allow(
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
    if current_store().remove_allow(entry_id, removed_by=current_user.name):
        flash(f"Removed allow-list entry {entry_id}: scans from now on no longer use it.", "ok")
    else:
        flash(f"Allow-list entry {entry_id} does not exist or was already removed.", "error")
    return redirect(url_for("allowlist"), 303)


def register(app: Flask) -> None:
    app.add_url_rule("/audit", "audit", audit)
    app.add_url_rule("/allowlist", "allowlist", allowlist)
    app.add_url_rule("/allowlist", "allowlist_add", allowlist_add, methods=["POST"])
    app.add_url_rule(
        "/allowlist/<int:entry_id>/remove", "allowlist_remove", allowlist_remove, methods=["POST"]
    )
