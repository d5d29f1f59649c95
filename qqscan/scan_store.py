"""`qqscan scan --store`: the one-box flow without Redis, over the same scan-and-store steps as a worker's
(jobs.scanning): bytes already scanned under the current rules are not scanned again, only their new
source is recorded; flagged results keep their review evidence; the allow-list from review is honoured
(--rescan re-reads known bytes and replaces their result, so an allow-list change reaches results already
stored). What this adds: local files are recorded under their absolute path, so the same file scanned from
another folder is one source, and a known image's stored result is handed back for printing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.scanning import Origin, ScanAndStore
from qqscan.sources import is_url

if TYPE_CHECKING:
    from detectors.allowlist import Allowed
    from jobs.pipeline import ScanResult
    from jobs.scanner import Scanner
    from store.results import Store


def source_key(source: str) -> str:
    return source if is_url(source) else str(Path(source).resolve())


class ScanStore:
    def __init__(
        self,
        store: Store,
        scanner: Scanner,
        *,
        shop_id: str | None = None,
        listing_id: str | None = None,
        rescan: bool = False,
    ) -> None:
        self.store = store
        self.steps = ScanAndStore(store, scanner, rescan=rescan)
        self.meta = {"shop_id": shop_id, "listing_id": listing_id}
        self.allow: list[Allowed] = self.steps.allow  # read once per run: a run is one moment in review

    def origin(self, source: str, page: str | None = None) -> Origin:
        return Origin(source_key(source), page_url=page, **self.meta)

    def known(self, source: str, data: bytes, page: str | None = None) -> dict[str, Any] | None:
        """The stored result when these bytes were already scanned under the current rules (the new source
        is recorded, with the listing page it was found on); None when they need scanning."""
        sha = self.steps.known(data, self.origin(source, page))
        return None if sha is None else self.store.result(sha)

    def save(self, result: ScanResult, page: str | None = None) -> bool:
        """Store one result with its evidence; False if an identical result was already there."""
        return self.steps.save(result, self.origin(result.source, page))

    def failed(self, source: str, error: str, page: str | None = None) -> None:
        """A source that gave no bytes: remembered with its reason, as a worker does."""
        self.steps.failed(self.origin(source, page), error)
