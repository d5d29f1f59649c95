"""The moderator's pages: the queue, one image, decisions (single, bulk, undo), the decision history, and
the evidence pictures.

Choices:
- The queue's filters are GET parameters (status incl. "all", type, rule, shop, since, until, sort) and
  ride along everywhere: pagination links, links to an image, the image's previous/next links, and the
  query string of every form's action. After a decision the server redirects (303) to the next image in
  that same filtered queue, computed from those parameters only: there is no `next=` URL to abuse.
  A status or sort the app does not know is dropped (and said so), so a stale bookmark still opens the
  queue; a date or page number that cannot be read (or a date out of range, like 9999-12-31) is a 400 that
  says which parameter and what it takes.
- A decision is on the image (its bytes), so it covers every URL, listing and shop the bytes were seen
  at; the pages say so.
- Two moderators on one image: the decision form carries the id of the newest decision the moderator
  saw; if another person decided the image since, the decision is refused (nothing written) and the
  image shown again with what changed. The same person's repeat (double submit) is not refused.
- Allow-list from a decision: findings ticked "allow" become kind "value" entries (contact type = the
  finding's type, scope = one of the image's shops or everywhere, chosen in the form), only together with
  a "false positive" decision, written with it in one transaction and linked to it, and none for a value
  an entry already allows there (Decisions.false_positive, shared with `qqscan review decide
  --allow`; docs/review.md). Everywhere is an admin's call: a moderator's entries for every shop are
  requests an admin approves or rejects on the allow-list page (store/allowlist.py). Undoing that decision
  does not remove them on its own (an entry may be right although the decision was not): the undo says
  which entries it left and the image page offers a button to remove them (to the decision's author or
  an admin).
- /blob/<sha> serves kept evidence pictures to logged-in users only: PNG, JPEG, WebP, GIF as themselves,
  anything else as an application/octet-stream attachment; "Cache-Control: private, no-store", like the
  pages: after logout a shared browser's cache holds no evidence (the price: pictures load again on
  every visit).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Flask, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from review import contacts_views, neardup_views
from review.auth import current_store
from store.decisions import DecisionRefused, ScopeRefused
from store.findings import is_live
from store.queue import FIRST_DAY, LAST_DAY, SORTS, QueueFilter
from store.terms import CONTACT_TYPES, DECISIONS, REVIEW_STATUSES

SHA_RE = re.compile(r"[0-9a-f]{64}")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fromisoformat alone also takes 20261127, 2026-W48
FILTER_KEYS = ("status", "type", "rule", "shop", "since", "until", "sort")
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
MAX_BULK = 500


def _valid_sha(sha: str) -> str:
    if not SHA_RE.fullmatch(sha):
        abort(404)
    return sha


def parse_filter(args: Any) -> tuple[QueueFilter, dict[str, str], list[str]]:
    """(the QueueFilter, the cleaned parameters to carry in links, what was ignored and why)."""
    params: dict[str, str] = {}
    ignored: list[str] = []
    status: str | None = "pending"
    raw = (args.get("status") or "").strip()
    if raw == "all":
        status = None
        params["status"] = "all"
    elif raw in REVIEW_STATUSES:
        status = raw
        params["status"] = raw
    elif raw:
        ignored.append(f"status {raw!r}")
    text: dict[str, str | None] = {}
    for key in ("type", "rule", "shop"):
        v = (args.get(key) or "").strip()
        if len(v) > 128:
            ignored.append(f"{key} (too long)")
            v = ""
        text[key] = v or None
        if v:
            params[key] = v
    dates: dict[str, date | None] = {}
    for key in ("since", "until"):
        v = (args.get(key) or "").strip()
        dates[key] = None
        if v:
            try:
                day = date.fromisoformat(v) if DATE_RE.fullmatch(v) else None
            except ValueError:
                day = None
            if day is None or not FIRST_DAY <= day <= LAST_DAY:
                abort(400, f"The {key} date {v[:40]!r} is not a date from {FIRST_DAY} to {LAST_DAY} "
                      "(YYYY-MM-DD).")  # fmt: skip
            dates[key] = day
            params[key] = day.isoformat()
    sort = (args.get("sort") or "").strip()
    if sort and sort not in SORTS:
        ignored.append(f"sort {sort!r}")
        sort = ""
    if sort:
        params["sort"] = sort
    f = QueueFilter(
        status=status,
        type=text["type"],
        rule=text["rule"],
        shop=text["shop"],
        since=dates["since"],
        until=dates["until"],
        sort=sort or "newest",
    )
    return f, params, ignored


def _page_arg(name: str = "page") -> int:
    """The page number: a whole number from 1 (past the last page shows the last); anything else is a 400."""
    raw = (request.args.get(name) or "1").strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        abort(400, f"The {name} number {raw[:40]!r} is not a whole number from 1.")
    return min(int(raw), 1_000_000)


def _per_page() -> int:
    return int(current_app.config.get("REVIEW_PER_PAGE", 50))


# --- the queue ---------------------------------------------------------------------------------------------


def queue() -> Any:
    store = current_store()
    f, params, ignored = parse_filter(request.args)
    page = _page_arg()
    result = store.queue.page(f, page=page, per_page=_per_page())
    if page > result.pages:  # past the end (images left the queue since): show the last page
        page = result.pages
        result = store.queue.page(f, page=page, per_page=_per_page())
    for item in result.items:
        seen: dict[tuple[str, str], None] = {}
        for finding in item["findings"]:
            seen[(str(finding.get("type")), str(finding.get("value") or finding.get("text") or ""))] = None
        item["summary"] = list(seen)
    types = list(CONTACT_TYPES) + ([f.type] if f.type and f.type not in CONTACT_TYPES else [])
    rules = store.queue.rules_in_use()
    if f.rule and f.rule not in rules:
        rules.append(f.rule)
    return render_template(
        "queue.html",
        result=result,
        page=page,
        filters=params,
        filter=f,
        ignored=ignored,
        statuses=REVIEW_STATUSES,
        decisions=DECISIONS,
        types=types,
        rules=rules,
        shops=store.queue.shops_in_use(),
        sorts=SORTS,
        all_count=sum(result.counts.values()),
    )


def bulk() -> Any:
    store = current_store()
    _, params, _ = parse_filter(request.args)
    page = _page_arg()
    back = url_for("queue", **params, **({"page": page} if page > 1 else {}))
    status = request.form.get("status", "")
    shas = request.form.getlist("sha")
    if status not in REVIEW_STATUSES:
        abort(400, "Choose what to mark the selected images as.")
    if not shas:
        flash("No images selected: tick the images first.", "error")
        return redirect(back, 303)
    if len(shas) > MAX_BULK or not all(SHA_RE.fullmatch(s) for s in shas):
        abort(400, "The selection is not a list of image hashes.")
    try:
        n = store.decisions.record_many(
            shas, status, reviewer=current_user.name, note=request.form.get("note")
        )
    except DecisionRefused as exc:
        flash(f"Nothing was changed: {exc}", "error")
        return redirect(back, 303)
    flash(
        f"Marked {n} image{'s' if n != 1 else ''} as {status.replace('_', ' ')} (every source of each).", "ok"
    )
    return redirect(back, 303)


# --- one image ----------------------------------------------------------------------------------------------


def _points(box: Any, ev: dict[str, Any]) -> list[tuple[float, float]] | None:
    """A finding's box (4 [x, y] corners, or [x1, y1, x2, y2]) in image pixels, mapped onto an evidence
    blob: ((x - x0) * scale, (y - y0) * scale)."""
    try:
        if isinstance(box, list | tuple) and len(box) == 4 and all(isinstance(v, int | float) for v in box):
            x1, y1, x2, y2 = (float(v) for v in box)
            corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
        else:
            corners = [(float(p[0]), float(p[1])) for p in box]
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    if len(corners) < 3:
        return None
    scale, x0, y0 = float(ev.get("scale") or 1.0), float(ev.get("x0") or 0), float(ev.get("y0") or 0)
    return [(round((x - x0) * scale, 1), round((y - y0) * scale, 1)) for x, y in corners]


def _overlay(finding: dict[str, Any], ev: dict[str, Any]) -> dict[str, Any] | None:
    pts = _points(finding.get("box"), ev)
    if pts is None:
        return None
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    font = max(12.0, round(float(ev.get("width") or 0) / 50, 1))
    label_y = min(ys) - 4 if min(ys) - font - 4 > 0 else max(ys) + font
    return {
        "index": finding["index"],
        "number": finding["index"] + 1,
        "points": " ".join(f"{x},{y}" for x, y in pts),
        "label_x": max(0.0, min(xs)),
        "label_y": round(label_y, 1),
        "font": font,
        "allowed": not is_live(finding),
    }


def _zoom(ev: dict[str, Any], target: int = 360) -> tuple[int, int]:
    """Display size of a crop: enlarged to about `target` pixels wide (at most 4x), never shrunk."""
    w, h = int(ev.get("width") or 1), int(ev.get("height") or 1)
    k = max(1.0, min(4.0, target / max(w, 1)))
    return round(w * k), round(h * k)


def detail(sha: str) -> Any:
    store = current_store()
    _valid_sha(sha)
    item = store.queue.item(sha)
    if item is None:
        abort(404, "No image with this hash in the store.")
    f, params, ignored = parse_filter(request.args)
    frames = []
    for ev in item["frames"]:
        boxes = [
            o
            for finding in item["findings"]
            if (finding.get("frame") or 0) == ev["frame"] and (o := _overlay(finding, ev)) is not None
        ]
        frames.append({**ev, "boxes": boxes})
    kept = {ev["frame"] for ev in item["frames"]}
    for finding in item["findings"]:
        finding["on_kept_frame"] = (finding.get("frame") or 0) in kept
        crop = finding.get("crop")
        if crop:
            finding["crop_box"] = _overlay(finding, crop)
            finding["crop_size"] = _zoom(crop)
    shops = sorted({s["shop_id"] for s in item["sources"] if s.get("shop_id")})
    last = item["decisions"][-1]["id"] if item["decisions"] else 0
    return render_template(
        "detail.html",
        item=item,
        frames=frames,
        shops=shops,
        filters=params,
        filter=f,
        ignored=ignored,
        prev_sha=store.queue.neighbour(sha, f, -1),
        next_sha=store.queue.neighbour(sha, f, +1),
        seen=last,
        decisions=DECISIONS,
        offer=undone_offer(item),
        contacts=store.contacts.of_image(sha),
        **neardup_views.context(store, sha),
    )


def decide(sha: str) -> Any:
    store = current_store()
    _valid_sha(sha)
    f, params, _ = parse_filter(request.args)
    here = url_for("detail", sha=sha, **params)
    status = request.form.get("status", "")
    if status not in REVIEW_STATUSES:
        abort(400, f"Unknown decision {status!r}.")
    allow = request.form.getlist("allow")
    me = current_user.name

    newest = store.decisions.history(sha256=sha, limit=1)
    seen = request.form.get("seen")
    if seen is not None and newest:
        latest = newest[0]
        if str(latest["id"]) != seen.strip() and latest["reviewer"] != me:
            flash(
                f"Not saved: {latest['reviewer']} changed this image to "
                f"{latest['status'].replace('_', ' ')} meanwhile. Check it and decide again.",
                "error",
            )
            return redirect(here, 303)

    entries: list[tuple[str, str | None]] = []
    if allow:
        if status != "false_positive":
            flash("Not saved: findings can be allow-listed only with a false positive decision.", "error")
            return redirect(here, 303)
        item = store.queue.item(sha)
        if item is None:
            abort(404, "No image with this hash in the store.")
        findings = item["findings"]
        for raw in allow:
            try:
                finding = findings[int(raw)]
            except (ValueError, IndexError):
                abort(400, f"No finding {raw!r} on this image.")
            value = str(finding.get("value") or "").strip()
            if not value:
                abort(400, f"Finding {int(raw) + 1} has no value to allow-list.")
            entries.append((value, str(finding.get("type") or "") or None))
    scope = request.form.get("allow_shop", "")
    note = request.form.get("note")
    try:
        if entries:
            done = store.decisions.false_positive(
                {sha: entries}, reviewer=me, shop_id=scope or None, note=note
            )
            flash(allow_listed(done.added, done.requested, done.covered, scope or None), "ok")
        else:
            store.decisions.record(sha, status, reviewer=me, note=note)
    except DecisionRefused:
        abort(404, "No image with this hash in the store.")
    except ScopeRefused as exc:  # a forged scope: the form offers only the image's shops
        abort(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    except ValueError as exc:  # an entry the allow-list refuses (e.g. a QR payload over 500 characters)
        flash(f"Not saved: {exc}.", "error")
        return redirect(here, 303)
    flash(f"Marked {sha[:12]} as {status.replace('_', ' ')}.", "ok")
    nxt = store.queue.neighbour(sha, f, +1)
    if nxt:
        return redirect(url_for("detail", sha=nxt, **params), 303)
    flash("That was the last image in this queue.", "info")
    return redirect(url_for("queue", **params), 303)


def allow_listed(
    added: list[dict[str, Any]],
    requested: list[dict[str, Any]],
    covered: list[dict[str, Any]],
    scope: str | None,
) -> str:
    """The message after allow-listing from a decision: the entries made (or requested from an admin),
    and the values that needed none."""
    where = f"shop {scope}" if scope else "everywhere"
    if requested:
        n, ids = len(requested), ", ".join(str(e["id"]) for e in requested)
        plural = "s" if n != 1 else ""
        said = f"Asked an admin to allow-list {n} value{plural} everywhere (request{plural} {ids}, in force "
        said += "once approved)"
    else:
        n = len(added)
        said = f"Allow-listed {n} value{'s' if n != 1 else ''} ({where})"
        said += (": entries " + ", ".join(str(e["id"]) for e in added)) if added else ""
    allowed = [f"{e['value']} (entry {e['entry']})" for e in covered if not e.get("waiting")]
    asked = [f"{e['value']} (request {e['entry']})" for e in covered if e.get("waiting")]
    if allowed:
        said += "; already allowed: " + ", ".join(allowed)
    if asked:
        said += "; already requested: " + ", ".join(asked)
    return said + "."


def undo() -> Any:
    """Undo the current user's newest decision; back to that image. When refused or when there is
    nothing to undo, back to the page the form was on (`here`: an image hash, never a URL) or the queue."""
    store = current_store()
    _, params, _ = parse_filter(request.args)
    here = request.form.get("here", "")
    back = url_for("detail", sha=here, **params) if SHA_RE.fullmatch(here) else url_for("queue", **params)
    try:
        done = store.decisions.undo_last(current_user.name)
    except DecisionRefused as exc:
        msg = str(exc)
        flash(msg[:1].upper() + msg[1:], "error")
        return redirect(back, 303)
    if done is None:
        flash("Nothing to undo: you have no decision left to take back.", "info")
        return redirect(back, 303)
    if done.get("contact") is not None:  # a decision on a contact: undone whole (store/decisions.py)
        return _undone_contact(done)
    flash(
        f"Undone: {done['sha256'][:12]} is back to {done['to'].replace('_', ' ')} "
        f"(was {done['from'].replace('_', ' ')}).",
        "ok",
    )
    if done["allow_entries"]:  # the detail page then offers to remove them (see `undone_offer`)
        left = done["allow_entries"]
        stays = "still in force" if all(e["status"] == "active" for e in left) else "not withdrawn"
        flash(f"The undone decision had allow-listed {len(left)} value{'s' if len(left) != 1 else ''}, "
              f"{stays}: " + "; ".join(describe_entry(e) for e in left) + ".", "info")  # fmt: skip
        return redirect(url_for("detail", sha=done["sha256"], undone=done["undone"], **params), 303)
    return redirect(url_for("detail", sha=done["sha256"], **params), 303)


def _undone_contact(done: dict[str, Any]) -> Any:
    n, skipped = len(done["images"]), done["skipped"]
    said = f"Undone: contact {done['type']} {done['value']} is back to {done['to']} and {n} image"
    said += f"{'s' if n != 1 else ''} to their previous status."
    if skipped:
        said += " Left as others decided them since: " + ", ".join(s[:12] for s in skipped) + "."
    flash(said, "ok")
    left = done.get("contact_allow_entries") or []
    if left:
        flash("The allow-list entry it made stays in force: " + "; ".join(describe_entry(e) for e in left)
              + ". An admin removes it on the allow-list page.", "info")  # fmt: skip
    return redirect(url_for("contact", cid=done["contact"]), 303)


def describe_entry(e: dict[str, Any]) -> str:
    """ "entry 12 (qq 391287654, shop s-1)": an allow-list entry in one phrase, for messages."""
    where = f"shop {e['shop_id']}" if e.get("shop_id") else "every shop"
    waiting = ", a request awaiting an admin" if e.get("status") == "pending" else ""
    return f"entry {e['id']} ({e.get('contact_type') or 'any type'} {e['value']}, {where}{waiting})"


def undone_offer(item: dict[str, Any]) -> dict[str, Any] | None:
    """After an undo (?undone=<decision id>): the entries that decision made on this image and that are
    still in force, when the current user may remove them (their own decision, or an admin)."""
    raw = request.args.get("undone", "")
    if not raw.isascii() or not raw.isdigit():
        return None
    decision = next((d for d in item["decisions"] if d["id"] == int(raw)), None)
    if decision is None or (decision["reviewer"] != current_user.name and not current_user.is_admin):
        return None
    entries = current_store().allowlist.decision_entries(decision["id"])
    if not entries:
        return None
    return {"decision": decision["id"], "entries": entries, "described": [describe_entry(e) for e in entries]}


def undo_allow() -> Any:
    """Remove the allow-list entries an undone decision made (offered on the image page after the undo)."""
    store = current_store()
    _, params, _ = parse_filter(request.args)
    here = request.form.get("here", "")
    raw = request.form.get("decision", "")
    if not SHA_RE.fullmatch(here) or not raw.isascii() or not raw.isdigit():
        abort(400, "Say which decision's allow-list entries to remove.")
    try:
        removed = store.allowlist.remove_decision(
            int(raw), removed_by=current_user.name, admin=current_user.is_admin
        )
    except KeyError:
        abort(404, f"No decision #{raw}.")
    except PermissionError as exc:
        abort(403, str(exc))
    if removed:
        flash(f"Removed allow-list entr{'y' if len(removed) == 1 else 'ies'} "
              + ", ".join(str(i) for i in removed) + ": new scans no longer use them.", "ok")  # fmt: skip
    else:
        flash("Nothing to remove: those allow-list entries were already removed.", "info")
    return redirect(url_for("detail", sha=here, **params), 303)


# --- history and pictures ---------------------------------------------------------------------------------


def history() -> Any:
    store = current_store()
    reviewer = (request.args.get("reviewer") or "").strip()[:128]
    page, per = _page_arg(), _per_page()
    rows = store.decisions.history(reviewer=reviewer or None, limit=per + 1, offset=(page - 1) * per)
    return render_template(
        "history.html",
        rows=rows[:per],
        page=page,
        has_next=len(rows) > per,
        reviewer=reviewer,
        reviewers=[u.name for u in store.accounts.users()],
    )


def blob(sha: str) -> Any:
    _valid_sha(sha)
    found = current_store().queue.blob(sha)
    if found is None:
        abort(404)
    content_type, data = found
    resp = Response(data)
    if content_type in IMAGE_TYPES:
        resp.headers["Content-Type"] = content_type
    else:
        resp.headers["Content-Type"] = "application/octet-stream"
        resp.headers["Content-Disposition"] = f'attachment; filename="{sha}.bin"'
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"  # nothing readable left in the cache after logout
    return resp


def favicon() -> Any:
    """Browsers ask for /favicon.ico on their own: an empty answer instead of a 404 in their console."""
    return Response(status=204)


def register(app: Flask) -> None:
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    app.add_url_rule("/", "queue", queue)
    app.add_url_rule("/bulk", "bulk", bulk, methods=["POST"])
    app.add_url_rule("/image/<sha>", "detail", detail)
    app.add_url_rule("/image/<sha>/decide", "decide", decide, methods=["POST"])
    app.add_url_rule("/undo", "undo", undo, methods=["POST"])
    app.add_url_rule("/undo/allow", "undo_allow", undo_allow, methods=["POST"])
    app.add_url_rule("/history", "history", history)
    app.add_url_rule("/blob/<sha>", "blob", blob)
    neardup_views.register(app)
    contacts_views.register(app)
