"""ocr.decode: every accepted format and mode, animation handling, caps, and every bad-input class."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image, ImageDraw, features

from fixtures import badfiles
from ocr import animation
from ocr.decode import DecodeError, DecodeLimits, decode_image, sniff_format

RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 200, 30), (20, 40, 230), (255, 255, 255)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def bgr(rgb: tuple[int, int, int]) -> list[int]:
    return [rgb[2], rgb[1], rgb[0]]


def near(pixel: np.ndarray, rgb: tuple[int, int, int], tol: int = 12) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(bgr(rgb))) <= tol))


def split_image(w: int = 40, h: int = 20) -> Image.Image:
    """Left half red, right half blue: orientation and channel order are both visible."""
    im = Image.new("RGB", (w, h), RED)
    ImageDraw.Draw(im).rectangle([w // 2, 0, w - 1, h - 1], fill=BLUE)
    return im


# --- formats -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt,name,tol",
    [
        ("PNG", "png", 0),
        ("JPEG", "jpeg", 12),
        ("GIF", "gif", 0),
        ("WEBP", "webp", 12),
        ("BMP", "bmp", 0),
        ("AVIF", "avif", 16),
    ],
)
def test_formats_decode_to_bgr(fmt: str, name: str, tol: int) -> None:
    if fmt == "AVIF" and not features.check("avif"):
        pytest.skip("this Pillow build has no AVIF codec")
    data = encode(split_image(), fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP", "AVIF") else {}))
    assert sniff_format(data) == name
    frames = decode_image(data)
    assert len(frames) == 1
    f = frames[0]
    px = f.pixels
    assert px.dtype == np.uint8 and px.shape == (20, 40, 3) and px.flags["C_CONTIGUOUS"]
    assert near(px[10, 5], RED, tol) and near(px[10, 35], BLUE, tol)  # BGR order, not RGB
    assert f.index == 0
    assert f.meta["format"] == name and f.meta["width"] == 40 and f.meta["height"] == 20
    assert f.meta["frames_total"] == 1


def test_sniff_refuses_non_images() -> None:
    for data in (b"", badfiles.HTML_PAGE, badfiles.PDF_DOC, badfiles.SVG_DOC, b"II*\x00" + bytes(20), b"BM"):
        assert sniff_format(data) is None


def test_png_alpha_composited_on_white() -> None:
    im = Image.new("RGBA", (20, 10), (0, 0, 0, 0))  # fully transparent black
    ImageDraw.Draw(im).rectangle([0, 0, 9, 9], fill=(0, 0, 0, 255))  # opaque black text-like block
    im.putpixel((15, 5), (0, 0, 0, 128))  # half-transparent black -> mid grey
    px = decode_image(encode(im, "PNG"))[0].pixels
    assert px[5, 2].tolist() == [0, 0, 0]
    assert px[5, 18].tolist() == [255, 255, 255]  # transparent must be white, not black
    assert 120 <= px[5, 15][0] <= 135


def test_grey_alpha_and_palette_transparency_on_white() -> None:
    la = Image.new("LA", (8, 8), (0, 0))
    assert decode_image(encode(la, "PNG"))[0].pixels[0, 0].tolist() == [255, 255, 255]
    p = Image.new("P", (8, 8), 1)
    p.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    p.putpixel((0, 0), 0)
    px = decode_image(encode(p, "PNG", transparency=1))[0].pixels
    assert px[4, 4].tolist() == [255, 255, 255] and px[0, 0].tolist() == [0, 0, 0]


def test_palette_png() -> None:
    px = decode_image(encode(split_image().convert("P", palette=Image.Palette.ADAPTIVE), "PNG"))[0].pixels
    assert near(px[10, 5], RED, 0) and near(px[10, 35], BLUE, 0)


def test_16bit_grey_png_is_scaled_not_clipped() -> None:
    ramp = (np.arange(64, dtype=np.uint16) * 1024).reshape(1, 64).repeat(4, axis=0)
    im = Image.fromarray(ramp)
    assert im.mode.startswith("I;16")
    px = decode_image(encode(im, "PNG"))[0].pixels
    assert px[0, 0].tolist() == [0, 0, 0]
    assert px[0, 32].tolist() == [128, 128, 128]  # 32768 >> 8; Pillow's convert would say 255
    assert px[0, 63].tolist() == [252, 252, 252]


def test_16bit_rgb_png() -> None:
    # Pillow can't write 48-bit PNG; cv2 can. Pixel (0,0) pure blue at 16 bits.
    arr = np.zeros((4, 4, 3), np.uint16)
    arr[..., 0] = 65535  # BGR: blue
    import cv2

    ok, enc = cv2.imencode(".png", arr)
    assert ok
    px = decode_image(enc.tobytes())[0].pixels
    assert px[0, 0].tolist() == [255, 0, 0]


def test_grayscale_and_1bit() -> None:
    for mode, value in (("L", 77), ("1", 1)):
        px = decode_image(encode(Image.new(mode, (6, 6), value), "PNG"))[0].pixels
        assert px.shape == (6, 6, 3)
        assert px[0, 0].tolist() == ([77] * 3 if mode == "L" else [255] * 3)


def test_cmyk_jpeg_becomes_bgr() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    data = encode(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    assert near(decode_image(data)[0].pixels[8, 8], (255, 0, 0), 20)


def test_exif_orientation_6_is_rotated_clockwise() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(split_image(40, 20), "JPEG", quality=95, exif=exif)
    f = decode_image(data)[0]
    assert f.pixels.shape == (40, 20, 3)  # portrait now
    assert near(f.pixels[5, 10], RED) and near(f.pixels[35, 10], BLUE)  # left half went to the top
    assert f.meta["width"] == 20 and f.meta["height"] == 40 and f.meta["exif_orientation"] == 6


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 7, 8])
def test_every_exif_orientation_matches_pillow(orientation: int) -> None:
    from PIL import ImageOps

    im = Image.new("RGB", (6, 4))
    im.putdata([(i * 10, 255 - i * 10, i) for i in range(24)])
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(im, "PNG", exif=exif)
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))[:, :, ::-1]
    assert np.array_equal(decode_image(data)[0].pixels, want)


# --- animation ------------------------------------------------------------------------------------------


def animated(colors: list[tuple[int, int, int]], fmt: str = "GIF") -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in colors]
    return encode(
        frames[0],
        fmt,
        save_all=True,
        append_images=frames[1:],
        duration=100,
        loop=0,
        **({"lossless": True} if fmt == "WEBP" else {}),
    )


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animation_every_frame_with_original_index(fmt: str) -> None:
    frames = decode_image(animated([RED, GREEN, BLUE], fmt))
    assert [f.index for f in frames] == [0, 1, 2]
    for f, c in zip(frames, (RED, GREEN, BLUE), strict=True):
        assert near(f.pixels[16, 16], c, 0)
    assert all(f.meta["frames_total"] == 3 for f in frames)


def test_identical_frames_dropped_keeping_original_indices() -> None:
    # GIF writers merge identical consecutive frames, so make them differ only in duration-irrelevant ways:
    # decode a GIF whose frames 1 and 2 are pixel-identical to frame 0 once composited.
    base = Image.new("RGB", (32, 32), RED)
    same = base.copy()
    other = Image.new("RGB", (32, 32), BLUE)
    data = encode(
        base,
        "GIF",
        save_all=True,
        append_images=[same, same, other, other],
        duration=[100, 200, 300, 400, 500],
        loop=0,
    )
    total = Image.open(io.BytesIO(data)).n_frames
    frames = decode_image(data)
    assert len(frames) == 2
    assert frames[0].index == 0 and frames[1].index > 0
    assert near(frames[1].pixels[0, 0], BLUE, 0)
    assert frames[0].meta["frames_total"] == total


def test_gif_partial_frames_are_composited() -> None:
    """Frame 1 only stores a small changed rectangle; the decoded frame must show the full picture."""
    f0 = Image.new("RGB", (40, 40), RED)
    f1 = f0.copy()
    ImageDraw.Draw(f1).rectangle([30, 30, 35, 35], fill=BLUE)
    data = encode(f0, "GIF", save_all=True, append_images=[f1], duration=100, disposal=1)
    im = Image.open(io.BytesIO(data))
    im.seek(1)
    assert im.tile[0][1][:2] != (0, 0) or im.tile[0][1][2:] != (40, 40)  # really a sub-rectangle
    frames = decode_image(data)
    assert len(frames) == 2
    px = frames[1].pixels
    assert near(px[5, 5], RED, 0) and near(px[32, 32], BLUE, 0)


def slide_colour(i: int) -> tuple[int, int, int]:
    return (40 + i * 9 % 200, 200 - i * 7 % 150, 90)


def slideshow(n: int, marked: int, durations: list[int], fmt: str = "GIF", size: int = 64) -> bytes:
    """`n` different frames (each its own colour and band), frame `marked` alone with a black bar (the
    contact), `durations` in ms."""
    frames = []
    for i in range(n):
        im = Image.new("RGB", (size, size), slide_colour(i))
        ImageDraw.Draw(im).rectangle([0, i * 3 % size, size - 1, i * 3 % size + 2], fill=WHITE)
        if i == marked:
            ImageDraw.Draw(im).rectangle([8, size // 2, size - 8, size // 2 + 4], fill=(0, 0, 0))
        frames.append(im)
    extra = {"lossless": True} if fmt == "WEBP" else {}
    return encode(
        frames[0], fmt, save_all=True, append_images=frames[1:], duration=durations, loop=0, **extra
    )


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_a_frame_shown_long_is_read_wherever_it_sits(fmt: str) -> None:
    """Issue #23: 8 of 10 frames sampled by index never read frames 2 and 7; a contact shown 5 s in
    frame 2 scanned clean. Chosen by display time, the long frame is read in every scan."""
    for marked in (2, 7):
        data = slideshow(10, marked, [500] * marked + [5000] + [500] * (9 - marked), fmt)
        for _ in range(5):
            frames = decode_image(data)
            assert marked in [f.index for f in frames], fmt
            assert len(frames) == 8 and frames[0].index == 0
            for f in frames:  # frames read in the second pass (seeking back) are the right ones
                assert near(f.pixels[63, 0], slide_colour(f.index), 6), (fmt, f.index)
            meta = frames[0].meta
            assert meta["frames_total"] == 10 and meta["frames_unread"] == 2
            assert "10 different pictures, 8 read (2 of them drawn at random): 2 not read" in meta["note"]
            assert "QQSCAN_MAX_FRAMES=8" in meta["note"]


def slideshow_of(pictures: list[int], durations: list[int]) -> bytes:
    """A GIF showing picture number p for each p in `pictures`."""
    ims = {p: Image.new("RGB", (32, 32), (30 + 60 * p, 200 - 50 * p, 90)) for p in set(pictures)}
    seq = [ims[p] for p in pictures]
    return encode(seq[0], "GIF", save_all=True, append_images=seq[1:], duration=durations, loop=0)


def test_a_short_frame_among_repeated_ones_is_read() -> None:
    """A contact shown 0.3 s among 20 frames that flicker between two pictures: three different pictures,
    so all three are read, however short the contact frame."""
    frames = decode_image(slideshow_of([0, 1] * 10 + [2], [500] * 20 + [300]))
    assert [f.index for f in frames] == [0, 1, 20]
    assert frames[0].meta["frames_identical_dropped"] == 18 and "frames_unread" not in frames[0].meta


def _shown(ms: list[float], sketches: list[float] | None = None) -> list[animation.Shown]:
    """Stepped frames with distinct digests and sketches 0, 1, 2, ... (or `sketches`)."""
    sketches = sketches or [float(i) for i in range(len(ms))]
    return [
        animation.Shown(i, m, bytes([i]), np.full(4, v, dtype=np.float32))
        for i, (m, v) in enumerate(zip(ms, sketches, strict=True))
    ]


def test_more_long_frames_than_the_budget_leave_no_predictable_gap() -> None:
    """The attacker's next move: 12 different 1 s frames and the contact in a 0.5 s one. The budget holds
    (8): frame 0 and the 5 most different long frames by rule, 2 drawn from the 7 left, so every frame the
    rule leaves out is read in some scans, and no file can know which."""
    shown = _shown([1000.0] * 12 + [500.0])
    drawn_ever: set[int] = set()
    rule_sets = set()
    for seed in range(300):
        choice = animation.choose(shown, 8, random.Random(seed))
        assert len(choice.indices) == 8 and choice.indices[0] == 0 and len(choice.by_chance) == 2
        rule_sets.add(tuple(sorted(set(choice.indices) - set(choice.by_chance))))
        drawn_ever.update(choice.by_chance)
    (by_rule,) = rule_sets  # the rule's part is the same every time: frame 0, then the most different
    assert by_rule == (0, 1, 2, 5, 8, 11)  # long ones spread over the sketch values 1..11
    assert drawn_ever == set(range(13)) - set(by_rule)  # the 0.5 s frame 12 among them


def test_the_rule_takes_long_frames_then_the_most_different() -> None:
    # 20 pictures, 3 of them shown long (4, 9, 15); budget 8 -> the rule picks 6: frame 0, the long ones,
    # then by difference from those (sketch values 0..19: 19 is farthest, then 12 between 9 and 15).
    ms = [100.0] * 20
    for i in (4, 9, 15):
        ms[i] = 2000.0
    choice = animation.choose(_shown(ms), 8, random.Random(1))
    assert sorted(set(choice.indices) - set(choice.by_chance)) == [0, 4, 9, 12, 15, 19]


def test_exact_repeats_sum_their_display_time() -> None:
    # Picture 1 shown 400 ms three times (1.2 s in all) among 10 other short pictures: it counts as long.
    pictures = [0, 1, 2, 3, 1, 4, 5, 1, 6, 7, 8, 9, 10]
    shown = [
        animation.Shown(i, 400.0, bytes([p]), np.full(4, float(p), dtype=np.float32))
        for i, p in enumerate(pictures)
    ]
    choice = animation.choose(shown, 4, random.Random(0))
    assert choice.distinct == 11 and choice.unread == 7
    assert 1 in set(choice.indices) - set(choice.by_chance)


def test_the_last_frame_of_an_animation_that_stops_is_shown_forever() -> None:
    frames = [Image.new("RGB", (32, 32), (20 * i, 100, 200 - 10 * i)) for i in range(12)]
    once = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)  # no loop block
    for _ in range(5):
        assert 11 in [f.index for f in decode_image(once, DecodeLimits(max_frames=4))]


def test_large_animation_keeps_fewer_frames() -> None:
    """Kept frames are held together in memory: frames of 0.4 x max_pixels -> 5 fit the 2x budget."""
    colors = [(i * 12, 255 - i * 12, (i * 37) % 256) for i in range(20)]
    frames = decode_image(animated(colors), DecodeLimits(max_pixels=2560, max_frames=8))  # 32x32 = 1024
    assert len(frames) == 5 and frames[0].index == 0
    assert "only 5 frames of 0.001024 MPix fit in 2x QQSCAN_MAX_PIXELS" in frames[0].meta["note"]
    for f in frames:
        assert near(f.pixels[0, 0], colors[f.index], 6)  # GIF palette quantisation


def test_stepping_through_frames_is_bounded_by_pixels() -> None:
    colors = [(i * 3, 255 - i * 3, (i * 37) % 256) for i in range(80)]
    # 32x32 frames at max_pixels=1024: 16 x max_pixels are 16 frames; the 17th is refused
    with pytest.raises(DecodeError, match=r"animated GIF too large to step through: 17 frames of 32x32"):
        decode_image(animated(colors), DecodeLimits(max_pixels=1024, max_frames=8))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_an_animation_over_the_frame_cap_is_an_error_not_a_partial_read(fmt: str) -> None:
    # WebP and APNG declare their frame count and are refused before stepping; GIF at frame 11.
    data = slideshow(11, 0, [100] * 11, fmt)
    with pytest.raises(DecodeError, match=rf"animated {fmt} has more than 10 frames"):
        decode_image(data, DecodeLimits(max_animation_frames=10))
    assert len(decode_image(data, DecodeLimits(max_animation_frames=11))) == 8


def test_a_frame_bomb_is_refused_at_the_frame_cap() -> None:
    """Issue #23: 2.7 M frames of 1x1 in 40 MB took 86 s to decode (the stepping budget counted pixels)."""
    bomb = badfiles.gif_frame_bomb()
    assert len(bomb) < 40 * 1024 * 1024
    with pytest.raises(DecodeError, match=r"animated GIF has more than 1000 frames \(QQSCAN_MAX_ANIM"):
        decode_image(bomb)
    frames = decode_image(badfiles.gif_frame_bomb(1000))  # at the cap: read
    assert frames[0].meta["frames_total"] == 1000 and [f.index for f in frames] == [0]


