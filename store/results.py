"""Scan results: images (by sha256), the URLs they were seen at (sources), one scan per (image, rules
version) with the evidence kept for review, and the URLs someone asked for (requested_urls).

Writes are idempotent: the same bytes at many URLs make one image and many sources; a scan job that runs
twice (worker killed mid-job, RQ retry) stores one result, because `scans` has a unique key on
(image_sha256, rules_version) and every write is an `INSERT ... ON CONFLICT` (PostgreSQL and SQLite
dialects), so concurrent writers neither duplicate rows nor fail. Engine, migrations and transactions are
store.database's; the review state has its own modules over the same Database (store/review.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    Row,
    case,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from detectors.allowlist import Allowed
from store.allowlist import active_entries
from store.contacts import link_scan, link_sighting
from store.database import OverDatabase
from store.findings import flags_image, live_findings
from store.models import (
    Blob,
    Decision,
    Evidence,
    Image,
    RequestedUrl,
    Scan,
    Source,
    utcnow,
)
from store.neardup import link as link_hashes

PAGE = 500  # rows per read transaction in results()
_stores: dict[str, Store] = {}


def get_store(url: str | None = None) -> Store:
    """One Store (one connection pool) per process and database URL, for the jobs and commands that reuse
    it. url: default the default file (callers with settings pass `database_url(settings)`)."""
    from store.database import database_url

    url = url or database_url()
    if url not in _stores:
        _stores[url] = Store(url)
    return _stores[url]


@dataclass(frozen=True)
class EvidenceBlob:
    """One picture kept for review (made by jobs.evidence): a rendered frame or a crop around a finding.
    scale = blob pixels per image pixel; (x0, y0) = the blob's top-left corner in image pixels."""

    kind: str  # "frame" | "crop"
    frame: int
    finding: int  # index in the result's findings; -1 for a frame
    content_type: str
    data: bytes
    width: int
    height: int
    scale: float = 1.0
    x0: int = 0
    y0: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def newest_scan() -> Any:
    """WHERE clause: this Scan row is its image's newest. An anti-join that uses the (image_sha256,
    rules_version) unique index per row, so a page costs its own rows where a GROUP BY would rescan all."""
    newer = aliased(Scan)
    return ~exists().where(newer.image_sha256 == Scan.image_sha256, newer.id > Scan.id)


