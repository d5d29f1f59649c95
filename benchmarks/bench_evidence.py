"""What keeping review evidence costs per flagged image: render time and stored bytes, next to the scan.

    .venv/bin/python -m benchmarks.bench_evidence            # the generated test fixtures that flag

Runs the real pipeline (scan_bytes) on each flagged fixture, then jobs.evidence.keep_evidence on the same
decoded frames, and prints per image: scan ms, evidence ms, frame/crop bytes, and the totals.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from fixtures.generate import generate
from jobs.evidence import keep_evidence
from jobs.pipeline import scan_bytes
from ocr.decode import DecodeLimits, decode_image
from ocr.engine import get_engine

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "generated"


def main() -> None:
    generate(OUT)
    manifest = json.loads((OUT / "manifest.json").read_text(encoding="utf-8"))
    engine = get_engine()
    limits = DecodeLimits()
    rows, scan_total, ev_total, bytes_total = [], 0.0, 0.0, 0
    for entry in manifest:
        if entry.get("set") != "test" or not entry["contacts"]:
            continue
        data = (OUT / entry["file"]).read_bytes()
        result = scan_bytes(data, entry["file"], engine=engine)
        if not result.flagged:
            continue
        frames = decode_image(data, limits)
        t0 = time.perf_counter()
        kept = keep_evidence(frames, result.findings)
        ev_ms = (time.perf_counter() - t0) * 1000
        frame_bytes = sum(len(k.data) for k in kept if k.kind == "frame")
        crop_bytes = sum(len(k.data) for k in kept if k.kind == "crop")
        rows.append((entry["file"], result.ms, ev_ms, frame_bytes, crop_bytes))
        scan_total += result.ms
        ev_total += ev_ms
        bytes_total += frame_bytes + crop_bytes
    print(f"{'image':34} {'scan ms':>8} {'evid ms':>8} {'frames KB':>10} {'crops KB':>9}")
    for name, sms, ems, fb, cb in rows:
        print(f"{name:34} {sms:8d} {ems:8.1f} {fb / 1024:10.0f} {cb / 1024:9.0f}")
    print(
        f"{len(rows)} flagged images: evidence {ev_total:.0f} ms on top of {scan_total:.0f} ms scanning "
        f"({100 * ev_total / scan_total:.1f}%), {bytes_total / 1024 / len(rows):.0f} KB stored per image"
    )


if __name__ == "__main__":
    main()