# --- limits ---------------------------------------------------------------------------------------------


def test_limits_from_settings() -> None:
    from ground.settings import Settings

    env = {"QQSCAN_MAX_BYTES": "1000", "QQSCAN_MAX_PIXELS": "5_000", "QQSCAN_MAX_FRAMES": "2"}
    env["QQSCAN_MAX_ANIMATION_FRAMES"] = "30"
    lim = DecodeLimits.from_settings(Settings.load(env))
    assert lim == DecodeLimits(max_bytes=1000, max_pixels=5000, max_frames=2, max_animation_frames=30)
    assert DecodeLimits.from_settings(Settings.load({})) == DecodeLimits()
    assert DecodeLimits().max_bytes == 40 * 1024 * 1024
    with pytest.raises(ValueError, match="QQSCAN_MAX_FRAMES"):
        DecodeLimits.from_settings(Settings.load({"QQSCAN_MAX_FRAMES": "many"}))


def test_byte_cap_checked_first() -> None:
    data = encode(Image.new("RGB", (64, 64)), "PNG")
    with pytest.raises(DecodeError, match=r"over the .* MiB cap \(QQSCAN_MAX_BYTES\)"):
        decode_image(data, DecodeLimits(max_bytes=len(data) - 1))
    # checked before sniffing: even garbage over the cap is reported as too big
    with pytest.raises(DecodeError, match="QQSCAN_MAX_BYTES"):
        decode_image(b"x" * 100, DecodeLimits(max_bytes=10))


