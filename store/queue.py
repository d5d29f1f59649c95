"""The review queue as moderators read it: flagged images (each image's newest scan, where it flagged),
filtered and sorted, page by page with per-status counts; one image's evidence; kept pictures; and the
export of confirmed violations. Reads only: decisions are store/decisions.py's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from store.contacts import known_contact
from store.database import Database
from store.decisions import decision_dict
from store.findings import is_live, live_findings
from store.models import Blob, Decision, Evidence, Image, Scan, Source
from store.results import _source_dict, newest_scan, newest_scan_of, sources_by_image
from store.terms import REVIEW_STATUSES

SORTS = ("newest", "confidence")
# Dates a queue filter accepts: "until" is read as "before the next day", which 9999-12-31 does not have.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)


@dataclass(frozen=True)
class QueueFilter:
    """The queue's filters; None = any. `since`/`until` are scan dates (UTC), both inclusive."""

    status: str | None = "pending"
    type: str | None = None
    rule: str | None = None
    shop: str | None = None
    since: date | None = None
    until: date | None = None
    sort: str = "newest"

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            day = getattr(self, name)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise ValueError(
                    f"{name} {day.isoformat()} is out of range: give a date from {FIRST_DAY} to {LAST_DAY}"
                )
        if self.status is not None and self.status not in REVIEW_STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(REVIEW_STATUSES)}")
        if self.sort not in SORTS:
            raise ValueError(f"sort {self.sort!r} is not one of {', '.join(SORTS)}")


@dataclass
class QueuePage:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)  # review status -> images, under the other filters

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _split(csv: str | None) -> list[str]:
    return [x for x in (csv or "").split(",") if x]


