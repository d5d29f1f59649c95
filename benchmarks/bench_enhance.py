"""Which OpenCV enhancement passes pay: recall and cost of each step on generated hard cases.

    .venv/bin/python -m benchmarks.bench_enhance

Hard cases: semi-transparent white text over a busy photo-like background (alpha 40-120), near-white text on
white (#e6e6e6 - #f8f8f8), 7-9 px text, and small text in a JPEG saved at quality 10-20 and halved. A case
counts as read when the planted number's digits appear in the OCR text. Costs are seconds per image.
"""

from __future__ import annotations

import io
import re
import time

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.engine import get_engine
from ocr.reader import read_pixels
from tests.text_images import cjk_font_path


def _cases(seed: int = 7) -> list[tuple[str, str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    font = cjk_font_path()
    out = []

    def number() -> str:
        return str(rng.integers(1, 10)) + "".join(str(d) for d in rng.integers(0, 10, 8))

    for alpha in (40, 60, 80, 100, 120):
        for blur in (3, 6):
            noise = (rng.random((400, 750, 3)) * 255).astype(np.uint8)
            bg = cv2.normalize(cv2.GaussianBlur(noise, (0, 0), blur), None, 0, 255, cv2.NORM_MINMAX)
            base = Image.fromarray(bg[:, :, ::-1]).convert("RGBA")
            layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
            n = number()
            ImageDraw.Draw(layer).text(
                (30, 180), f"加QQ {n} 领券", font=ImageFont.truetype(font, 34), fill=(255, 255, 255, alpha)
            )
            img = Image.alpha_composite(base, layer).convert("RGB")
            out.append((f"over_photo a{alpha} b{blur}", n, np.asarray(img)[:, :, ::-1].copy()))
    for grey in (230, 236, 242, 246, 248, 250):
        n = number()
        img = Image.new("RGB", (750, 300), "white")
        ImageDraw.Draw(img).text(
            (30, 140), f"客服扣扣 {n}", font=ImageFont.truetype(font, 16), fill=(grey,) * 3
        )
        out.append((f"faint #{grey:02x}{grey:02x}{grey:02x}", n, np.asarray(img)[:, :, ::-1].copy()))
    for size in (7, 8, 9):
        n = number()
        img = Image.new("RGB", (750, 300), (245, 240, 235))
        ImageDraw.Draw(img).text(
            (30, 140), f"客服扣扣 {n}", font=ImageFont.truetype(font, size), fill=(120,) * 3
        )
        out.append((f"tiny {size}px", n, np.asarray(img)[:, :, ::-1].copy()))
    for q in (10, 15, 20):
        n = number()
        img = Image.new("RGB", (750, 300), (240, 230, 220))
        ImageDraw.Draw(img).text(
            (30, 140), f"客服扣扣 {n}", font=ImageFont.truetype(font, 20), fill=(90,) * 3
        )
        buf = io.BytesIO()
        img.resize((375, 150)).save(buf, "JPEG", quality=q)
        out.append(
            (f"jpeg q{q} half", n, cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_COLOR))
        )
    return out


def main() -> None:
    engine = get_engine()
    cases = _cases()
    configs = [(), ("tophat",), ("clahe",), ("tophat", "clahe")]
    groups = sorted({name.split()[0] for name, _, _ in cases})
    print("| passes | " + " | ".join(groups) + " | all | s/img |")
    print("|---" * (len(groups) + 3) + "|")
    for steps in configs:
        read = dict.fromkeys(groups, 0)
        secs = 0.0
        for name, n, img in cases:
            t0 = time.perf_counter()
            lines = read_pixels(img, engine, steps)
            secs += time.perf_counter() - t0
            read[name.split()[0]] += n in re.sub(r"\D", "", "".join(t for t, _, _ in lines))
        totals = {g: sum(1 for c in cases if c[0].split()[0] == g) for g in groups}
        cells = " | ".join(f"{read[g]}/{totals[g]}" for g in groups)
        label = "+".join(("plain",) + steps)
        print(f"| {label} | {cells} | {sum(read.values())}/{len(cases)} | {secs / len(cases):.2f} |")


if __name__ == "__main__":
    main()