def test_pixel_cap_from_header() -> None:
    data = encode(Image.new("RGB", (300, 200)), "PNG")
    with pytest.raises(DecodeError, match=r"image is 300x200 = 0 MPix, over the 0.05 MPix cap"):
        decode_image(data, DecodeLimits(max_pixels=50_000))
    assert decode_image(data, DecodeLimits(max_pixels=60_000))


@pytest.mark.parametrize(
    "data,dims",
    [
        (badfiles.png_bomb(), "50000x50000"),
        (badfiles.gif_bomb(), "65535x65535"),
        (badfiles.jpeg_header_bomb(), "65000x65000"),
    ],
)
def test_bombs_refused_by_our_cap(data: bytes, dims: str) -> None:
    cap = r"over the 60 MPix cap \(QQSCAN_MAX_PIXELS\)"
    with pytest.raises(DecodeError, match=rf"image is {dims} = \d+ MPix, {cap}"):
        decode_image(data, DecodeLimits())


def test_bomb_in_a_later_gif_frame() -> None:
    """Logical screen 10x10, 2nd frame descriptor 5000x5000 (25 MPix): caught when seeking, before load."""
    colors = [Image.new("RGB", (10, 10), c) for c in (RED, GREEN, BLUE)]
    small = encode(colors[0], "GIF", save_all=True, append_images=colors[1:], duration=100)
    assert decode_image(small)
    grown = badfiles.gif_growing_frame(small, 5000, 5000)
    with pytest.raises(DecodeError, match=r"image is 5000x5000 = 25 MPix, over the 1 MPix cap"):
        decode_image(grown, DecodeLimits(max_pixels=1_000_000))
    # Past Pillow's own hard limit its DecompressionBombError fires while counting frames: same message.
    huge = badfiles.gif_growing_frame(small, 30000, 30000)
    with pytest.raises(DecodeError, match=r"is 900 MPix, over the 60 MPix cap \(QQSCAN_MAX_PIXELS\)"):
        decode_image(huge, DecodeLimits())


