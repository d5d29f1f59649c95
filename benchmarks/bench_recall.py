"""Per-family recall on the red team's seller disguises (fixtures.redteam), before and after a detector
change.

    .venv/bin/python -m benchmarks.bench_recall --text-only --per-family 300   # detectors alone, seconds
    .venv/bin/python -m benchmarks.bench_recall --per-family 6                 # + images through OCR
    .venv/bin/python -m benchmarks.bench_recall --round 2 --text-only          # round 2: new variants

`--round 1` (default) is the set the detectors were tuned on, so its numbers stay comparable run to run;
`--round 2` is the second red team's families (fixtures/redteam/families2.py), variants the detectors
were not tuned on; `--round all` both.

(a) text: `detectors.detect_text` on the text each case draws (its lines joined by a newline), so a miss
here is the detector's, not OCR's. (b) images (unless --text-only): each image scanned in-process with
`jobs.pipeline.scan_bytes` and the default engine.

Per family: cases; exact QQ (a QQ label counts only when a `qq` finding has exactly its digits); exact
(every label type: a finding of the label's type with its value; a solicitation label is met by any
`solicitation` finding; a `not_qq` label, a QQ-shaped number that is no QQ number, is met when no `qq`
finding has its value); flagged (positive cases with any finding at all); wrong QQ (`qq` findings whose
value is no label's); other types (finding types the case has no label of); clean flagged (clean cases
with any finding); and for images "OCR read": a QQ/phone label is read when its digits appear, in order
and contiguous once every non-digit is dropped, in the OCR text decoded by fixtures.redteam.decode
(digits of every script, Chinese numerals, homophones, spelled digits, look-alikes), with the lines of a
frame taken top-to-bottom, or column by column left-to-right or right-to-left; a WeChat label is read
when its id appears in the OCR text with full-width forms folded and spaces dropped (round 2 also follows
the notes sellers leave, as fixtures.redteam.decode.readings does, and folds Cyrillic/Greek look-alikes).
QR payload labels are not counted as read (there is no text to read). "N undrawn" after it counts images
whose text holds characters no installed font draws (see fixtures.redteam.glyphs.undrawable).

Writes OUT/bench_recall.json (rows, totals, settings), OUT/misses.jsonl (one line per missed label or
flagged clean case: mode, family, file, layout, text drawn, labels, findings, OCR lines) and, for images,
OUT/images/ with labels.jsonl. Default OUT: benchmarks/out/recall/.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from fixtures.redteam.dataset import write_set
from fixtures.redteam.options import parser as fixture_parser
from fixtures.redteam.rounds import ALL, recoverable

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "out" / "recall"
DIGIT_TYPES = ("qq", "phone")


def matched(label: dict, findings: list[dict]) -> bool:
    """A finding of the label's type with exactly its value (any one for a value-less label); for a
    `not_qq` label, no `qq` finding with its value."""
    if label["type"] == "not_qq":
        return not any(f["type"] == "qq" and f["value"] == label["value"] for f in findings)
    return any(
        f["type"] == label["type"] and (label["value"] is None or f["value"] == label["value"])
        for f in findings
    )


def ocr_read(label: dict, lines: list[dict], layout: str | None, family: str) -> bool | None:
    """Whether OCR's text still holds the label (None: nothing drawn to read, as for a QR payload)."""
    if label["type"] not in (*DIGIT_TYPES, "wechat") or layout == "qr":
        return None
    return any(recoverable(label, text, family) for text in reading_orders(lines))


def reading_orders(lines: list[dict]) -> Iterable[str]:
    """Each frame's lines as rows (top to bottom) and as columns (left to right, right to left)."""
    frames: dict[int, list[dict]] = {}
    for ln in lines:
        frames.setdefault(ln["frame"], []).append(ln)
    for group in frames.values():

        def x0(ln: dict) -> float:
            return min(p[0] for p in ln["box"])

        def y0(ln: dict) -> float:
            return min(p[1] for p in ln["box"])

        yield "\n".join(ln["text"] for ln in sorted(group, key=lambda ln: (y0(ln), x0(ln))))
        yield "\n".join(ln["text"] for ln in sorted(group, key=lambda ln: (x0(ln), y0(ln))))
        yield "\n".join(ln["text"] for ln in sorted(group, key=lambda ln: (-x0(ln), y0(ln))))


class Tally:
    """The counts of one family (or of all)."""

    def __init__(self) -> None:
        self.n = Counter[str]()
        self.other: Counter[str] = Counter()
        self.secs = 0.0

    def add(self, row: dict, findings: list[dict], lines: list[dict] | None) -> bool:
        """Count one case; True when it is a miss (a label not met, or a clean case flagged)."""
        labels = row["labels"]
        n = self.n
        n["cases"] += 1
        miss = False
        label_types = {lab["type"] for lab in labels}
        for lab in labels:
            ok = matched(lab, findings)
            miss |= not ok
            n["labels"] += 1
            n["exact"] += ok
            if lab["type"] == "qq":
                n["qq"] += 1
                n["exact_qq"] += ok
            if lines is not None:
                read = ocr_read(lab, lines, row["layout"], row["category"])
                if read is not None:
                    n["readable"] += 1
                    n["read"] += read
        if lines is not None and row.get("undrawn"):
            n["undrawn"] += 1
        if labels:
            n["positive"] += 1
            n["flagged"] += bool(findings)
        else:
            n["clean"] += 1
            n["clean_flagged"] += bool(findings)
            miss |= bool(findings)
        qq_values = {lab["value"] for lab in labels if lab["type"] == "qq"}
        n["wrong_qq"] += sum(1 for f in findings if f["type"] == "qq" and f["value"] not in qq_values)
        self.other.update(f["type"] for f in findings if f["type"] not in label_types)
        return miss

    def merge(self, other: Tally) -> None:
        self.n.update(other.n)
        self.other.update(other.other)
        self.secs += other.secs

    def to_json(self) -> dict:
        return {**dict(self.n), "other_types": dict(self.other), "secs": round(self.secs, 2)}


