"""Which frames of an animation (GIF, WebP, APNG) are read: chosen by what they show and how long, not by
their position.

Policy (why): sellers hide a contact in one frame of a slideshow, so no frame may be skipped for where it
sits. Every frame is stepped through once (ocr.decode bounds that work) and leaves a `Shown`: how long it
is on screen, an exact digest and a sketch (a small grid of grey means and edge strength: text is edges,
so a line of digits moves the sketch even where compensating pixels keep the grey mean). Then:

1. Frames with the same digest are one picture: read once, its display time summed wherever it recurs (a
   contact split into ten 0.5 s repeats, or flickering between two frames, is on screen 5 s).
2. When the distinct pictures fit the frame budget (QQSCAN_MAX_FRAMES, fewer for huge frames), all are
   read, whatever their timing: a contact shown 0.5 s among identical frames is read.
3. Over the budget, the budget still holds (it bounds memory and OCR time) and is shared:
   - by rule: frame 0 (the still a listing shows), then pictures shown >= 1 s (LONG_MS; the last frame of an
     animation that stops is shown forever), then the rest; within each group the picture that differs
     most from those already chosen goes first (ties: longer shown, then earlier);
   - at random: a quarter of the budget (at least one slot when the budget is 2 or more) is drawn from
     the pictures the rule left out, so an animation built to fill the rule's slots (more 1 s frames than
     the budget, or many very different frames around a contact frame that differs little) still has
     its contact frame read with a chance of (random slots) / (pictures left out) per scan, and nobody can
     build a file whose unread frames are known in advance. Only such over-budget animations are
     scanned non-deterministically, and `Choice.note` says how many pictures were not read.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

LONG_MS = 1000.0  # a frame on screen this long is one a viewer reads
SKETCH_CELLS = 4096  # about this many cells in a sketch (64 x 64 for a square frame; cells are square)


@dataclass(frozen=True)
class Shown:
    """What stepping learned about one frame."""

    index: int
    ms: float  # display time; math.inf for the last frame of an animation that stops there
    digest: bytes  # exact picture identity (mode, size, pixels)
    sketch: np.ndarray  # float32 vector: grey means, then edge strength, per cell


@dataclass(frozen=True)
class Choice:
    indices: list[int]  # frames to read, in frame order
    distinct: int  # distinct pictures among all frames
    by_chance: list[int]  # the indices drawn at random (over the budget only)

    @property
    def unread(self) -> int:
        return self.distinct - len(self.indices)

    @property
    def note(self) -> str | None:
        if not self.unread:
            return None
        return (
            f"{self.distinct} different pictures, {len(self.indices)} read ({len(self.by_chance)} of them "
            f"drawn at random): {self.unread} not read"
        )


def digest(im: Image.Image) -> bytes:
    """Exact identity of the current frame (no collisions an uploader could build, unlike a CRC)."""
    if im.mode in ("P", "L", "1"):  # GIF's first frame is "P", the rest "RGB": compare like with like
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    h = hashlib.sha256(f"{im.mode} {im.size}".encode())  # SHA-NI: 2.5x blake2b's speed here
    h.update(im.tobytes())
    return h.digest()


def sketch(im: Image.Image) -> np.ndarray:
    """A small grid of the current frame: grey mean and edge strength per cell, as one float32 vector."""
    grey = np.asarray(im.convert("L"))
    h, w = grey.shape
    # Whole square cells (a remainder under one cell is left out): OpenCV's area resize is 4x faster at
    # an integer factor.
    cell = max(1, math.isqrt(w * h // SKETCH_CELLS))
    size = (max(1, w // cell), max(1, h // cell))
    grey = grey[: size[1] * cell, : size[0] * cell]
    h, w = grey.shape
    edges = np.zeros_like(grey)
    if w > 1:
        edges[:, 1:] = cv2.absdiff(grey[:, 1:], grey[:, :-1])
    if h > 1:
        edges[1:, :] = cv2.max(edges[1:, :], cv2.absdiff(grey[1:, :], grey[:-1, :]))
    cells = [cv2.resize(a.astype(np.float32), size, interpolation=cv2.INTER_AREA) for a in (grey, edges)]
    return np.concatenate([c.ravel() for c in cells])


@dataclass
class _Picture:
    index: int  # its first frame
    ms: float
    sketch: np.ndarray


def _pictures(shown: Sequence[Shown]) -> list[_Picture]:
    by_digest: dict[bytes, _Picture] = {}
    for s in shown:
        if s.digest in by_digest:
            by_digest[s.digest].ms += s.ms
        else:
            by_digest[s.digest] = _Picture(s.index, s.ms, s.sketch)
    return list(by_digest.values())


def _distance(pictures: list[_Picture], to: _Picture) -> np.ndarray:
    """Mean absolute sketch difference of each picture to `to` (sketches of different sizes: far apart)."""
    out = np.full(len(pictures), np.inf, dtype=np.float64)
    for i, p in enumerate(pictures):
        if p.sketch.shape == to.sketch.shape:
            out[i] = float(np.abs(p.sketch - to.sketch).mean())
    return out


def choose(shown: Sequence[Shown], budget: int, rng: random.Random | None = None) -> Choice:
    """The frames to read, by the module's policy. `rng` draws the random share (default: the OS's)."""
    pictures = _pictures(shown)
    if len(pictures) <= budget:
        return Choice(sorted(p.index for p in pictures), len(pictures), [])
    chance = max(1, budget // 4) if budget >= 2 else 0
    chosen = [0]  # frame 0 is always the first picture
    nearest = _distance(pictures, pictures[0])  # distance of each picture to the closest chosen one
    nearest[0] = -np.inf
    for want_long in (True, False):
        while len(chosen) < budget - chance:
            pick = _most_different(pictures, nearest, want_long)
            if pick is None:
                break
            chosen.append(pick)
            nearest = np.minimum(nearest, _distance(pictures, pictures[pick]))
            nearest[pick] = -np.inf
    left = [i for i in range(len(pictures)) if nearest[i] != -np.inf]
    drawn = (rng or random.SystemRandom()).sample(left, budget - len(chosen))
    indices = sorted(pictures[i].index for i in chosen + drawn)
    return Choice(indices, len(pictures), sorted(pictures[i].index for i in drawn))


def _most_different(pictures: list[_Picture], nearest: np.ndarray, want_long: bool) -> int | None:
    best: int | None = None
    for i, p in enumerate(pictures):
        if nearest[i] == -np.inf or (want_long and p.ms < LONG_MS):
            continue
        key = (nearest[i], p.ms, -p.index)
        if best is None or key > (nearest[best], pictures[best].ms, -pictures[best].index):
            best = i
    return best
