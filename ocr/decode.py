"""Bytes -> frames: sniff the format, enforce caps before decoding, composite, orient, convert to BGR.

Policy (why):
- Accepted: JPEG, PNG (incl. APNG), GIF, WebP, BMP, AVIF. These are what shops and CDNs serve.
- Refused with a clear message: TIFF (scanner/print format, huge codec surface, never a product image),
  SVG (vector: its text is text, not pixels), PDF, HEIC (Pillow cannot read it), anything unrecognised.
- The byte cap is checked before anything is parsed and the pixel cap from the header before any pixel is
  decoded. Pillow's own decompression-bomb check lives in `Image.open`; we build the format's ImageFile
  class directly so *our* cap (QQSCAN_MAX_PIXELS) is the one that applies, in both directions.
- Animated images: every frame matters (contacts hide in later frames). Each frame is stepped through once
  and the ones read are chosen by what they show and how long they are shown (ocr.animation says how);
  frames identical to one already read are not read again. Stepping is bounded before it starts to cost:
  at most QQSCAN_MAX_ANIMATION_FRAMES frames and STEP_BUDGET_FRAMES x QQSCAN_MAX_PIXELS pixels (a 40 MiB
  GIF holds millions of 1x1 frames, or thousands of large ones). An animation over either bound is an
  error, not a partial read: frames past a cut-off would be a gap anyone could aim for.
"""

from __future__ import annotations

import io
import math
import re
import struct
import zlib
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import (
    AvifImagePlugin,
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
    features,
)

from ground.errors import QqscanError
from ground.settings import DEFAULTS, SETTINGS, Settings
from ocr import animation
from ocr.animation import Shown
from ocr.types import Frame

MiB = 1024 * 1024

# Pixels stepped through in all (every frame is decoded and sketched once, ~150-400 MPix/s here) are
# bounded by this many times max_pixels, so a 40 MiB GIF of thousands of large frames cannot run for minutes.
STEP_BUDGET_FRAMES = 16
# Kept frames are held in memory together (8 x 60 MPix would be 1.4 GB of BGR): at most this many times
# max_pixels in all, so a large animation keeps fewer frames.
KEPT_BUDGET_FRAMES = 2

_CLASSES: dict[str, type[ImageFile.ImageFile]] = {
    "jpeg": JpegImagePlugin.JpegImageFile,
    "png": PngImagePlugin.PngImageFile,
    "gif": GifImagePlugin.GifImageFile,
    "webp": WebPImagePlugin.WebPImageFile,
    "bmp": BmpImagePlugin.BmpImageFile,
    "avif": AvifImagePlugin.AvifImageFile,
}

