"""qqscan (both engines) vs the stock PaddleOCR pipeline, side by side in one run, on the generated sets.

    .venv/bin/python -m benchmarks.bench_scan [--kinds main,tall,gif,hard] [--limit N] [--runs stock,onnx]

Each pipeline runs in its own child process (so peak RSS is its own), over the same images: "stock" is
`PaddleOCR(...).predict()` with the PP-OCRv5 mobile models and defaults, "paddle" and "onnx" are `scan_bytes`
with each qqscan engine. "read" counts contacts whose digits appear in the OCR text (for the hard set: the
digits spelled by the drawn disguise, fixtures.hard.digits_read); "found" counts contacts the qqscan
detectors report with the right value from that text (for stock: the detectors run on stock's lines).
Results are printed as a Markdown table and written to benchmarks/out/bench_scan.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
RUNS = ("stock", "paddle", "onnx")


def _digits(text: str) -> str:
    import unicodedata

    return re.sub(r"\D", "", unicodedata.normalize("NFKC", text))


def _score(entry: dict, texts: list[str], found_values: set[str]) -> tuple[int, int, int]:
    from fixtures.hard import digits_read

    contacts = [c for c in entry["contacts"] if c["type"] in ("qq", "phone")]
    digits = digits_read("".join(texts)) if entry["kind"] == "hard" else _digits(" ".join(texts))
    read = sum(c["value"] in digits for c in contacts)
    found = sum(c["value"] in found_values for c in contacts)
    return len(contacts), read, found


def run_stock(entries: list[dict], root: Path) -> dict:
    """PaddleOCR's own pipeline as a user would build it: same local models, extra models off, defaults
    for everything else (cpu_threads, detector limits)."""
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from paddleocr import PaddleOCR

    import detectors
    from ocr.models import find_model
    from ocr.types import OcrLine

    det, rec = find_model("det"), find_model("rec")
    t_build = time.perf_counter()
    ocr = PaddleOCR(
        text_detection_model_name=det.name,
        text_detection_model_dir=str(det.path),
        text_recognition_model_name=rec.name,
        text_recognition_model_dir=str(rec.path),
        use_doc_orientation_classify=False,
        use_doc_unwarping=False,
        use_textline_orientation=False,
    )
    ocr.predict(str(root / entries[0]["file"]))  # warm-up, as qqscan's engine does in its build
    build = time.perf_counter() - t_build
    per_image = []
    for e in entries:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            res = ocr.predict(str(root / e["file"]))[0]
            texts, scores, polys = res["rec_texts"], res["rec_scores"], res["rec_polys"]
            err = None
        except Exception as exc:  # stock cannot read some inputs (e.g. GIF); that is a miss, not a crash
            texts, scores, polys, err = [], [], [], f"{type(exc).__name__}: {exc}"
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        lines = [
            OcrLine(t, float(s), tuple((float(x), float(y)) for x, y in p[:4]))  # type: ignore[arg-type]
            for t, s, p in zip(texts, scores, polys, strict=True)
        ]
        values = {f.value for f in detectors.detect_lines(lines) if f.value}
        per_image.append(_measured(e["file"], secs, cpu, texts, values, err))
    return {"build_s": build, "images": per_image}


def _measured(
    file: str, secs: float, cpu: float, texts: list[str], values: set[str], error: str | None
) -> dict:
    """One image's row, the same for every pipeline compared."""
    return {"file": file, "secs": secs, "cpu": cpu, "texts": texts, "values": sorted(values), "error": error}


def run_qqscan(entries: list[dict], root: Path, engine_name: str) -> dict:
    from ground.settings import Settings
    from jobs.scanner import Scanner

    # the benchmark is an edge: the environment's settings, with the engine it compares
    scanner = Scanner(Settings.load(flags={"QQSCAN_ENGINE": engine_name}))
    t_build = time.perf_counter()
    scanner.warm_up()
    build = time.perf_counter() - t_build
    per_image = []
    for e in entries:
        data = (root / e["file"]).read_bytes()
        t0, c0 = time.perf_counter(), time.process_time()
        r = scanner.scan(data, e["file"])
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        values = {f.value for f in r.findings if f.value}
        per_image.append(_measured(e["file"], secs, cpu, [ln.text for ln in r.lines], values, r.error))
    return {"build_s": build, "images": per_image}


