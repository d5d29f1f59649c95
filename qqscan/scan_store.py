"""`qqscan scan --store`: the one-box flow without Redis. Results go into the same store, keyed the same
way, as a worker's would (jobs.tasks.scan_url): bytes already scanned under the current rules are not
scanned again, only their new source is recorded; flagged results keep their review evidence; the
allow-list from review is honoured (--rescan re-reads known bytes and replaces their result, so an
allow-list change reaches results already stored). Local files are recorded under their absolute path,
so the same file scanned from another folder is one source."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qqscan.sources import is_url

if TYPE_CHECKING:
    from detectors.allowlist import Allowed
    from jobs.pipeline import ScanResult
    from worker.store import Store


def source_key(source: str) -> str:
    return source if is_url(source) else str(Path(source).resolve())


class ScanStore:
    def __init__(
        self,
        store: Store,
        *,
        shop_id: str | None = None,
        listing_id: str | None = None,
        rescan: bool = False,
    ) -> None:
        self.store = store
        self.rescan = rescan  # scan known bytes again and replace their result (allow-list or OCR changed)
        self.meta = {"shop_id": shop_id, "listing_id": listing_id}
        self.allow: list[Allowed] = store.allowlist()  # read once per run: a run is one moment in review

    def known(self, source: str, data: bytes, page: str | None = None) -> dict[str, Any] | None:
        """The stored result when these bytes were already scanned under the current rules (the new source
        is recorded, with the listing page it was found on); None when they need scanning."""
        import detectors

        sha = hashlib.sha256(data).hexdigest()
        if self.rescan or not self.store.has_scan(sha, detectors.RULES_VERSION):
            return None
        self.store.record_source(source_key(source), sha256=sha, page_url=page, **self.meta)
        return self.store.result(sha)

    def save(self, result: ScanResult, page: str | None = None) -> bool:
        """Store one result with its evidence; False if an identical result was already there."""
        doc = result.to_json(with_lines=True)
        meta = {**self.meta, "page_url": page}
        doc.update(url=source_key(result.source), **{k: v for k, v in meta.items() if v is not None})
        return self.store.save_scan(doc, result.evidence, replace=self.rescan)

    def failed(self, source: str, error: str, page: str | None = None) -> None:
        """A source that gave no bytes: remembered with its reason, as a worker does."""
        self.store.record_source(source_key(source), error=error, page_url=page, **self.meta)
