"""The perceptual hash (ocr/phash.py) and the band arithmetic of the near-duplicate index (store/neardup.py),
without a database: PDQ pinned to the reference C++, the frame finder, and the pigeonhole promise that a
band probe of radius d // 16 misses no hash within d bits."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from ocr.phash import area_hash, frame_layers, hamming, neardup_hashes, pdq_hash
from store.neardup import band_radius, bands, hash_row, near_values


def golden_images() -> dict[str, np.ndarray]:
    """Pictures from integer arithmetic only (no libm, no resampler), so their pixels are the same anywhere:
    overlapping discs on integer ramps, in several shapes (wide, tall past 64 x 16 windows, odd, small)."""
    out = {}
    shapes = {"wide": (300, 700, 1), "tall": (2400, 375, 2), "square": (256, 256, 3), "odd": (131, 517, 4)}
    shapes["small"] = (40, 33, 5)
    for name, (h, w, seed) in shapes.items():
        rng = np.random.default_rng(seed)
        y, x = np.mgrid[0:h, 0:w]
        img = np.zeros((h, w, 3), np.int64)
        for c in range(3):
            for _ in range(6):
                cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(5, max(6, min(h, w) // 2))
                img[:, :, c] += np.where((y - cy) ** 2 + (x - cx) ** 2 < r * r, rng.integers(20, 90), 0)
            img[:, :, c] += (x * rng.integers(1, 4) + y * rng.integers(1, 4)) % 97
        out[name] = np.clip(img, 0, 255).astype(np.uint8)
    return out


# Computed by the reference: pdqhash 0.2.8 (Cython over ThreatExchange's pdq/cpp), built from its source
# archive in a scratch virtualenv, pdqhash.compute(RGB) on golden_images(); hex in PDQ's order.
REFERENCE = {
    "wide": ("917795d1d44f17bac405975d970392e292f1bb45916e161a4ebc0b538b73a9e8", 100),
    "tall": ("fc1cd53f5e54fc1ff44e0bf003e1816891e30ad4f023fc0f3a0738d5e42b91e9", 100),
    "square": ("37e07c4a56f9dc41d7abfc0ae944c36be9da03ecc96532a2f9d6aac528a34418", 100),
    "odd": ("29a96dd7de14572b75aa12c48e792dbb7c97d61754283940b2e6cc192999acc6", 100),
    "small": ("1c2ddc3938f0c625239a1e42ed2c2f78e3d2231c8fcfe43f122d5e95202bfd4e", 100),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_pdq_gives_the_reference_implementations_bits(name):
    got = pdq_hash(golden_images()[name])
    want_hex, want_quality = REFERENCE[name]
    assert hamming(got.hex, want_hex) == 0, f"{hamming(got.hex, want_hex)} bits off the reference"
    assert got.quality == want_quality


def test_pdq_of_grey_is_pdq_of_the_same_grey_in_colour():
    grey = golden_images()["odd"][:, :, 1]
    assert pdq_hash(grey) == pdq_hash(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))


def test_a_flat_image_has_low_quality_and_a_tiny_one_the_empty_hash():
    flat = np.full((200, 300, 3), 240, np.uint8)
    assert pdq_hash(flat).quality == 0 and area_hash(flat).quality == 0
    tiny = pdq_hash(np.zeros((4, 40, 3), np.uint8))
    assert tiny.hex == "0" * 64 and tiny.quality == 0


def test_every_hash_has_half_its_bits_set():
    # bits are "above the median" of 256 distinct-ish DCT values: 128 ones
    for img in golden_images().values():
        for h in (pdq_hash(img), area_hash(img)):
            assert int(h.hex, 16).bit_count() == 128


def test_frame_layers_find_an_added_border_of_any_colour():
    img = golden_images()["wide"]
    assert frame_layers(img) == []  # the picture runs to its edges
    for colour in (0, 255, 128):
        framed = cv2.copyMakeBorder(img, 12, 12, 20, 20, cv2.BORDER_CONSTANT, value=(colour,) * 3)
        assert frame_layers(framed) == [(12, 12 + 300, 20, 20 + 700)]
    bar = cv2.copyMakeBorder(img, 12, 0, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    assert frame_layers(bar) == []  # the frame colour is the perimeter's: mostly picture here
    # a black border around a white margin around the picture: two layers, outermost first
    margin = cv2.copyMakeBorder(img, 9, 9, 9, 9, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    both = cv2.copyMakeBorder(margin, 16, 16, 16, 16, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    assert frame_layers(both) == [(16, 16 + 318, 16, 16 + 718), (25, 25 + 300, 25, 25 + 700)]


def test_neardup_hashes_add_the_inside_of_each_frame():
    img = golden_images()["square"]
    framed = cv2.copyMakeBorder(img, 10, 10, 10, 10, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    whole, inside = neardup_hashes(framed)
    assert neardup_hashes(img) == [area_hash(img)]
    assert inside == area_hash(img)  # the frame is cut exactly: the same bits as the unframed picture
    assert hamming(whole.hex, inside.hex) > 31


def test_bands_split_the_hex_in_order_and_rows_carry_them():
    h = "".join(f"{i:04x}" for i in range(16))
    assert bands(h) == list(range(16))
    row = hash_row("s" * 64, 1, h, 77)
    assert row["b00"] == 0 and row["b15"] == 15 and row["variant"] == 1 and row["quality"] == 77
    with pytest.raises(ValueError):
        bands("abc")


def test_near_values_are_every_value_within_the_radius():
    assert near_values(0, 0) == [0]
    one = near_values(0b1010, 1)
    assert len(one) == 17 and len(set(one)) == 17
    assert all((v ^ 0b1010).bit_count() <= 1 for v in one)
    assert len(set(near_values(12345, 2))) == 1 + 16 + 120
    assert [band_radius(d) for d in (0, 15, 16, 31, 32, 47)] == [0, 0, 1, 1, 2, 2]


def test_a_band_probe_misses_no_hash_within_the_distance():
    # Adversarial spreads: d bits flipped as evenly as possible over the 16 bands (the case the pigeonhole
    # bound is tight for), and random ones; each must share a probed value with the original in some band.
    rng = random.Random(7)
    for distance in (15, 16, 31, 32, 40):
        r = band_radius(distance)
        for trial in range(200):
            base = rng.getrandbits(256)
            if trial % 2:
                positions = rng.sample(range(256), distance)
            else:
                per_band = [distance // 16 + (1 if i < distance % 16 else 0) for i in range(16)]
                positions = [b * 16 + k for b, n in enumerate(per_band) for k in rng.sample(range(16), n)]
            other = base
            for p in positions:
                other ^= 1 << p
            a, b = bands(f"{base:064x}"), bands(f"{other:064x}")
            assert any(b[i] in set(near_values(a[i], r)) for i in range(16)), (distance, trial)