def queue_columns(findings: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The scans row's denormalised filter columns, from the findings that count (not allow-listed)."""
    live = live_findings(findings)
    if not live:
        return {"finding_types": None, "finding_rules": None, "max_confidence": None}
    return {
        "finding_types": "," + ",".join(sorted({str(f.get("type")) for f in live})) + ",",
        "finding_rules": "," + ",".join(sorted({str(f.get("rule")) for f in live})) + ",",
        "max_confidence": max(float(f.get("confidence") or 0.0) for f in live),
    }


class Store(OverDatabase):
    """Scan results over one Database: images, the URLs they were seen at, scans with their evidence, the
    requested URLs and the reads the CLI and workers make."""

    # --- writes ---------------------------------------------------------------------------------------

    def _ensure_image(self, conn: Connection, sha256: str, meta: dict[str, Any]) -> None:
        values = {k: meta.get(k) for k in ("width", "height", "format", "frames", "bytes")}
        ins = self.db.insert(Image).values(sha256=sha256, first_seen=utcnow(), **values)
        present = {k: v for k, v in values.items() if v is not None}
        if not present:
            conn.execute(ins.on_conflict_do_nothing(index_elements=["sha256"]))
            return
        # Fill in what an earlier stub row (a source recorded before its scan) did not know.
        t = Image.__table__.c
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=["sha256"],
                set_={k: func.coalesce(t[k], ins.excluded[k]) for k in present},
            )
        )

    def _upsert_source(
        self,
        conn: Connection,
        url: str,
        *,
        sha256: str | None,
        listing_id: str | None,
        shop_id: str | None,
        page_url: str | None,
        error: str | None,
    ) -> None:
        now = utcnow()
        ins: Insert = self.db.insert(Source).values(
            url_sha256=url_key(url),
            url=url,
            image_sha256=sha256,
            listing_id=listing_id,
            shop_id=shop_id,
            page_url=page_url,
            error=error,
            first_seen=now,
            last_seen=now,
        )
        t, new = Source.__table__.c, ins.excluded  # type: ignore[attr-defined]
        conn.execute(
            ins.on_conflict_do_update(  # type: ignore[attr-defined]
                index_elements=["url_sha256"],
                set_={
                    # New facts win, missing ones keep what was known. Bytes arriving clear an old error;
                    # a later failure keeps the image the URL served before.
                    "image_sha256": func.coalesce(new.image_sha256, t.image_sha256),
                    "listing_id": func.coalesce(new.listing_id, t.listing_id),
                    "shop_id": func.coalesce(new.shop_id, t.shop_id),
                    "page_url": func.coalesce(new.page_url, t.page_url),
                    "error": case(
                        (new.image_sha256.is_not(None), new.error), else_=func.coalesce(new.error, t.error)
                    ),
                    "last_seen": new.last_seen,
                },
            )
        )
        # A result for the URL is stored: whatever asked for it (enqueue, a crawl) has its answer.
        req = RequestedUrl.__table__.c
        conn.execute(
            update(RequestedUrl)
            .where(req.url_sha256 == url_key(url), req.done_at.is_(None))
            .values(done_at=now)
        )

    def record_source(
        self,
        url: str,
        *,
        sha256: str | None = None,
        listing_id: str | None = None,
        shop_id: str | None = None,
        page_url: str | None = None,
        error: str | None = None,
    ) -> None:
        """Remember that `url` served `sha256` (or failed with `error` before any bytes). Idempotent."""
        with self.db.write() as conn:
            if sha256:
                self._ensure_image(conn, sha256, {})
            self._upsert_source(
                conn,
                url,
                sha256=sha256,
                listing_id=listing_id,
                shop_id=shop_id,
                page_url=page_url,
                error=error,
            )
            if sha256:
                link_sighting(self.db, conn, sha256, shop_id)

    def save_scan(
        self,
        result: Mapping[str, Any],
        evidence: Sequence[EvidenceBlob] = (),
        *,
        url: str | None = None,
        listing_id: str | None = None,
        shop_id: str | None = None,
        page_url: str | None = None,
        replace: bool = False,
    ) -> bool:
        """Store one scan result and the evidence kept for review (default: the result's own), with the
        source it came from (`url`, default the result's source, and its listing/shop/page). False if this
        image already has a result under this rules version (nothing changes then but the source
        bookkeeping; its evidence was stored with the first result).

        replace=True is a rescan: the result under this rules version is overwritten in place (same row,
        its evidence replaced), e.g. after the allow-list changed. The image's review status is kept.

        `result` is the `scan --json --lines` document of a scan (ScanResult.to_json(with_lines=True)),
        possibly with "url"/"listing_id"/"shop_id"/"page_url"; one without sha256 (a fetch that failed
        before any bytes) records its source with the error. The store knows documents, not the pipeline
        that makes them.
        """
        doc = dict(result)
        facts = {"url": url, "listing_id": listing_id, "shop_id": shop_id, "page_url": page_url}
        doc.update({k: v for k, v in facts.items() if v is not None})
        return self._save_doc(doc, evidence, replace=replace)

    def _save_doc(self, result: dict[str, Any], evidence: Sequence[EvidenceBlob], *, replace: bool) -> bool:
        sha = result.get("sha256") or ""
        source = result.get("url") or result.get("source")
        meta = {k: result.get(k) for k in ("listing_id", "shop_id", "page_url")}
        if not sha:
            if source:
                self.record_source(source, error=result.get("error") or "failed before any bytes", **meta)
            return False
        rules = result.get("rules_version")
        if not rules:
            raise ValueError(f"scan result for {sha} has no rules_version; cannot key it")
        findings = list(result.get("findings") or [])
        with self.db.write() as conn:
            self._ensure_image(conn, sha, result)
            # Perceptual hashes and the near-duplicate group, with the image (idempotent; store/neardup.py).
            link_hashes(self.db, conn, sha, list(result.get("phash") or []))
            if source:
                self._upsert_source(conn, source, sha256=sha, error=None, **meta)
            ins = self.db.insert(Scan).values(
                image_sha256=sha,
                rules_version=str(rules),
                engine_version=result.get("engine_version") or result.get("engine"),
                source=result.get("source"),
                lines=list(result.get("lines") or []),
                findings=findings,
                flagged=bool(result["flagged"]) if "flagged" in result else flags_image(findings),
                ms=result.get("ms"),
                timings=result.get("timings"),
                error=result.get("error"),
                created_at=utcnow(),
                **queue_columns(findings),
            )
            keys = ["image_sha256", "rules_version"]
            if replace:
                fresh = {c: ins.excluded[c] for c in ins.excluded.keys() if c not in ("id", *keys)}
                ins = ins.on_conflict_do_update(index_elements=keys, set_=fresh)
            else:
                ins = ins.on_conflict_do_nothing(index_elements=keys)
            # RETURNING yields a row only when this call inserted (or replaced) it (both backends support
            # it; rowcount is unreliable next to the implicit RETURNING SQLAlchemy adds for the key).
            row = conn.execute(ins.returning(Scan.id)).first()
            if row is None:
                link_sighting(self.db, conn, sha, meta.get("shop_id"))  # seen again, maybe in a new shop
                return False
            if replace:
                conn.execute(delete(Evidence).where(Evidence.scan_id == row[0]))
            self._save_evidence(conn, row[0], evidence)
            # Contacts in the same transaction: a result and its contacts commit (or roll back) together.
            link_scan(self.db, conn, sha, findings)
            return True

    def _save_evidence(self, conn: Connection, scan_id: int, evidence: Sequence[EvidenceBlob]) -> None:
        now = utcnow()
        for item in evidence:
            sha = item.sha256
            conn.execute(
                self.db.insert(Blob)
                .values(
                    sha256=sha,
                    content_type=item.content_type,
                    width=item.width,
                    height=item.height,
                    data=item.data,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["sha256"])  # same picture from another scan
            )
            conn.execute(
                self.db.insert(Evidence).values(
                    scan_id=scan_id,
                    kind=item.kind,
                    frame=item.frame,
                    finding=item.finding,
                    blob_sha256=sha,
                    scale=item.scale,
                    x0=item.x0,
                    y0=item.y0,
                )
            )

    # --- requests: the durable record of what was asked for (jobs.queueing.reconcile reads it) ---------

    def record_requests(
        self,
        kind: str,
        urls: Sequence[str],
        *,
        listing_id: str | None = None,
        shop_id: str | None = None,
        page_url: str | None = None,
        rescan: bool = False,
    ) -> None:
        """Record that `urls` were asked for, before their jobs go on Redis. A new request opens the row
        again (done_at NULL, requeue count 0) with the newest listing/shop/page facts; a rescan wish stays
        until the URL is done. Idempotent."""
        if kind not in ("scan", "crawl"):
            raise ValueError(f"request kind must be 'scan' or 'crawl', not {kind!r}")
        now = utcnow()
        rows = [
            {
                "kind": kind,
                "url_sha256": url_key(u),
                "url": u,
                "listing_id": listing_id,
                "shop_id": shop_id,
                "page_url": page_url,
                "rescan": rescan,
                "requested_at": now,
                "done_at": None,
                "requeues": 0,
            }
            for u in dict.fromkeys(urls)
        ]
        t = RequestedUrl.__table__.c
        with self.db.write() as conn:
            for i in range(0, len(rows), PAGE):
                ins = self.db.insert(RequestedUrl).values(rows[i : i + PAGE])
                new = ins.excluded
                conn.execute(
                    ins.on_conflict_do_update(
                        index_elements=["kind", "url_sha256"],
                        set_={
                            "listing_id": func.coalesce(new.listing_id, t.listing_id),
                            "shop_id": func.coalesce(new.shop_id, t.shop_id),
                            "page_url": func.coalesce(new.page_url, t.page_url),
                            "rescan": case((t.done_at.is_(None) & t.rescan, True), else_=new.rescan),
                            "requested_at": new.requested_at,
                            "done_at": None,
                            "requeues": 0,
                        },
                    )
                )

    def finish_request(self, kind: str, url: str) -> None:
        """Close a request that ends without a source row (a crawled page whose images are queued)."""
        t = RequestedUrl.__table__.c
        with self.db.write() as conn:
            conn.execute(
                update(RequestedUrl)
                .where(t.kind == kind, t.url_sha256 == url_key(url), t.done_at.is_(None))
                .values(done_at=utcnow())
            )

    def open_requests(self, after_id: int = 0, limit: int = PAGE) -> list[dict[str, Any]]:
        """Requests with no stored result yet, by id after `after_id` (one page; the reconciler pages on)."""
        t = RequestedUrl.__table__.c
        q = (
            select(t.id, t.kind, t.url, t.listing_id, t.shop_id, t.page_url, t.rescan, t.requeues)
            .where(t.done_at.is_(None), t.id > after_id)
            .order_by(t.id)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(q)]

    def still_open(self, ids: Sequence[int]) -> set[int]:
        """Which of these request ids still have no result (a job may have finished since they were read)."""
        if not ids:
            return set()
        t = RequestedUrl.__table__.c
        with self.db.read() as conn:
            return set(conn.execute(select(t.id).where(t.id.in_(list(ids)), t.done_at.is_(None))).scalars())

    def note_requeued(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        t = RequestedUrl.__table__.c
        with self.db.write() as conn:
            conn.execute(update(RequestedUrl).where(t.id.in_(list(ids))).values(requeues=t.requeues + 1))

    def request(self, kind: str, url: str) -> dict[str, Any] | None:
        """One request row, or None (the reconciler's tests read a request's state through it)."""
        t = RequestedUrl.__table__.c
        with self.db.read() as conn:
            row = conn.execute(
                select(RequestedUrl.__table__).where(t.kind == kind, t.url_sha256 == url_key(url))
            ).first()
            return dict(row._mapping) if row else None

    # --- reads ----------------------------------------------------------------------------------------

    def allowlist(self) -> list[Allowed]:
        """Active allow-list entries (not removed), oldest first: the scan pipeline hands them to
        detectors.allowlist so contacts moderators dismissed stop flagging images."""
        with self.db.read() as conn:
            return active_entries(conn)

    def has_scan(self, sha256: str, rules_version: str) -> bool:
        """True when these bytes already have a result under these rules: the worker can skip OCR and
        just `record_source` the URL. A stored result with an error counts too (same bytes, same code)."""
        q = select(exists().where(Scan.image_sha256 == sha256, Scan.rules_version == rules_version))
        with self.db.read() as conn:
            return bool(conn.execute(q).scalar())

    def source(self, url: str) -> dict[str, Any] | None:
        """The source row for `url` (its image, error, listing ids), or None."""
        with self.db.read() as conn, Session(conn) as session:
            row = session.scalars(select(Source).where(Source.url_sha256 == url_key(url))).first()
            return _source_dict(row) if row else None

    def results(
        self, *, flagged: bool | None = None, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """One dict per image (its newest scan) in the `scan --json` shape, plus "url" (the first URL it
        was seen at), "urls", "review_status", "scanned_at". Oldest first; `since` compares scan time
        (a naive datetime is taken as UTC). Reads in pages, each its own short transaction."""
        q = select(Scan, Image).join(Image, Image.sha256 == Scan.image_sha256).where(newest_scan())
        if flagged is not None:
            q = q.where(Scan.flagged.is_(flagged))
        if since is not None:
            q = q.where(Scan.created_at >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
        after, left = 0, limit
        while left is None or left > 0:
            page = PAGE if left is None else min(PAGE, left)
            with self.db.read() as conn, Session(conn) as session:
                rows = session.execute(q.where(Scan.id > after).order_by(Scan.id).limit(page)).all()
                sources = sources_by_image(conn, [scan.image_sha256 for scan, _ in rows])
                out = [
                    _result_dict(scan, image, [s.url for s in sources[scan.image_sha256]])
                    for scan, image in rows
                ]
                last_id = rows[-1][0].id if rows else after
            yield from out  # after the transaction: a slow consumer holds no lock
            if len(rows) < page:
                return
            after = last_id
            if left is not None:
                left -= len(rows)

    def result(self, sha256: str) -> dict[str, Any] | None:
        """The newest stored result for these bytes, in the results() shape, or None."""
        with self.db.read() as conn:
            scan = newest_scan_of(conn, sha256)
            image = conn.execute(select(Image).where(Image.sha256 == sha256)).first() if scan else None
            if scan is None or image is None:
                return None
            urls = [s.url for s in sources_by_image(conn, [sha256])[sha256]]
            return _result_dict(scan, image, urls)

    def failed_sources(self, since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """URLs that gave no scannable bytes (dead, refused, too large), oldest first, with the reason."""
        q = select(Source).where(Source.error.is_not(None)).order_by(Source.id)
        if since is not None:
            q = q.where(Source.last_seen >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
        if limit is not None:
            q = q.limit(limit)
        keys = ("url", "error", "listing_id", "shop_id", "page_url", "last_seen")
        with self.db.read() as conn:
            return [{k: getattr(row, k) for k in keys} for row in conn.execute(q)]

    def stats(self) -> dict[str, Any]:
        """Totals and recent throughput for `qqscan status` and monitoring."""
        now = utcnow()
        count = select(func.count())
        with self.db.read() as conn:
            recent = {
                label: conn.execute(
                    count.select_from(Scan).where(Scan.created_at >= now - timedelta(minutes=mins))
                ).scalar_one()
                / mins
                for label, mins in (("1m", 1), ("10m", 10), ("1h", 60))
            }
            flagged = conn.execute(count.select_from(Scan).where(Scan.flagged.is_(True))).scalar_one()
            failed = conn.execute(count.select_from(Source).where(Source.error.is_not(None))).scalar_one()
            waiting = conn.execute(
                count.select_from(RequestedUrl).where(RequestedUrl.done_at.is_(None))
            ).scalar_one()
            images, scans = _count(conn, "images"), _count(conn, "scans")
        return {
            "images": images,
            "scans": scans,
            "flagged": flagged,
            "failed_sources": failed,
            "open_requests": waiting,  # asked for, no result stored yet
            "per_minute": {k: round(v, 1) for k, v in recent.items()},
        }

    def count(self, table: str) -> int:
        """Rows in one of the store's tables (for tests, `qqscan doctor` and monitoring)."""
        with self.db.read() as conn:
            return _count(conn, table)


_COUNTED = {
    "images": Image,
    "sources": Source,
    "scans": Scan,
    "decisions": Decision,
    "requested_urls": RequestedUrl,
    "blobs": Blob,
    "evidence": Evidence,
}


def _count(conn: Connection, table: str) -> int:
    """Rows in one of _COUNTED's tables, inside the caller's transaction."""
    return int(conn.execute(select(func.count()).select_from(_COUNTED[table])).scalar_one())


def newest_scan_of(conn: Connection, sha256: str) -> Row[Any] | None:
    """One image's newest scan row (the one its results and its review detail show), or None."""
    q = select(Scan).where(Scan.image_sha256 == sha256).order_by(Scan.id.desc()).limit(1)
    return conn.execute(q).first()


def sources_by_image(conn: Connection, shas: Sequence[str]) -> dict[str, list[Row[Any]]]:
    """Each image's sources rows (the URLs it was seen at), first seen first; [] for an image with none."""
    out: dict[str, list[Row[Any]]] = {s: [] for s in shas}
    if shas:
        q = select(Source).where(Source.image_sha256.in_(list(out))).order_by(Source.id)
        for row in conn.execute(q):
            out[row.image_sha256].append(row)
    return out


def _source_dict(s: Source | Row[Any]) -> dict[str, Any]:
    return {
        "url": s.url,
        "sha256": s.image_sha256,
        "listing_id": s.listing_id,
        "shop_id": s.shop_id,
        "page_url": s.page_url,
        "error": s.error,
        "first_seen": s.first_seen,
        "last_seen": s.last_seen,
    }


def _result_dict(scan: Scan | Row[Any], image: Image | Row[Any], urls: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": scan.source or (urls[0] if urls else None),
        "sha256": scan.image_sha256,
        "flagged": scan.flagged,
        "findings": scan.findings,
        "ms": scan.ms,
        "error": scan.error,
        "rules_version": scan.rules_version,
        "engine_version": scan.engine_version,
        "width": image.width,
        "height": image.height,
        "format": image.format,
        "frames": image.frames,
        "bytes": image.bytes,
        "lines": scan.lines,
        "url": urls[0] if urls else None,
        "urls": urls,
        "review_status": image.review_status,
        "scanned_at": scan.created_at.isoformat(),
    }
    if scan.timings is not None:
        out["timings"] = scan.timings
    return out