class ReviewQueue:
    """The queue's reads over one Database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _latest_flagged(self) -> Select[Any]:
        """(Scan, Image) for each image's newest scan, where that scan flagged it."""
        return (
            select(Scan, Image)
            .join(Image, Image.sha256 == Scan.image_sha256)
            .where(newest_scan(), Scan.flagged.is_(True))
        )

    def _filtered(self, q: Select[Any], f: QueueFilter, *, with_status: bool = True) -> Select[Any]:
        if with_status and f.status is not None:
            q = q.where(Image.review_status == f.status)
        if f.type:
            q = q.where(Scan.finding_types.like(f"%,{_like_literal(f.type)},%", escape="\\"))
        if f.rule:
            q = q.where(Scan.finding_rules.like(f"%,{_like_literal(f.rule)},%", escape="\\"))
        if f.shop:
            q = q.where(exists().where(Source.image_sha256 == Image.sha256, Source.shop_id == f.shop))
        if f.since:
            q = q.where(Scan.created_at >= _day_start(f.since))
        if f.until:
            q = q.where(Scan.created_at < _day_start(f.until + timedelta(days=1)))
        return q

    @staticmethod
    def _order(q: Select[Any], sort: str) -> Select[Any]:
        # Images that carry a known contact (one confirmed as a seller's) come first, in either order.
        if sort == "confidence":
            return q.order_by(_known().desc(), Scan.max_confidence.desc(), Scan.id.desc())
        return q.order_by(_known().desc(), Scan.id.desc())  # ids grow with insertion: newest scan first

    def page(self, f: QueueFilter | None = None, *, page: int = 1, per_page: int = 50) -> QueuePage:
        f = f or QueueFilter()
        page, per_page = max(1, page), max(1, min(per_page, 500))
        base = self._filtered(self._latest_flagged(), f)
        with self.db.read() as conn, Session(conn) as session:
            rows = session.execute(
                self._order(base.add_columns(_known().label("known")), f.sort)
                .offset((page - 1) * per_page)
                .limit(per_page)
            ).all()
            items = self._queue_items(conn, rows)
            counts = self._counts(conn, f)
        # The counts apply every filter but status, and review_status is check-constrained to
        # REVIEW_STATUSES: the total is the status's count (or their sum), no second count query.
        total = counts.get(f.status, 0) if f.status else sum(counts.values())
        return QueuePage(items=items, total=total, page=page, per_page=per_page, counts=counts)

    def _counts(self, conn: Connection, f: QueueFilter) -> dict[str, int]:
        """Review status -> images under every filter of `f` except its status."""
        sub = self._filtered(self._latest_flagged(), f, with_status=False).subquery()
        counts = dict.fromkeys(REVIEW_STATUSES, 0)
        for status, n in conn.execute(
            select(sub.c.review_status, func.count()).group_by(sub.c.review_status)
        ):
            counts[status] = int(n)
        return counts

    def _queue_items(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        sources = sources_by_image(conn, [r.Image.sha256 for r in rows])
        thumbs: dict[int, str] = {}
        crops: dict[int, dict[int, str]] = {}
        if rows:
            scan_ids = [r.Scan.id for r in rows]
            eq = (
                select(Evidence.scan_id, Evidence.blob_sha256)
                .where(Evidence.scan_id.in_(scan_ids), Evidence.kind == "frame")
                .order_by(Evidence.frame.desc())  # the last write per scan wins: the lowest frame
            )
            for scan_id, blob in conn.execute(eq):
                thumbs[scan_id] = blob
            # the crops around findings: a queue row shows the first counting finding's close-up, which
            # at row height says more than a whole page shrunk to a stamp
            cq = select(Evidence.scan_id, Evidence.finding, Evidence.blob_sha256).where(
                Evidence.scan_id.in_(scan_ids), Evidence.kind == "crop"
            )
            for scan_id, index, blob in conn.execute(cq):
                crops.setdefault(scan_id, {})[index] = blob
        out = []
        for r in rows:
            scan, image = r.Scan, r.Image
            srcs = sources[image.sha256]
            live = live_findings(scan.findings)
            kept = crops.get(scan.id, {})
            findings = scan.findings or []
            closeup = next((kept[i] for i, f in enumerate(findings) if i in kept and is_live(f)), None)
            out.append(
                {
                    "sha256": image.sha256,
                    "scan_id": scan.id,
                    "scanned_at": scan.created_at,
                    "review_status": image.review_status,
                    "reviewed_at": image.reviewed_at,
                    "max_confidence": scan.max_confidence,
                    "types": _split(scan.finding_types),
                    "rules": _split(scan.finding_rules),
                    "findings": live,
                    "width": image.width,
                    "height": image.height,
                    "format": image.format,
                    "frames": image.frames,
                    "url": srcs[0].url if srcs else scan.source,
                    "sources": len(srcs),
                    "shops": sorted({s.shop_id for s in srcs if s.shop_id}),
                    "thumb": thumbs.get(scan.id),
                    "closeup": closeup,
                    "known": bool(getattr(r, "known", False)),
                }
            )
        return out

    def neighbour(self, sha256: str, f: QueueFilter, direction: int) -> str | None:
        """The image after (direction=1) or before (-1) `sha256` in the queue's order under `f`, even when
        `sha256` itself no longer matches (it was just decided and left the pending queue)."""
        with self.db.read() as conn:
            cur = conn.execute(
                self._latest_flagged()
                .where(Image.sha256 == sha256)
                .with_only_columns(Scan.id, Scan.max_confidence, _known())
            ).first()
            if cur is None:
                return None
            q = self._filtered(self._latest_flagged(), f).where(Image.sha256 != sha256)
            conf, k, known = cur.max_confidence or 0.0, _known(), int(cur[2])
            if f.sort == "confidence":
                c = func.coalesce(Scan.max_confidence, 0.0)
                after = or_(c < conf, and_(c == conf, Scan.id < cur.id))
                before = or_(c > conf, and_(c == conf, Scan.id > cur.id))
                order = (
                    (k.desc(), c.desc(), Scan.id.desc())
                    if direction > 0
                    else (k.asc(), c.asc(), Scan.id.asc())
                )
            else:
                after, before = Scan.id < cur.id, Scan.id > cur.id
                order = (k.desc(), Scan.id.desc()) if direction > 0 else (k.asc(), Scan.id.asc())
            # known-contact images first: "after" = less known, or as known and after in the sort
            after, before = or_(k < known, and_(k == known, after)), or_(k > known, and_(k == known, before))
            q = q.where(after if direction > 0 else before).order_by(None).order_by(*order).limit(1)
            row = conn.execute(q.with_only_columns(Image.sha256)).first()
            return row[0] if row else None

    def rules_in_use(self) -> list[str]:
        """Distinct rules over flagged scans, for the queue's rule filter."""
        with self.db.read() as conn:
            q = select(Scan.finding_rules).where(Scan.flagged.is_(True)).distinct()
            return sorted({r for (csv,) in conn.execute(q) for r in _split(csv)})

    def shops_in_use(self, limit: int = 500) -> list[str]:
        with self.db.read() as conn:
            q = select(Source.shop_id).where(Source.shop_id.is_not(None)).distinct().order_by(Source.shop_id)
            return [s for (s,) in conn.execute(q.limit(limit))]

    # --- one image ------------------------------------------------------------------------------------

    def item(self, sha256: str) -> dict[str, Any] | None:
        """Everything the detail view shows for one image: its newest scan (findings numbered as stored,
        lines), the kept frames and crops, every source, the decision history. None if unknown."""
        with self.db.read() as conn:
            image = conn.execute(select(Image).where(Image.sha256 == sha256)).first()
            if image is None:
                return None
            scan = newest_scan_of(conn, sha256)
            evidence = (
                conn.execute(
                    select(Evidence, Blob.width, Blob.height, Blob.content_type)
                    .join(Blob, Blob.sha256 == Evidence.blob_sha256)
                    .where(Evidence.scan_id == scan.id)
                    .order_by(Evidence.kind, Evidence.frame, Evidence.finding)
                ).all()
                if scan
                else []
            )
            sources = [_source_dict(s) for s in sources_by_image(conn, [sha256])[sha256]]
            decisions = [
                decision_dict(d)
                for d in conn.execute(
                    select(Decision).where(Decision.image_sha256 == sha256).order_by(Decision.id)
                )
            ]
        frames, crops = [], {}
        for ev in evidence:
            kept = {
                "blob": ev.blob_sha256,
                "frame": ev.frame,
                "width": ev.width,
                "height": ev.height,
                "content_type": ev.content_type,
                "scale": ev.scale,
                "x0": ev.x0,
                "y0": ev.y0,
            }
            if ev.kind == "frame":
                frames.append(kept)
            else:
                crops[ev.finding] = kept
        findings = []
        for i, f in enumerate((scan.findings if scan else None) or []):
            findings.append({**f, "index": i, "crop": crops.get(i)})
        return {
            "sha256": image.sha256,
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "frames_total": image.frames,
            "bytes": image.bytes,
            "first_seen": image.first_seen,
            "review_status": image.review_status,
            "reviewed_at": image.reviewed_at,
            "scan": None
            if scan is None
            else {
                "id": scan.id,
                "rules_version": scan.rules_version,
                "engine_version": scan.engine_version,
                "scanned_at": scan.created_at,
                "ms": scan.ms,
                "error": scan.error,
                "flagged": scan.flagged,
                "lines": scan.lines or [],
            },
            "findings": findings,
            "frames": frames,
            "sources": sources,
            "decisions": decisions,
        }

    def resolve(self, prefix: str) -> str:
        """The full sha256 of the one image whose hash starts with `prefix` (at least 6 hex digits), for
        the terminal commands. KeyError when none or several match."""
        prefix = prefix.strip().lower()
        if len(prefix) < 6 or any(c not in "0123456789abcdef" for c in prefix):
            raise KeyError(f"{prefix!r} is not an image hash or a prefix of at least 6 hex digits")
        with self.db.read() as conn:
            found = [
                s
                for (s,) in conn.execute(select(Image.sha256).where(Image.sha256.startswith(prefix)).limit(2))
            ]
        if not found:
            raise KeyError(f"no image whose hash starts with {prefix}")
        if len(found) > 1:
            raise KeyError(f"several images start with {prefix}: give more digits")
        return found[0]

    def blob(self, sha256: str) -> tuple[str, bytes] | None:
        """(content type, bytes) of a kept picture, or None."""
        with self.db.read() as conn:
            row = conn.execute(select(Blob.content_type, Blob.data).where(Blob.sha256 == sha256)).first()
        return (row[0], bytes(row[1])) if row else None

    # --- export ---------------------------------------------------------------------------------------

    def violations(self, *, since: date | None = None) -> Iterator[dict[str, Any]]:
        """Confirmed violations for enforcement: one row per (source URL, finding that counts), with who
        decided and when. Images decided "violation" by their latest decision; oldest decision first."""
        last = aliased(Decision)
        q = (
            select(Image, Scan, Decision)
            .join(Scan, Scan.image_sha256 == Image.sha256)
            .join(Decision, Decision.image_sha256 == Image.sha256)
            .where(Image.review_status == "violation")
            .where(~exists().where(last.image_sha256 == Image.sha256, last.id > Decision.id))
            .where(newest_scan())
            .order_by(Decision.id)
        )
        if since:
            q = q.where(Decision.decided_at >= _day_start(since))
        with self.db.read() as conn, Session(conn) as session:
            rows = session.execute(q).all()
            sources = sources_by_image(conn, [r.Image.sha256 for r in rows])
        for r in rows:
            findings = live_findings(r.Scan.findings)
            for src in sources[r.Image.sha256] or [None]:
                for f in findings:
                    yield {
                        "sha256": r.Image.sha256,
                        "decided_at": r.Decision.decided_at.isoformat(),
                        "reviewer": r.Decision.reviewer,
                        "note": r.Decision.note,
                        "url": src.url if src else r.Scan.source,
                        "listing_id": src.listing_id if src else None,
                        "shop_id": src.shop_id if src else None,
                        "page_url": src.page_url if src else None,
                        "type": f.get("type"),
                        "value": f.get("value"),
                        "text": f.get("text"),
                        "rule": f.get("rule"),
                        "confidence": f.get("confidence"),
                        "rules_version": r.Scan.rules_version,
                    }


def _known() -> Any:
    """1 when the image carries a known contact, else 0 (a sort key both backends order the same)."""
    return case((known_contact(), 1), else_=0)


def _like_literal(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace(",", "")
