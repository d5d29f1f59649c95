"""Scan-and-store, written once: bytes already scanned under the current rules are not scanned again (only
the new source is recorded, with its listing, shop and page); other bytes are scanned with the review
allow-list (for the source's shop) and saved with the evidence review needs. A rescan scans known bytes
again and replaces their result in place (e.g. after an allow-list change).

The RQ job (jobs.tasks.scan_url) runs it whole: `scan_and_store`. `qqscan scan --store` runs its scans in
a pool between the two ends, so it uses the steps of one `ScanAndStore` per run: `known` before the
scan, `allow` for the scan, `save` after it (qqscan.scan_store).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detectors.allowlist import Allowed
    from jobs.pipeline import ScanResult
    from jobs.scanner import Scanner
    from store.results import Store


@dataclass(frozen=True)
class Origin:
    """Where bytes were found: the source row's facts (url is a URL or a local file's absolute path)."""

    url: str
    listing_id: str | None = None
    shop_id: str | None = None
    page_url: str | None = None

    def facts(self) -> dict[str, str | None]:
        return {"listing_id": self.listing_id, "shop_id": self.shop_id, "page_url": self.page_url}


@dataclass
class Outcome:
    """What scan_and_store did: "known" (a result under these rules was there: only the source recorded, or
    an identical result was saved first by someone else) or "scanned" (scanned and stored)."""

    status: str
    sha256: str
    result: ScanResult | None = None  # None when known before scanning
    store_ms: int = 0


class ScanAndStore:
    """The rule's steps over one store, scanning with `scanner` (its rules version is "the current rules").
    `allow` is read on first use and kept: per job in a worker (a moderator's dismissal counts from the
    next job), per run in `qqscan scan` (a run is one moment)."""

    def __init__(self, store: Store, scanner: Scanner, *, rescan: bool = False) -> None:
        self.store = store
        self.scanner = scanner
        self.rescan = rescan
        self._allow: list[Allowed] | None = None

    @property
    def allow(self) -> list[Allowed]:
        if self._allow is None:
            self._allow = self.store.allowlist()
        return self._allow

    def known(self, data: bytes, origin: Origin, *, sha256: str | None = None) -> str | None:
        """The bytes' sha256 when they already have a result under the current rules (and the source is
        recorded now); None when they need scanning (always, on a rescan). sha256: the digest if known."""
        sha = sha256 or hashlib.sha256(data).hexdigest()
        if self.rescan or not self.store.has_scan(sha, self.scanner.rules_version):
            return None
        self.store.record_source(origin.url, sha256=sha, **origin.facts())
        return sha

    def save(self, result: ScanResult, origin: Origin) -> bool:
        """Store one result with its evidence; False if an identical result was already there."""
        doc = result.to_json(with_lines=True)
        return self.store.save_scan(
            doc, result.evidence, url=origin.url, replace=self.rescan, **origin.facts()
        )

    def failed(self, origin: Origin, error: str) -> None:
        """A source that gave no bytes: remembered with its reason."""
        self.store.record_source(origin.url, error=error, **origin.facts())

    def run(self, data: bytes, origin: Origin) -> Outcome:
        """The whole rule for one image's bytes."""
        sha = hashlib.sha256(data).hexdigest()  # once: the known check and the scan both need it
        if self.known(data, origin, sha256=sha) is not None:
            return Outcome("known", sha)
        result = self.scanner.scan(
            data,
            origin.url,
            allow=self.allow,
            shop_id=origin.shop_id,
            keep_evidence=True,
            sha256=sha,
        )
        t0 = time.perf_counter()
        stored = self.save(result, origin)
        ms = int((time.perf_counter() - t0) * 1000)
        return Outcome("scanned" if stored else "known", result.sha256, result, ms)


def scan_and_store(
    store: Store, scanner: Scanner, data: bytes, origin: Origin, *, rescan: bool = False
) -> Outcome:
    """Known under the current rules → record the source; else scan with the allow-list → save with
    evidence. Idempotent: running it twice stores one scan and one source."""
    return ScanAndStore(store, scanner, rescan=rescan).run(data, origin)
