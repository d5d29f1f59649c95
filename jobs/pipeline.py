"""scan_bytes: the one place the stages are chained. `qqscan scan` calls it inline, RQ jobs call it too."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import detectors
from detectors.allowlist import Allowed
from detectors.allowlist import apply as apply_allowlist
from detectors.base import Finding
from detectors.engine import TextDetector
from detectors.qrcode import qr_findings
from ocr.decode import DecodeError, DecodeLimits, decode_image
from ocr.engine import OcrEngine
from ocr.phash import neardup_hashes
from ocr.qr import decode_qr
from ocr.reader import read_frames
from ocr.types import OcrLine
from store.findings import flags_image, live_findings

if TYPE_CHECKING:
    from store.results import EvidenceBlob

log = logging.getLogger(__name__)
_QR_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qqscan-qr")


@dataclass
class ScanResult:
    source: str
    sha256: str
    findings: list[Finding] = field(default_factory=list)
    lines: list[OcrLine] = field(default_factory=list)
    ms: int = 0
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # width, height, format, frames, bytes, phash
    evidence: list[EvidenceBlob] = field(default_factory=list)  # kept for review (scan_bytes keep_evidence)
    rules_version: str = ""  # of the detector that read it ("" when nothing was read)
    solicitation_flags: bool = True  # QQSCAN_SOLICITATION_FLAGS as the scan was made (detectors.policy)

    @property
    def live_findings(self) -> list[Finding]:
        """Findings the allow-list did not excuse (store.findings)."""
        return live_findings(self.findings)

    @property
    def flagged(self) -> bool:
        """A live finding flags the image under the policy (store.findings, detectors.policy)."""
        return flags_image(self.findings, self.solicitation_flags)

    def to_json(self, *, with_lines: bool = False) -> dict[str, Any]:
        """The `scan --json` contract: source, sha256, flagged, findings, ms, error (+ extra keys)."""
        out: dict[str, Any] = {
            "source": self.source,
            "sha256": self.sha256,
            "flagged": self.flagged,
            "findings": [f.to_dict() for f in self.findings],
            "ms": self.ms,
            "error": self.error,
            "rules_version": self.rules_version or detectors.RULES_VERSION,
            **self.meta,
        }
        if with_lines:
            out["lines"] = [
                {"text": ln.text, "score": ln.score, "box": [list(p) for p in ln.box], "frame": ln.frame}
                for ln in self.lines
            ]
        return out


def failed(source: str, error: str, sha256: str = "", ms: int = 0, rules_version: str = "") -> ScanResult:
    return ScanResult(source=source, sha256=sha256, error=error, ms=ms, rules_version=rules_version)


def scan_bytes(
    data: bytes,
    source: str,
    *,
    engine: OcrEngine | None = None,
    limits: DecodeLimits | None = None,
    enhance: Sequence[str] = (),
    allow: Sequence[Allowed] = (),
    shop_id: str | None = None,
    keep_evidence: bool = False,
    sha256: str | None = None,
    using: TextDetector | None = None,
    detect_seconds: float | None = None,
    solicitation_flags: bool = True,
) -> ScanResult:
    """Decode, OCR, detect, excuse what the allow-list allows (for this shop), and, with keep_evidence,
    render what review needs while the frames are in memory (flagged images only). Input problems come
    back as `error`, never as an exception. sha256: the bytes' digest when the caller has it already.
    engine, limits, using (the detector), detect_seconds, solicitation_flags: the settings' parts, as a
    Scanner (jobs.scanner) holds them; left out, the table's defaults."""
    using = using or detectors.detector()  # its rules version goes on every result, an error's too
    t0 = time.perf_counter()
    sha = sha256 or hashlib.sha256(data).hexdigest()
    try:
        frames = decode_image(data, limits or DecodeLimits())
    except DecodeError as exc:
        return failed(source, str(exc), sha, int((time.perf_counter() - t0) * 1000), using.version)
    from ocr.engine import get_engine

    engine = engine or get_engine()
    # QR decoding (zxing-cpp, OpenCV as fallback; both release the GIL) runs beside OCR: the OCR runtime's
    # threads leave a core idle part of the time (Python pre/post-processing between inferences), and QR
    # fills it.
    qr = _QR_POOL.submit(lambda: [c for fr in frames for c in decode_qr(fr.pixels, fr.index)])  # type: ignore[arg-type]
    lines = read_frames(frames, engine, enhance, extension_triggers=using.extension_triggers)
    codes = qr.result()
    try:
        findings = detectors.detect_lines(lines, detect_seconds, using)
    except detectors.DetectionTimeout as exc:
        return failed(source, str(exc), sha, int((time.perf_counter() - t0) * 1000), using.version)
    findings.extend(qr_findings(codes, using))
    apply_allowlist(findings, allow, shop_id)
    first = frames[0]
    meta = {
        "width": int(first.pixels.shape[1]),  # type: ignore[attr-defined]
        "height": int(first.pixels.shape[0]),  # type: ignore[attr-defined]
        "format": first.meta.get("format"),
        "frames": len(frames),
        "bytes": len(data),
        "engine_version": engine.version,
        # perceptual hashes of the first frame: Store.save_scan links near-duplicates (store/neardup.py)
        "phash": [
            {"hash": h.hex, "quality": h.quality}
            for h in neardup_hashes(first.pixels)  # type: ignore[arg-type]
        ],
    }
    result = ScanResult(
        source=source,
        sha256=sha,
        findings=findings,
        lines=lines,
        meta=meta,
        rules_version=using.version,
        solicitation_flags=solicitation_flags,
    )
    if keep_evidence and result.flagged:
        from jobs.evidence import keep_evidence as render  # OpenCV encoders; only flagged images pay

        result.evidence = render(frames, findings)
    result.ms = int((time.perf_counter() - t0) * 1000)
    return result
