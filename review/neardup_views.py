"""Near-duplicates on the image page (store/neardup.py): the stored images within the match distance, a
"re-upload of a rejected image" marker, and one form that decides this image and its pending
near-duplicates together.

Choices:
- The list is read when the page is drawn (any hash of this image against any of theirs), so it also shows
  copies stored after this image and holds whatever group the images were given when stored.
- The marker shows when this image was stored as a near-duplicate of an image rejected then, or when one
  of its near-duplicates is rejected now.
- The group decision is one bulk decision (store.decisions.record_many) over this image and the listed
  near-duplicates still pending: decided images keep their decision.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, flash, redirect, request, url_for
from flask_login import current_user

from review.auth import current_store
from store.decisions import DecisionRefused
from store.neardup import NearDups
from store.review import ReviewStore
from store.terms import REVIEW_STATUSES


def context(store: ReviewStore, sha: str) -> dict[str, Any]:
    """What the image page shows about near-duplicates: neardups (nearest first), reupload_of (the
    rejected image this one re-uploads, or None) and group_pending (what the group decision covers)."""
    near = NearDups(store.db)
    listed = near.near(sha)
    group = near.group_of(sha)
    reupload = group["reupload_of"] if group else None
    if reupload is None:
        reupload = next((n["sha256"] for n in listed if n["review_status"] == "violation"), None)
    return {
        "neardups": listed,
        "reupload_of": reupload,
        "group_pending": [n["sha256"] for n in listed if n["review_status"] == "pending"],
    }


def decide_neardups(sha: str) -> Any:
    store = current_store()
    status = request.form.get("status", "")
    if status not in REVIEW_STATUSES or status == "pending":
        abort(400, "Choose what to mark the image and its near-duplicates as.")
    item = store.queue.item(sha)
    if item is None:
        abort(404, "No image with this hash in the store.")
    shas = context(store, sha)["group_pending"] + ([sha] if item["review_status"] == "pending" else [])
    if not shas:
        flash("Nothing was changed: this image and its near-duplicates are all decided.", "error")
        return redirect(url_for("detail", sha=sha), 303)
    try:
        note = request.form.get("note")
        n = store.decisions.record_many(shas, status, reviewer=current_user.name, note=note)
    except DecisionRefused as exc:
        flash(f"Nothing was changed: {exc}", "error")
        return redirect(url_for("detail", sha=sha), 303)
    flash(f"Marked {n} image{'s' if n != 1 else ''} (this one and its near-duplicates) as "
          f"{status.replace('_', ' ')}.", "ok")  # fmt: skip
    return redirect(url_for("detail", sha=sha), 303)


def register(app: Flask) -> None:
    app.add_url_rule("/image/<sha>/neardups", "decide_neardups", decide_neardups, methods=["POST"])
