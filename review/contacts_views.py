"""Review by contact and by shop: the contacts page (sorted by spread, with a search box), one contact
(its images as thumbnails linking to the image page, its shops, its timeline, a decision form) and one
shop (its contacts, flagged images and the decisions on them).

Choices:
- Deciding a contact decides all its pending images in one transaction with one audit entry
  (store/contacts.py); "Undo my last decision" (the same /undo as the image page) takes it back whole.
  A decision on a contact is refused (nothing written) when someone else decided the contact since the
  page was drawn (the form carries the newest contact decision the moderator saw), like the image page.
- "Violation" makes it a known contact: its later images go first in the queue with a badge, and with
  QQSCAN_KNOWN_CONTACT_AUTO_CONFIRM (app config KNOWN_CONTACT_AUTO_CONFIRM) they are confirmed as they
  are stored. "False positive" allow-lists its value in every shop (a request an admin approves, unless
  an admin decides), as the image page's allow-list does.
- The search box takes a number or id as pasted (spaces, dashes, +86, "QQ:" in front): one exact match
  opens that contact; otherwise the matches are listed.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from review.auth import current_store
from store.decisions import DecisionRefused
from store.terms import CONTACT_SORTS, CONTACT_STATUSES, CONTACT_TYPES, DECISIONS


def _page_arg() -> int:
    raw = (request.args.get("page") or "1").strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        abort(400, f"The page number {raw[:40]!r} is not a whole number from 1.")
    return min(int(raw), 1_000_000)


def contacts() -> Any:
    store = current_store()
    q = (request.args.get("q") or "").strip()[:500]
    sort = request.args.get("sort") or "shops"
    status = request.args.get("status") or None
    kind = request.args.get("type") or None
    if sort not in CONTACT_SORTS:
        sort = "shops"
    if status not in CONTACT_STATUSES:
        status = None
    if kind not in CONTACT_TYPES:
        kind = None
    params = {k: v for k, v in (("sort", sort), ("status", status), ("type", kind)) if v}
    if q:
        found = store.contacts.search(q)
        if len(found) == 1:
            return redirect(url_for("contact", cid=found[0]["id"]), 303)
        return render_template(
            "contacts.html",
            items=found,
            q=q,
            result=None,
            params=params,
            sorts=CONTACT_SORTS,
            statuses=CONTACT_STATUSES,
            types=CONTACT_TYPES,
        )
    page = _page_arg()
    per = int(current_app.config.get("REVIEW_PER_PAGE", 50))
    result = store.contacts.page(sort=sort, page=page, per_page=per, status=status, type=kind)
    return render_template(
        "contacts.html",
        items=result.items,
        q="",
        result=result,
        params=params,
        sorts=CONTACT_SORTS,
        statuses=CONTACT_STATUSES,
        types=CONTACT_TYPES,
    )


def contact(cid: int) -> Any:
    store = current_store()
    c = store.contacts.get(cid)
    if c is None:
        abort(404, "No such contact in the store.")
    seen = c["decisions"][-1]["id"] if c["decisions"] else 0
    return render_template(
        "contact.html",
        c=c,
        seen=seen,
        decisions=DECISIONS,
        auto_confirm=bool(current_app.config.get("KNOWN_CONTACT_AUTO_CONFIRM")),
    )


def decide_contact(cid: int) -> Any:
    store = current_store()
    here = url_for("contact", cid=cid)
    status = request.form.get("status", "")
    if status not in DECISIONS:
        abort(400, f"Unknown decision {status!r}.")
    c = store.contacts.get(cid, image_limit=0)
    if c is None:
        abort(404, "No such contact in the store.")
    seen = (request.form.get("seen") or "").strip()
    if c["decisions"] and seen and str(c["decisions"][-1]["id"]) != seen:
        latest = c["decisions"][-1]
        if latest["reviewer"] != current_user.name:
            who = latest["reviewer"]
            flash(f"Not saved: {who} decided this contact meanwhile. Check it and decide again.", "error")
            return redirect(here, 303)
    auto = bool(current_app.config.get("KNOWN_CONTACT_AUTO_CONFIRM"))
    try:
        done = store.contacts.decide(
            cid, status, reviewer=current_user.name, note=request.form.get("note"), auto_confirm=auto
        )
    except DecisionRefused:
        abort(404, "No such contact in the store.")
    n = len(done["images"])
    said = f"Marked contact {done['type']} {done['value']} as {status.replace('_', ' ')}"
    said += f" and {n} pending image{'s' if n != 1 else ''} with it (one action: undo takes it all back)."
    if done["status"] == "seller":
        said += " Its later images go first in the queue as a known contact"
        said += ", confirmed as they are stored." if done["auto_confirm"] else "."
    if done["allow_entry"] is not None:
        waits = " (a request until an admin approves it)" if not current_user.is_admin else ""
        said += f" Allow-list entry {done['allow_entry']} for every shop{waits}."
    elif done["allow_covered"] is not None:
        said += f" Already allow-listed by entry {done['allow_covered']}."
    flash(said, "ok")
    return redirect(here, 303)


def shop(shop_id: str) -> Any:
    from store.queue import QueueFilter

    if not shop_id or len(shop_id) > 128:
        abort(404)
    store = current_store()
    info = store.contacts.shop(shop_id)
    flagged = store.queue.page(QueueFilter(status=None, shop=shop_id), per_page=200)
    return render_template("shop.html", shop=info, flagged=flagged)


def register(app: Flask) -> None:
    app.add_url_rule("/contacts", "contacts", contacts)
    app.add_url_rule("/contact/<int:cid>", "contact", contact)
    app.add_url_rule("/contact/<int:cid>/decide", "decide_contact", decide_contact, methods=["POST"])
    app.add_url_rule("/shop/<path:shop_id>", "shop", shop)