def child(which: str, manifest_path: Path, files: list[str]) -> None:
    manifest = {e["file"]: e for e in json.loads(manifest_path.read_text(encoding="utf-8"))}
    entries = [manifest[f] for f in files]
    out = run_stock(entries, manifest_path.parent) if which == "stock" else run_qqscan(
        entries, manifest_path.parent, which
    )
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out, ensure_ascii=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", default="main,tall,gif,hard")
    ap.add_argument("--limit", type=int, default=0, help="at most N images per kind")
    ap.add_argument("--runs", default=",".join(RUNS), help="pipelines to run (stock first: the baseline)")
    ap.add_argument("--child", choices=RUNS, help=argparse.SUPPRESS)
    ap.add_argument("--files", help=argparse.SUPPRESS)
    args = ap.parse_args()
    from fixtures.generate import generate

    root = REPO / "fixtures" / "generated"
    manifest_path = root / "manifest.json"
    if args.child:
        child(args.child, manifest_path, json.loads(args.files))
        return
    generate(root, bench=True)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    kinds = args.kinds.split(",")
    chosen: dict[str, list[dict]] = {}
    for kind in kinds:
        es = [e for e in manifest if e.get("set") in ("bench", "hard") and e["kind"] == kind]
        chosen[kind] = es[: args.limit] if args.limit else es
    files = [e["file"] for k in kinds for e in chosen[k]]
    runs = args.runs.split(",")
    results = {}
    for which in runs:
        cmd = [sys.executable, "-m", "benchmarks.bench_scan", "--child", which, "--files", json.dumps(files)]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{which} run failed:\n{proc.stderr[-3000:]}")
        results[which] = json.loads(proc.stdout.strip().splitlines()[-1])
    by_file = {e["file"]: e for e in manifest}
    rows = []
    for kind in kinds:
        row = {"kind": kind, "images": len(chosen[kind])}
        mpix = 0.0
        for e in chosen[kind]:
            with Image.open(root / e["file"]) as im:
                mpix += im.width * im.height / 1e6
        for which in runs:
            imgs = [i for i in results[which]["images"] if by_file[i["file"]]["kind"] == kind]
            secs = sum(i["secs"] for i in imgs)
            cpu = sum(i["cpu"] for i in imgs)
            failed = sum(1 for i in imgs if i["error"])
            n = read = found = 0
            for i in imgs:
                a, b, c = _score(by_file[i["file"]], i["texts"], set(i["values"]))
                n, read, found = n + a, read + b, found + c
            row[which] = {
                "secs": secs,
                "img_s": len(imgs) / secs if secs else 0.0,
                "cpu_per_img": cpu / len(imgs) if imgs else 0.0,
                "failed": failed,
                "mpix_s": mpix / secs if secs else 0.0,
                "contacts": n,
                "read": read,
                "found": found,
            }
        rows.append(row)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_scan.json").write_text(
        json.dumps({"rows": rows, "raw": results}, ensure_ascii=False, indent=1)
    )
    print(_table(rows, results, runs))


def _table(rows: list[dict], results: dict, runs: list[str]) -> str:
    out = [
        "| set | images | pipeline | img/s | vs stock | CPU s/img | MPix/s | contacts | read | found |",
        "|" + "---|" * 10,
    ]
    for r in rows:
        base = r.get("stock")
        for which in runs:
            q = r[which]
            if q["failed"] == r["images"]:  # could not open any: a speed would be meaningless
                speed, ratio, mpix = f"n/a ({q['failed']} failed)", "n/a", "n/a"
            else:
                speed = f"{q['img_s']:.2f}" + (f" ({q['failed']} failed)" if q["failed"] else "")
                usable = base and base["img_s"] and base["failed"] < r["images"]
                ratio = f"{q['img_s'] / base['img_s']:.2f}x" if usable and which != "stock" else "-"
                mpix = f"{q['mpix_s']:.2f}"
            out.append(
                f"| {r['kind']} | {r['images']} | {which} | {speed} | {ratio} | {q['cpu_per_img']:.2f} "
                f"| {mpix} | {q['contacts']} | {q['read']} | {q['found'] if which != 'stock' else '-'} |"
            )
    out.append("")
    rss = {w: results[w]["peak_rss_mb"] for w in runs}
    out.append("peak RSS: " + ", ".join(f"{w} {mb:.0f} MB" for w, mb in rss.items()))
    out.append("engine build + warm-up: " + ", ".join(f"{w} {results[w]['build_s']:.1f} s" for w in runs))
    return "\n".join(out)


if __name__ == "__main__":
    main()
