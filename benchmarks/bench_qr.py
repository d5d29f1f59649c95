"""QR decoding before and after zxing-cpp (#22 item 5): decode rate and time per image, per fixture family.

    .venv/bin/python -m benchmarks.bench_qr [--seed 22] [--repeat 3] [--images DIR]

Runs fixtures/qr_cards.py's images (plain, stylised contact cards, small codes in a corner of a big image,
tall pages, JPEG, a finder pattern partly covered, and images with no code) through three decoders in one
process, image by image so they share the machine's load:
- opencv: the OpenCV-only decoder that was decode_qr before (ocr.qr._decode_opencv);
- zxing: zxing-cpp's one pass alone (what decode_qr costs on an image with no code);
- new: ocr.qr.decode_qr (zxing-cpp, then a located-but-unread symbol again: zxing upscaled, OpenCV).
An image counts as decoded when the decoder returns exactly its payload (no code: returns nothing). Time is
the median of --repeat runs per image (the machine is shared); mean and p95 are over the family's images.
--images DIR adds the still images of a `python -m fixtures.generate DIR --bench` folder as family
"project" (the product images the other benchmarks use: almost all without a code, what QR decoding costs
on an ordinary scan; payloads from its manifest.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fixtures.qr_cards import FAMILIES, QrCase, cases
from ocr.qr import _decode_opencv, _gray, _zxing, decode_qr

Decoder = Callable[[np.ndarray], list[str]]
DECODERS: dict[str, Decoder] = {
    "opencv": lambda px: [c.payload for c in _decode_opencv(px)],
    "zxing": lambda px: [p for p, _ in _zxing(_gray(px))[0]],
    "new": lambda px: [c.payload for c in decode_qr(px)],
}


def _run(dec: Decoder, case: QrCase, repeat: int) -> tuple[bool, float]:
    times = []
    out: list[str] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = dec(case.pixels)
        times.append(time.perf_counter() - t0)
    want = [case.payload] if case.payload else []
    return sorted(out) == want, statistics.median(times) * 1000


def project_cases(folder: Path) -> list[QrCase]:
    """The still images of a fixtures.generate folder (broken files and GIFs aside)."""
    out = []
    for entry in json.loads((folder / "manifest.json").read_text(encoding="utf-8")):
        if entry.get("error") or not entry["file"].lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        pixels = cv2.imread(str(folder / entry["file"]), cv2.IMREAD_COLOR)
        if pixels is None:
            continue
        codes = [c["value"] for c in entry["contacts"] if c["type"] == "qrcode"]
        out.append(QrCase("project", entry["file"], codes[0] if codes else None, pixels, None))
    return out


def _p95(xs: list[float]) -> float:
    return float(np.percentile(xs, 95)) if xs else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--images", type=Path, help="a fixtures.generate folder: its images as family 'project'")
    ap.add_argument("--verbose", action="store_true", help="one line per image")
    args = ap.parse_args()

    all_cases = list(cases(args.seed)) + (project_cases(args.images) if args.images else [])
    decode_qr(all_cases[0].pixels)  # first-call set-up out of the timings
    _decode_opencv(all_cases[0].pixels)
    ok: dict[tuple[str, str], int] = {}
    ms: dict[tuple[str, str], list[float]] = {}
    good: dict[tuple[str, str], bool] = {}
    for case in all_cases:
        row = []
        for name, dec in DECODERS.items():
            right, t = _run(dec, case, args.repeat)
            good[case.name, name] = right
            for fam in (case.family, "all"):
                ok[fam, name] = ok.get((fam, name), 0) + right
                ms.setdefault((fam, name), []).append(t)
            row.append(f"{name} {'ok' if right else '--'} {t:7.1f} ms")
        if args.verbose:
            print(f"{case.name:24} {case.pixels.shape[1]}x{case.pixels.shape[0]:<5} " + " | ".join(row))

    print(
        "| family | images | decoded opencv | decoded zxing | decoded new | mean ms opencv | mean ms new "
        "| p95 ms opencv | p95 ms new | speed-up mean | speed-up p95 | zxing alone mean ms |"
    )
    print("|---" * 12 + "|")
    for fam in (*[f for f in (*FAMILIES, "project") if (f, "new") in ms], "all"):
        n = len(ms[fam, "new"])
        old_mean, new_mean = statistics.fmean(ms[fam, "opencv"]), statistics.fmean(ms[fam, "new"])
        old_p95, new_p95 = _p95(ms[fam, "opencv"]), _p95(ms[fam, "new"])
        zx_mean = statistics.fmean(ms[fam, "zxing"])
        print(
            f"| {fam} | {n} | {ok[fam, 'opencv']}/{n} | {ok[fam, 'zxing']}/{n} | {ok[fam, 'new']}/{n} "
            f"| {old_mean:.1f} | {new_mean:.1f} | {old_p95:.1f} | {new_p95:.1f} "
            f"| {old_mean / new_mean:.1f}x | {old_p95 / new_p95:.1f}x | {zx_mean:.1f} |"
        )
    coded = [c for c in all_cases if c.payload]
    clean = len(all_cases) - len(coded)
    read = {name: sum(good[c.name, name] for c in coded) for name in DECODERS}
    quiet = {name: sum(good[c.name, name] for c in all_cases if not c.payload) for name in DECODERS}
    n = len(coded)
    print(
        f"\nimages with a code: decoded opencv {read['opencv']}/{n} ({read['opencv'] / n:.0%}) "
        f"-> new {read['new']}/{n} ({read['new'] / n:.0%}); "
        f"images without: nothing decoded opencv {quiet['opencv']}/{clean}, new {quiet['new']}/{clean}; "
        f"mean ms per image opencv {statistics.fmean(ms['all', 'opencv']):.1f} -> new "
        f"{statistics.fmean(ms['all', 'new']):.1f}"
    )


if __name__ == "__main__":
    main()
