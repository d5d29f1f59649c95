"""Worst cases for the contact detectors: text that used to make them cubic in time and quadratic in memory.

Each case runs in its own child process, so its peak RSS is its own:
- `text`: one line of spaced two-digit figures through `detectors.detect_text` (40 KB by default);
- `page N`: a 750-wide page of N rows of spaced digits (a spec table), scanned with the real pipeline
  (`jobs.pipeline.scan_bytes`, default engine): OCR and detection time, findings, peak RSS.

    .venv/bin/python -m benchmarks.bench_worst_case [--text-kb 40] [--rows 200 400]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import subprocess
import sys
import time


def spaced_figures(kb: int, seed: int = 1) -> str:
    """About `kb` KB of two-digit figures separated by spaces, one line."""
    rng = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < kb * 1024:
        out.append(f"{rng.randint(0, 99)}")
        size += len(out[-1]) + 1
    return " ".join(out)


def table_page(rows: int, seed: int = 1) -> bytes:
    """A PNG spec table: `rows` rows of 10 cells of one or two digits, 40 px a row, 750 px wide."""
    from PIL import Image

    from fixtures import draw

    rng = random.Random(seed)
    img = Image.new("RGB", (750, 40 * rows + 40), (255, 255, 255))
    for r in range(rows):
        for c in range(10):
            draw.text(img, (30 + 70 * c, 20 + 40 * r), str(rng.randint(0, 99)), 22)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _child(case: str, arg: int) -> dict[str, object]:
    import detectors

    if case == "text":
        text = spaced_figures(arg)
        t0 = time.perf_counter()
        findings = detectors.detect_text(text)
        return {
            "case": f"text {len(text) // 1024} KB",
            "detect_s": time.perf_counter() - t0,
            "findings": len(findings),
            "contacts": sum(f.type != "solicitation" for f in findings),
        }
    from jobs.pipeline import scan_bytes
    from ocr.engine import get_engine

    data = table_page(arg)
    get_engine()
    t0 = time.perf_counter()
    result = scan_bytes(data, f"table-{arg}")
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    detectors.detect_lines(result.lines)
    detect = time.perf_counter() - t1
    return {
        "case": f"page {arg} rows",
        "scan_s": total,
        "detect_s": detect,
        "lines": len(result.lines),
        "chars": sum(len(ln.text) for ln in result.lines),
        "findings": len(result.findings),
        "contacts": sum(f.type != "solicitation" for f in result.findings),
        "error": result.error,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text-kb", type=int, default=40)
    ap.add_argument("--rows", type=int, nargs="*", default=[200, 400])
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        out = _child(args.child[0], int(args.child[1]))
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(json.dumps(out))
        return
    cases = [("text", args.text_kb)] + [("page", r) for r in args.rows]
    print("| case | scan s | detect s | chars | findings | contacts | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for case, arg in cases:
        cmd = [sys.executable, "-m", "benchmarks.bench_worst_case", "--child", case, str(arg)]
        r = json.loads(
            subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
        )
        scan = f"{r['scan_s']:.1f}" if "scan_s" in r else "-"
        print(
            f"| {r['case']} | {scan} | {r['detect_s']:.2f} | {r.get('chars', '-')} | {r['findings']} | "
            f"{r['contacts']} | {r['peak_rss_mb']} |"
        )


if __name__ == "__main__":
    main()