def test_our_cap_governs_not_pillows() -> None:
    """A 225 MPix header is over Pillow's own hard bomb limit (~179 MPix); with our cap raised it gets past
    the header check (and then fails as the scan-less file it is), so QQSCAN_MAX_PIXELS is the one policy."""
    bomb = badfiles.jpeg_header_bomb(15_000, 15_000)
    with pytest.raises(DecodeError) as err:
        decode_image(bomb, DecodeLimits(max_pixels=300_000_000))
    assert "MPix" not in str(err.value) and "bomb" not in str(err.value)
    assert str(err.value).startswith("corrupt JPEG")


def test_bomb_refused_without_allocating() -> None:
    """In a child with the address space capped ~1 GiB above its baseline, a 50000x50000 bomb (2.5 GB as
    1-bit, 7.5 GB as BGR) must still give the cap message, not a MemoryError-derived one."""
    code = textwrap.dedent(
        """
        import resource
        from fixtures import badfiles
        from ocr.decode import DecodeError, DecodeLimits, decode_image
        vm = int([l for l in open('/proc/self/status') if l.startswith('VmSize')][0].split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, vm + 2**30))
        try:
            decode_image(badfiles.png_bomb(), DecodeLimits())
        except DecodeError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "over the 60 MPix cap" in out.stdout, out.stderr[-2000:]


# --- bad inputs -----------------------------------------------------------------------------------------


def good_png() -> bytes:
    im = Image.effect_noise((64, 64), 40).convert("RGB")  # noise: IDAT big enough to damage mid-stream
    return encode(im, "PNG")


def good_jpeg() -> bytes:
    return encode(Image.effect_noise((64, 64), 40).convert("RGB"), "JPEG", quality=90)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty file"),
        (badfiles.HTML_PAGE, "not an image: looks like HTML"),
        (b"\xef\xbb\xbf  <html><body>hi</body></html>", "looks like HTML"),
        (badfiles.SVG_DOC, "SVG"),
        (badfiles.PDF_DOC, "PDF"),
        (b"II*\x00" + bytes(64), "TIFF"),
        (b"\x00\x00\x00\x1cftypheic" + bytes(40), "HEIC"),
        (b"PK\x03\x04" + bytes(40), "ZIP"),
        (b"just some words, no picture here\n", "plain text"),
        (bytes(range(1, 64)) * 4, "unrecognised bytes"),
        (b"BM" + bytes(4), "BMP"),
        (b"\xff\xd8\xff", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "truncated PNG"),
        (b"GIF89a\x10\x00\x10\x00\x00\x00\x00", "GIF"),
        (b"RIFF\x40\x00\x00\x00WEBPVP8 ", "truncated WEBP"),
    ],
)
def test_bad_inputs_have_clear_messages(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_image(data)


def test_truncated_jpeg() -> None:
    data = good_jpeg()
    with pytest.raises(DecodeError, match=r"truncated JPEG: the file ends early"):
        decode_image(data[: len(data) // 2])


def test_truncated_png() -> None:
    data = good_png()
    with pytest.raises(DecodeError, match="truncated PNG"):
        decode_image(data[: len(data) // 2])


def test_truncated_gif_and_webp() -> None:
    colors = [(i * 40, 100, 200 - i * 40) for i in range(5)]
    for fmt in ("GIF", "WEBP"):
        data = animated(colors, fmt)
        with pytest.raises(DecodeError, match=f"(truncated|corrupt) {fmt}"):
            decode_image(data[: len(data) * 2 // 3])


def test_png_bad_crc() -> None:
    with pytest.raises(DecodeError, match="corrupt PNG: chunk IDAT fails its CRC check"):
        decode_image(badfiles.corrupt_png_crc(good_png()))


def test_png_corrupt_idat_with_valid_crc() -> None:
    """Damage the compressed data and fix up the CRC: zlib must catch it, still as a DecodeError."""
    data = good_png()
    at = data.index(b"IDAT") + 4
    length = int.from_bytes(data[at - 8 : at - 4], "big")
    payload = bytearray(data[at : at + length])
    payload[2:40] = bytes(38)  # wipe the start of the deflate stream
    fixed = data[: at - 8] + badfiles.png_chunk(b"IDAT", bytes(payload)) + data[at + length + 4 :]
    with pytest.raises(DecodeError, match="corrupt PNG|truncated PNG"):
        decode_image(fixed)


def test_corrupt_jpeg_body() -> None:
    data = bytearray(good_jpeg())
    sos = data.index(b"\xff\xda")
    data[sos + 2 : sos + 4] = b"\xff\xff"  # absurd SOS length
    with pytest.raises(DecodeError, match="JPEG"):
        decode_image(bytes(data))


def test_random_garbage_never_escapes_as_raw_exception() -> None:
    """Mutate valid files at random offsets: decode either works or raises DecodeError, nothing else."""
    rng = np.random.default_rng(7)
    sources = [
        good_png(),
        good_jpeg(),
        animated([RED, GREEN, BLUE]),
        animated([RED, BLUE], "WEBP"),
        encode(split_image(), "BMP"),
    ]
    for src in sources:
        for _ in range(40):
            data = bytearray(src)
            for pos in rng.integers(0, len(data), size=int(rng.integers(1, 6))):
                data[pos] = int(rng.integers(0, 256))
            if rng.random() < 0.3:
                data = data[: int(rng.integers(1, len(data)))]
            try:
                frames = decode_image(bytes(data), DecodeLimits(max_pixels=4_000_000))
            except DecodeError:
                continue
            assert frames and all(f.pixels.dtype == np.uint8 and f.pixels.ndim == 3 for f in frames)


# --- through the scanner (real OCR) ---------------------------------------------------------------------


def test_contact_only_in_frame_2_of_10_is_found_with_its_number(engine) -> None:
    """Issue #23's case end to end: a 10-frame slideshow GIF, the contact only in frame 2 (shown 5 s),
    every other frame a different product picture. Sampling 8 by index never read frame 2."""
    from fixtures.generate import animation as slideshow_frames
    from jobs.pipeline import scan_bytes

    frames, _ = slideshow_frames(random.Random("issue-23"), 10, 2, "QQ：391287654")
    durations = [800, 800, 5000] + [800] * 7
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    result = scan_bytes(data, "slideshow.gif", engine=engine)
    assert result.error is None and result.flagged
    assert [(f.type, f.value, f.frame) for f in result.live_findings] == [("qq", "391287654", 2)]
