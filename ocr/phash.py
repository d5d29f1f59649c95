"""Perceptual hashes of decoded pixels for finding re-uploads of an image (store/neardup.py).

`neardup_hashes` is what a scan stores: PDQ's bits (16x16 DCT corner of a 64x64 luma, 1 above the median)
over an area-averaged 64x64 image, for the whole frame and, when the frame has a uniform border (a frame a
seller added, or a page's own blank margin), for what is inside it. Area averaging (cv2.INTER_AREA) in
place of PDQ's tent filter keeps text-heavy product images stable under a 0.5x resize (PDQ's two box passes
of width ~size/128 alias fine text: median 17 bits moved, 22% over 31 here, against 2 and 0%), and the
inside hash finds bordered copies (a 2% border moves PDQ's bits by 40). docs/near-duplicates.md has the
measurements (benchmarks/bench_neardup.py --threshold).

`pdq_hash` is Meta's PDQ itself (ThreatExchange pdq/cpp: two Jarosz tent-filter passes, decimation at the
64x64 cell centres, DCT, median bits, gradient quality), ported to numpy: bit for bit the same as the C++ on
the 280 test images and pinned by tests/test_neardup_hash.py. The `pdqhash` package (Cython bindings of that
C++) ships no wheel, only a source archive that needs a C++ compiler, which the slim Docker image lacks; the
port needs none and, reading only the rows around each cell centre, hashes a 750x8000 page in ~6 ms.

Hex form: PDQ's own (64 hex digits, word 15 first), so hashes compare with other PDQ tools.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

BITS = 256
MIN_DIM = 5  # PDQ's smallest hashable side

_LUMA_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)  # PDQ's R, G, B weights in BGR order


def _dct_matrix() -> np.ndarray:
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(64, dtype=np.float64)[None, :]
    return (np.sqrt(2.0 / 64) * np.cos((np.pi / 2.0 / 64) * i * (2 * j + 1))).astype(np.float32)


_DCT = _dct_matrix()  # 16 x 64: rows 1..16 of the 64-point DCT-II (row 0, the mean, is left out)


@dataclass(frozen=True)
class Pdq:
    """A PDQ hash: 64 hex digits (PDQ's word order) and its quality 0..100 (gradients of the 64x64 image;
    PDQ's authors drop hashes under 50 when matching: flat images hash to near-random bits)."""

    hex: str
    quality: int


def _window(old: int, new: int = 64) -> int:
    return (old + 2 * new - 1) // (2 * new)


@functools.lru_cache(maxsize=256)
def _sampler(n: int) -> tuple[tuple[int, int, np.ndarray], ...]:
    """PDQ's downsampling along one axis of length n, as 64 weight vectors (start, stop, weights).

    PDQ blurs with two passes of box1DFloat (out[i] = mean of in[i - (w - half) .. i + half - 1], clipped
    at the edges, half = (w + 2) // 2) along rows and along columns, then keeps the pixel at each of the
    64 x 64 cell centres. Row and column filters commute, so the whole chain is Rows @ luma @ Cols.T with
    Rows = decimate . box . box along the height: only the ~2w pixels around each centre are read, which
    makes a 750 x 8000 page cost milliseconds instead of four full-image passes."""
    w = _window(n)
    half = (w + 2) // 2
    idx = np.arange(n)
    lo = np.maximum(idx - (w - half), 0)
    hi = np.minimum(idx + half, n)
    out = []
    for s in range(64):
        c = int((s + 0.5) * n / 64)
        firsts = np.arange(lo[c], hi[c])  # pixels the first pass averages for the centre
        start, stop = int(lo[firsts[0]]), int(hi[firsts[-1]])
        k = np.arange(start, stop)
        # the second pass: each of those pixels is itself the mean of its own window [lo_i, hi_i)
        inside = (k[None, :] >= lo[firsts, None]) & (k[None, :] < hi[firsts, None])
        weights = (inside / (hi[firsts] - lo[firsts])[:, None]).sum(axis=0) / len(firsts)
        out.append((start, stop, weights.astype(np.float32)))
    return tuple(out)


def _luma(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels.astype(np.float32)
    return pixels[:, :, :3].astype(np.float32) @ _LUMA_BGR


def _downsample(pixels: np.ndarray) -> np.ndarray:
    """Luma blurred and decimated to 64x64 at the cell centres, as PDQ does, reading only the pixel rows
    around each centre. pixels: BGR uint8 (H x W x 3) or grey (H x W)."""
    rows, cols = pixels.shape[:2]
    grey = pixels.ndim == 2
    if (rows, cols) == (64, 64):
        return _luma(pixels)
    flat = pixels.reshape(rows, -1)
    across = np.empty((64, flat.shape[1]), dtype=np.float32)
    for s, (start, stop, weights) in enumerate(_sampler(rows)):
        across[s] = weights @ flat[start:stop].astype(np.float32)
    luma = across if grey else across.reshape(64, cols, -1)[:, :, :3] @ _LUMA_BGR
    small = np.empty((64, 64), dtype=np.float32)
    for s, (start, stop, weights) in enumerate(_sampler(cols)):
        small[:, s] = luma[:, start:stop] @ weights
    return small


def _quality(small: np.ndarray) -> int:
    # C++ truncates each scaled difference to an int before summing
    dy = np.trunc((small[:-1, :] - small[1:, :]) * 100 / 255)
    dx = np.trunc((small[:, :-1] - small[:, 1:]) * 100 / 255)
    return min(100, int((np.abs(dy).sum() + np.abs(dx).sum()) // 90))


def _to_hex(dct: np.ndarray) -> str:
    flat = dct.reshape(-1)
    median = np.sort(flat)[(flat.size + 1) // 2 - 1]  # Torben's median of 256: the 128th smallest
    bits = flat > median  # bit k = i * 16 + j
    words = (bits.reshape(16, 16).astype(np.uint32) << np.arange(16, dtype=np.uint32)).sum(axis=1)
    return "".join(f"{int(w):04x}" for w in words[::-1])


def pdq_hash(pixels: np.ndarray) -> Pdq:
    """PDQ hash of one decoded frame (BGR uint8 H x W x 3, or grey H x W). An image under 5 pixels a side
    has PDQ's empty hash (all zero bits) and quality 0."""
    if pixels.shape[0] < MIN_DIM or pixels.shape[1] < MIN_DIM:
        return Pdq("0" * (BITS // 4), 0)
    small = _downsample(pixels)
    dct = _DCT @ small @ _DCT.T
    return Pdq(_to_hex(dct), _quality(small))


# --- the stored hash: area-averaged, with and without the frame -------------------------------------------

FRAME_TOL = 4  # grey levels a frame line's pixels may stray from the frame colour (JPEG keeps flat areas)
FRAME_OFF = 0.02  # share of a line allowed outside that (a speck, a compression artefact)
FRAME_RING = 8  # JPEG's block side: ringing stays inside the blocks the frame's edge crosses


def _peel(grey: np.ndarray, ring: bool) -> tuple[int, int, int, int]:
    """Lines of the perimeter's colour on each side (top, bottom, left, right), at most a quarter a side."""
    colour = int(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))

    def depth(lines: np.ndarray, from_end: bool) -> int:  # lines from the outside in
        off = (np.abs(lines[: len(lines) // 4].astype(np.int16) - colour) > FRAME_TOL).mean(axis=1)
        outside = off > FRAME_OFF
        k = int(outside.argmax()) if outside.any() else len(off)
        # JPEG rings inside the 8x8 blocks an added frame's edge crosses: the frame lines of the block where
        # the picture starts are taken while mostly frame colour (never past that block: the picture's own
        # lines start there and may be as sparse, e.g. text).
        n = len(lines)
        while ring and 0 < k < len(off) and off[k] <= 0.5 and ((n - k) if from_end else k) % FRAME_RING:
            k += 1
        return k

    return depth(grey, False), depth(grey[::-1], True), depth(grey.T, False), depth(grey.T[::-1], True)


def frame_layers(pixels: np.ndarray, layers: int = 3) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of what each uniform frame around the picture surrounds, outermost first;
    [] when the picture runs to its edges.

    A frame: lines of one colour (the median of the outermost pixels), each line with at most 2% of its
    pixels off by more than 4 grey levels, at most a quarter of the image per side, on any of the sides (a
    page whose text runs into its right edge has a margin on three). Peeled up to `layers` times, each
    with the new perimeter's colour: a white border around a page's near-white margin may come off with
    the margin or before it, depending on a few grey levels, so every layer is kept (neardup_hashes)."""
    grey = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if pixels.ndim == 3 else pixels
    top, bottom, left, right = 0, grey.shape[0], 0, grey.shape[1]
    out: list[tuple[int, int, int, int]] = []
    for attempt in range(layers):
        if bottom - top < 2 * MIN_DIM or right - left < 2 * MIN_DIM:
            break
        t, b, lf, r = _peel(grey[top:bottom, left:right], ring=attempt == 0)
        if not (t or b or lf or r):
            break
        top, bottom, left, right = top + t, bottom - b, left + lf, right - r
        out.append((top, bottom, left, right))
    return out


def area_hash(pixels: np.ndarray) -> Pdq:
    """PDQ's bits and quality over an area-averaged 64x64 luma (see the module's docstring)."""
    if pixels.shape[0] < MIN_DIM or pixels.shape[1] < MIN_DIM:
        return Pdq("0" * (BITS // 4), 0)
    grey = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if pixels.ndim == 3 else pixels
    small = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    return Pdq(_to_hex(_DCT @ small @ _DCT.T), _quality(small))


def neardup_hashes(pixels: np.ndarray) -> list[Pdq]:
    """The hashes a scan stores for one frame: the whole frame's, then the inside of each uniform frame
    around it (frame_layers), without repeats. store/neardup.py matches two images when any hash of one is
    near any hash of the other, so a copy framed once more than the original still meets it."""
    out = [area_hash(pixels)]
    for top, bottom, left, right in frame_layers(pixels):
        h = area_hash(pixels[top:bottom, left:right])
        if h not in out:
            out.append(h)
    return out


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hashes in hex form."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