def _ratio(num: int, den: int) -> str:
    return f"{num}/{den} ({100 * num / den:.0f}%)" if den else "-"


def table(title: str, tallies: dict[str, Tally], *, images: bool) -> str:
    head = ["family", "cases", "exact QQ", "exact", "flagged", "wrong QQ", "other types", "clean flagged"]
    if images:
        head[5:5] = ["OCR read"]
        head.append("s/img")
    out = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, t in tallies.items():
        n = t.n
        cells = [
            f"**{name}**" if name == "total" else name,
            str(n["cases"]),
            _ratio(n["exact_qq"], n["qq"]),
            _ratio(n["exact"], n["labels"]),
            _ratio(n["flagged"], n["positive"]),
            str(n["wrong_qq"]),
            ", ".join(f"{k} {v}" for k, v in sorted(t.other.items())) or "-",
            _ratio(n["clean_flagged"], n["clean"]),
        ]
        if images:
            undrawn = f", {n['undrawn']} undrawn" if n["undrawn"] else ""
            cells[5:5] = [_ratio(n["read"], n["readable"]) + undrawn]
            cells.append(f"{t.secs / n['cases']:.2f}" if n["cases"] else "-")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def with_total(tallies: dict[str, Tally]) -> dict[str, Tally]:
    total = Tally()
    for t in tallies.values():
        total.merge(t)
    return {**tallies, "total": total}


def run_text(rows: list[dict], misses: list[dict]) -> dict[str, Tally]:
    import detectors

    tallies: dict[str, Tally] = {}
    for row in rows:
        if ALL[row["category"]].image_only:
            continue
        t0 = time.perf_counter()
        findings = [f.to_dict() for f in detectors.detect_text(row["line"])]
        tally = tallies.setdefault(row["category"], Tally())
        tally.secs += time.perf_counter() - t0
        if tally.add(row, findings, None):
            misses.append(_miss("text", row, findings, None))
    return tallies


def run_images(rows: list[dict], image_dir: Path, misses: list[dict]) -> tuple[dict[str, Tally], dict]:
    from jobs.pipeline import scan_bytes
    from ocr.engine import get_engine

    t0 = time.perf_counter()
    engine = get_engine()
    build = time.perf_counter() - t0
    tallies: dict[str, Tally] = {}
    errors = 0
    for i, row in enumerate(rows, 1):
        data = (image_dir / row["file"]).read_bytes()
        t0 = time.perf_counter()
        result = scan_bytes(data, row["file"], engine=engine)
        secs = time.perf_counter() - t0
        out = result.to_json(with_lines=True)
        if result.error:
            errors += 1
            print(f"{row['file']}: {result.error}", file=sys.stderr)
        tally = tallies.setdefault(row["category"], Tally())
        tally.secs += secs
        if tally.add(row, out["findings"], out["lines"]):
            misses.append(_miss("image", row, out["findings"], out["lines"]))
        if i % 25 == 0:
            print(f"  {i}/{len(rows)} images", file=sys.stderr)
    return tallies, {"engine": engine.version, "engine_build_s": round(build, 2), "errors": errors}


def _miss(mode: str, row: dict, findings: list[dict], lines: list[dict] | None) -> dict:
    return {
        "mode": mode,
        "family": row["category"],
        "file": row["file"],
        "layout": row["layout"],
        "text": row["line"],
        "labels": row["labels"],
        "found": [{k: f.get(k) for k in ("type", "value", "text", "rule")} for f in findings],
        "ocr": [ln["text"] for ln in lines] if lines is not None else None,
    }


def main(argv: list[str] | None = None) -> None:
    ap = fixture_parser(__doc__, "default 300 with --text-only, else 6")
    ap.set_defaults(per_family=None)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT.relative_to(REPO)}")
    args = ap.parse_args(argv)
    per_family = args.per_family or (300 if args.text_only else 6)
    if per_family < 1:
        ap.error("--per-family must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    image_dir = args.out / "images"
    rows = write_set(
        args.out if args.text_only else image_dir,
        seed=args.seed,
        per_family=per_family,
        families=args.families,
        text_only=args.text_only,
        round_=args.round,
    )
    made = time.perf_counter() - t0
    misses: list[dict] = []
    import detectors

    report: dict = {
        "seed": args.seed,
        "round": args.round if not args.families else None,
        "families": args.families,
        "per_family": per_family,
        "rules_version": detectors.RULES_VERSION,
        "generate_s": round(made, 1),
    }
    text = with_total(run_text(rows, misses))
    report["text"] = {k: t.to_json() for k, t in text.items()}
    which = f"families {','.join(args.families)}" if args.families else f"round {args.round}"
    tables = [
        table(f"text (detect_text), {which}, seed {args.seed}, {per_family} per family", text, images=False)
    ]
    if not args.text_only:
        images, meta = run_images(rows, image_dir, misses)
        images = with_total(images)
        report["images"] = {k: t.to_json() for k, t in images.items()}
        report["images_meta"] = meta
        title = f"images (scan_bytes, {meta['engine']}), {which}, seed {args.seed}"
        tables.append(table(title, images, images=True))
    (args.out / "bench_recall.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    with open(args.out / "misses.jsonl", "w", encoding="utf-8") as f:
        for m in misses:
            f.write(json.dumps(m, ensure_ascii=False) + "\n")
    print("\n\n".join(tables))
    print(
        f"\n{len(rows)} cases generated in {made:.1f} s; {len(misses)} misses in {args.out / 'misses.jsonl'}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