_ORIENT = {  # EXIF Orientation -> transpose (same table as ImageOps.exif_transpose)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class DecodeError(QqscanError):
    """The input is not an image we can scan; the message says why, in user terms."""


_LIMIT_SETTINGS = {
    "max_bytes": "QQSCAN_MAX_BYTES",
    "max_pixels": "QQSCAN_MAX_PIXELS",
    "max_frames": "QQSCAN_MAX_FRAMES",
    "max_animation_frames": "QQSCAN_MAX_ANIMATION_FRAMES",
}


@dataclass(frozen=True)
class DecodeLimits:
    # Defaults are the settings table's (ground/settings.py): bytes of one image, pixels per frame, frames.
    max_bytes: int = SETTINGS["QQSCAN_MAX_BYTES"].default
    max_pixels: int = SETTINGS["QQSCAN_MAX_PIXELS"].default
    max_frames: int = SETTINGS["QQSCAN_MAX_FRAMES"].default
    max_animation_frames: int = SETTINGS["QQSCAN_MAX_ANIMATION_FRAMES"].default

    @classmethod
    def from_settings(cls, settings: Settings = DEFAULTS) -> DecodeLimits:
        """Defaults overridden by QQSCAN_MAX_BYTES / _PIXELS / _FRAMES / _ANIMATION_FRAMES."""
        # SettingError (a ValueError) names a value that is not a whole number or is below 1.
        return cls(**{field_name: settings[var] for field_name, var in _LIMIT_SETTINGS.items()})


def sniff_format(data: bytes) -> str | None:
    """The accepted image format named by the magic bytes, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM" and len(data) >= 26 and data[14:18] in _BMP_HEADER_SIZES:
        return "bmp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "avif"
    return None


_BMP_HEADER_SIZES = {struct.pack("<I", n) for n in (12, 40, 52, 56, 64, 108, 124)}


def describe_unaccepted(data: bytes) -> str:
    """Why bytes that `sniff_format` refused are not scannable, in user terms."""
    if not data:
        return "empty file (0 bytes)"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<script", b"<meta")):
        return "not an image: looks like HTML (an error or login page saved under an image name?)"
    if b"<svg" in data[:4096].lower():
        return "not accepted: SVG is a vector drawing, not a raster image; render it to PNG first"
    if head.startswith(b"<?xml") or head.startswith(b"<"):
        return "not an image: looks like XML/markup text"
    if data[:5] == b"%PDF-":
        return "not accepted: this is a PDF document, not an image; export its pages as PNG"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "not accepted: TIFF images are not scanned; convert to PNG or JPEG"
    if data[4:8] == b"ftyp":
        brand = data[8:12].decode("ascii", "replace")
        return f"not accepted: ISO media container brand {brand!r} (HEIC/video?); convert to JPEG or PNG"
    if data[:4] == b"PK\x03\x04":
        return "not an image: looks like a ZIP archive"
    if data[:2] == b"BM":
        return "corrupt BMP: header too short or unknown header size"
    sample = data[:512]
    if all(b in b"\t\n\r" or 32 <= b < 127 or b >= 0x80 for b in sample):
        try:
            sample.decode("utf-8")
            return "not an image: looks like plain text"
        except UnicodeDecodeError:
            pass
    return f"not an image: unrecognised bytes {data[:8].hex(' ')}"


def decode_image(data: bytes, limits: DecodeLimits | None = None) -> list[Frame]:
    """Decode bytes into BGR uint8 frames; raise DecodeError for anything unscannable."""
    limits = limits or DecodeLimits()
    if not data:
        raise DecodeError("empty file (0 bytes)")
    if len(data) > limits.max_bytes:
        raise DecodeError(
            f"file is {len(data) / MiB:.1f} MiB, over the {limits.max_bytes / MiB:.0f} MiB cap "
            "(QQSCAN_MAX_BYTES)"
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise DecodeError(describe_unaccepted(data))
    if fmt == "avif" and not features.check("avif"):
        raise DecodeError("not accepted: this Pillow build cannot read AVIF; convert to JPEG or PNG")
    if fmt == "png":
        _check_png_chunks(data)
    if fmt == "webp" and int.from_bytes(data[4:8], "little") + 8 > len(data):
        raise DecodeError(f"truncated WEBP: the file ends early ({len(data)} bytes); re-download it")
    try:
        return _decode(data, fmt, limits)
    except DecodeError:
        raise
    except MemoryError:
        raise DecodeError(f"{fmt.upper()} too large to decode in available memory") from None
    except Image.DecompressionBombError as exc:  # a later GIF frame grew the canvas past Pillow's limit
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)) / 1e6:.0f} MPix" if found else "too many pixels"
        raise DecodeError(
            f"a frame of this {fmt.upper()} is {size}, over the {limits.max_pixels / 1e6:g} MPix cap "
            "(QQSCAN_MAX_PIXELS)"
        ) from None
    except Exception as exc:  # any PIL/cv2/struct failure becomes a user-facing message
        raise DecodeError(_explain(exc, fmt, len(data))) from exc


def _explain(exc: Exception, fmt: str, size: int) -> str:
    msg = str(exc) or type(exc).__name__
    low = msg.lower()
    name = fmt.upper()
    if "truncated" in low or "premature end" in low or isinstance(exc, EOFError):
        return f"truncated {name}: the file ends early ({size} bytes); re-download it"
    if "no more images" in low:
        return f"truncated {name}: no image data after the header ({size} bytes)"
    if "not identified" in low or "not a" in low:
        return f"corrupt {name}: the header is damaged or incomplete ({size} bytes)"
    if "broken data stream" in low or "decoder error" in low:
        return f"corrupt {name}: image data cannot be decoded ({msg})"
    return f"corrupt {name}: {msg}"


def _check_png_chunks(data: bytes) -> None:
    """Walk PNG chunks and verify each CRC: Pillow skips IDAT CRCs, so damage would decode as garbage."""
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 8 + length + 4
        name = ctype.decode("latin-1")
        if end > n:
            raise DecodeError(f"truncated PNG: chunk {name} runs past the end of the file ({n} bytes)")
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise DecodeError(f"corrupt PNG: chunk {name} fails its CRC check (damaged file)")
        if ctype == b"IEND":
            return
        pos = end
    raise DecodeError(f"truncated PNG: no IEND chunk, the file ends early ({n} bytes)")


def _decode(data: bytes, fmt: str, limits: DecodeLimits) -> list[Frame]:
    # Build the plugin class directly: parses the header only (lazy), and skips Pillow's global bomb
    # check so that QQSCAN_MAX_PIXELS decides, with the real dimensions in the message.
    im = _CLASSES[fmt](io.BytesIO(data))
    _check_size(im, fmt, limits)
    # Before load: GIF finds out by parsing ahead to frame 1 (not by counting every frame, which Pillow's
    # n_frames does: 86 s for 2.7 M frames).
    animated = bool(getattr(im, "is_animated", False))
    # Load before anything else touches the image: PNG's getexif() loads lazily, and a load error swallowed
    # there would leave a half-decoded (black) frame that later loads happily return.
    im.load()
    orientation = _orientation(im)
    meta: dict = {"format": fmt, "frames_total": 1}
    if animated:
        frames = _read_animation(im, fmt, limits, orientation, meta)
    else:
        frames = [Frame(index=0, pixels=_pixels(im, orientation), meta={})]
    meta["frames_kept"] = len(frames)
    if orientation in _ORIENT:
        meta["exif_orientation"] = orientation
    for frame in frames:
        ph, pw = frame.pixels.shape[:2]
        frame.meta.update(meta, width=pw, height=ph)
    return frames


def _pixels(im: Image.Image, orientation: int) -> np.ndarray:
    pixels = _to_bgr(im)
    return _orient(pixels, orientation) if orientation in _ORIENT else pixels


def _read_animation(
    im: Image.Image, fmt: str, limits: DecodeLimits, orientation: int, meta: dict
) -> list[Frame]:
    """Step through every frame once (bounded), choose the ones to read (ocr.animation), read them."""
    shown: list[Shown] = []
    held: dict[int, np.ndarray] = {}  # pixels of the first distinct frames: no second pass when all fit
    held_pixels = stepped = largest = 0
    seen: set[bytes] = set()
    if not isinstance(im, GifImagePlugin.GifImageFile):  # WebP and APNG say their frame count up front
        w, h = im.size
        _check_steps(fmt, im.n_frames, im.n_frames * w * h, (w, h), limits)
    while True:
        index = len(shown)
        if index:
            try:
                im.seek(index)
            except EOFError:
                break
        w, h = _check_size(im, fmt, limits)  # a GIF frame may grow the canvas: checked before it loads
        stepped += w * h
        _check_steps(fmt, index + 1, stepped, (w, h), limits)
        im.load()  # WebP decodes (and sets the frame's duration) on load
        largest = max(largest, w * h)
        step = Shown(index, float(im.info.get("duration") or 0), animation.digest(im), animation.sketch(im))
        shown.append(step)
        if step.digest not in seen and len(held) < limits.max_frames:
            if held_pixels + w * h <= KEPT_BUDGET_FRAMES * limits.max_pixels:
                held[index] = _pixels(im, orientation)
                held_pixels += w * h
        seen.add(step.digest)
    if im.info.get("loop", 1) != 0:  # plays once (a GIF without a loop block too): the last frame stays
        shown[-1] = replace(shown[-1], ms=math.inf)

    budget = min(limits.max_frames, max(1, KEPT_BUDGET_FRAMES * limits.max_pixels // largest))
    choice = animation.choose(shown, budget)
    frames: list[Frame] = []
    dropped = len(shown) - choice.distinct
    for index in choice.indices:
        if index in held:
            pixels = held.pop(index)
        else:
            im.seek(index)  # seeking back rewinds and steps forward again: only frames not held
            pixels = _pixels(im, orientation)
        if any(np.array_equal(pixels, f.pixels) for f in frames):  # same picture, another palette mode
            dropped += 1
            continue
        frames.append(Frame(index=index, pixels=pixels, meta={}))
    held.clear()

    meta["frames_total"] = len(shown)
    meta["frames_read"] = [f.index for f in frames]
    if dropped:
        meta["frames_identical_dropped"] = dropped
    if choice.note:
        why = (
            f"QQSCAN_MAX_FRAMES={limits.max_frames}"
            if budget == limits.max_frames
            else f"only {budget} frames of {largest / 1e6:g} MPix fit in 2x QQSCAN_MAX_PIXELS"
        )
        meta["frames_unread"] = choice.unread
        meta["note"] = f"{len(shown)} frames, {choice.note} ({why})"
    return frames


def _check_steps(fmt: str, frames: int, pixels: int, size: tuple[int, int], limits: DecodeLimits) -> None:
    """The bounds on stepping through an animation (module docstring), for `frames` frames so far."""
    if frames > limits.max_animation_frames:
        raise DecodeError(
            f"animated {fmt.upper()} has more than {limits.max_animation_frames} frames "
            "(QQSCAN_MAX_ANIMATION_FRAMES); raise it to scan this file, or export the frames as images"
        )
    if pixels > STEP_BUDGET_FRAMES * limits.max_pixels:
        raise DecodeError(
            f"animated {fmt.upper()} too large to step through: {frames} frames of {size[0]}x{size[1]} "
            f"pass {STEP_BUDGET_FRAMES}x QQSCAN_MAX_PIXELS; export the frames as images to scan them"
        )


def _check_size(im: Image.Image, fmt: str, limits: DecodeLimits) -> tuple[int, int]:
    w, h = im.size
    if w <= 0 or h <= 0:
        raise DecodeError(f"corrupt {fmt.upper()}: header says {w}x{h}")
    if w * h > limits.max_pixels:
        raise DecodeError(
            f"image is {w}x{h} = {w * h / 1e6:.0f} MPix, over the {limits.max_pixels / 1e6:g} MPix cap "
            "(QQSCAN_MAX_PIXELS)"
        )
    return w, h


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # a broken EXIF block must not cost us the picture
        return 1


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    op = _ORIENT[orientation]
    out = {
        Image.Transpose.FLIP_LEFT_RIGHT: lambda a: a[:, ::-1],
        Image.Transpose.ROTATE_180: lambda a: a[::-1, ::-1],
        Image.Transpose.FLIP_TOP_BOTTOM: lambda a: a[::-1],
        Image.Transpose.TRANSPOSE: lambda a: a.transpose(1, 0, 2),
        Image.Transpose.ROTATE_270: lambda a: np.rot90(a, -1),  # 90° clockwise
        Image.Transpose.TRANSVERSE: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
        Image.Transpose.ROTATE_90: lambda a: np.rot90(a, 1),  # 90° counter-clockwise
    }[op](pixels)
    return np.ascontiguousarray(out)


_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def _to_bgr(im: Image.Image) -> np.ndarray:
    """Current frame -> contiguous BGR uint8; transparency composited on white (product text is dark)."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow's convert("RGB") clips 16-bit grey to 255 (all white): scale to 8 bits ourselves.
        arr = np.asarray(im).astype(np.int64)
        if arr.max(initial=0) > 255:
            arr = arr >> 8
        gray = np.clip(arr, 0, 255).astype(np.uint8)
        return cv2.cvtColor(np.ascontiguousarray(gray), cv2.COLOR_GRAY2BGR)
    if mode in _ALPHA_MODES or (mode in ("P", "L", "RGB") and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
        alpha = rgba[:, :, 3:4]
        rgb = (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
        return cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2BGR)
    rgb = im if mode == "RGB" else im.convert("RGB")
    return cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)
