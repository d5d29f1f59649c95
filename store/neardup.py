"""Near-duplicate images: perceptual hashes stored with each image (ocr/phash.py makes them at scan time),
an index that finds every stored image within a Hamming distance, and the groups they form.

Index: multi-index hashing. A 256-bit hash is 16 bands of 16 bits, each an indexed integer column of
image_hashes. Two hashes at most `d` bits apart differ by at most d // 16 bits in at least one band
(pigeonhole: 16 bands each off by more would make 16 * (d // 16 + 1) > d bits), so the candidates are the
rows whose band i is within r = d // 16 bits of the query's band i for some i: r = 1 at d = 31, 17 values a
band, 272 index probes in one SQL statement (the same on SQLite and PostgreSQL), then the exact distance
in Python. Nothing within `d` is missed; at 1,000,000 random hashes about 4,000 rows are candidates
(16 * 17 / 65,536 of them). benchmarks/bench_neardup.py measures it; docs/near-duplicates.md has the
numbers and how it grows past 10^7.

Groups: when an image's hashes are first stored (Store.save_scan, same transaction) it joins the group of
the nearest image stored before it within DISTANCE, or starts its own; a near-duplicate rejected
("violation") at that moment makes it a re-upload of that image. Groups are not merged later: an image that
would bridge two groups joins the nearer one. Two workers storing near-duplicates at the same instant on
PostgreSQL may not see each other and start two groups; `near()` at read time still finds both.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

from sqlalchemy import Connection, or_, select

from store.database import Database, OverDatabase
from store.models import HASH_BANDS, Image, ImageGroup, ImageHash, utcnow

DISTANCE = 31  # bits of 256: PDQ's usual match threshold, measured here too (docs/near-duplicates.md)
MIN_QUALITY = 50  # PDQ's authors' floor: flatter images hash to bits that match unrelated flat images
BAND_BITS = 16
BAND_COLUMNS = tuple(f"b{i:02d}" for i in range(HASH_BANDS))

Hashes = Sequence[Mapping[str, Any]]  # [{"hash": 64 hex digits, "quality": 0..100}, ...], variant = index


def bands(hex_hash: str) -> list[int]:
    """The 16 bands of a 64-hex-digit hash, 4 hex digits each, first digits first."""
    if len(hex_hash) != HASH_BANDS * BAND_BITS // 4:
        raise ValueError(f"a hash is {HASH_BANDS * BAND_BITS // 4} hex digits, not {len(hex_hash)}")
    return [int(hex_hash[i : i + 4], 16) for i in range(0, len(hex_hash), 4)]


def band_radius(distance: int) -> int:
    """Bits a band may differ by so that no hash within `distance` is missed (pigeonhole over 16 bands)."""
    return distance // HASH_BANDS


@functools.cache
def _flips(radius: int) -> tuple[int, ...]:
    """Every 16-bit mask with at most `radius` bits set."""
    return tuple(
        sum(1 << b for b in bits) for n in range(radius + 1) for bits in combinations(range(BAND_BITS), n)
    )


def near_values(value: int, radius: int) -> list[int]:
    """The band values within `radius` bits of `value`."""
    return [value ^ m for m in _flips(radius)]


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def hash_row(sha256: str, variant: int, hex_hash: str, quality: int) -> dict[str, Any]:
    """One image_hashes row (also the benchmark's bulk-load row)."""
    return {
        "image_sha256": sha256,
        "variant": variant,
        "hash": hex_hash,
        "quality": int(quality),
        **dict(zip(BAND_COLUMNS, bands(hex_hash), strict=True)),
    }


def usable(hashes: Hashes) -> list[str]:
    """The hashes good enough to match on (quality at least MIN_QUALITY)."""
    return [str(h["hash"]) for h in hashes if int(h.get("quality") or 0) >= MIN_QUALITY]


def candidates_query(queries: Iterable[str], distance: int = DISTANCE) -> Any:
    """SELECT image_sha256, hash of the rows sharing a band (within the band radius) with any query."""
    radius = band_radius(distance)
    per_band: list[set[int]] = [set() for _ in range(HASH_BANDS)]
    for q in queries:
        for i, value in enumerate(bands(q)):
            per_band[i].update(near_values(value, radius))
    t = ImageHash.__table__.c
    probe = or_(*(t[col].in_(sorted(vals)) for col, vals in zip(BAND_COLUMNS, per_band, strict=True)))
    return select(t.image_sha256, t.hash).where(probe, t.quality >= MIN_QUALITY)


def find(
    conn: Connection, queries: Sequence[str], *, distance: int = DISTANCE, exclude: str | None = None
) -> dict[str, int]:
    """Every stored image with a hash within `distance` bits of any of `queries`: sha256 -> fewest bits."""
    if not queries:
        return {}
    q_ints = [int(q, 16) for q in queries]
    q = candidates_query(queries, distance)
    if exclude is not None:
        q = q.where(ImageHash.__table__.c.image_sha256 != exclude)
    out: dict[str, int] = {}
    for sha, hex_hash in conn.execute(q):
        value = int(hex_hash, 16)
        d = min((value ^ qi).bit_count() for qi in q_ints)
        if d <= distance and d < out.get(sha, distance + 1):
            out[sha] = d
    return out


def link(db: Database, conn: Connection, sha256: str, hashes: Hashes, *, distance: int = DISTANCE) -> None:
    """Store an image's hashes and, the first time, its group (see the module's docstring), inside the
    caller's transaction. Idempotent: a rescan keeps the hashes and the group it had."""
    if not hashes:
        return
    rows = [hash_row(sha256, i, str(h["hash"]), int(h.get("quality") or 0)) for i, h in enumerate(hashes)]
    conn.execute(
        db.insert(ImageHash).values(rows).on_conflict_do_nothing(index_elements=["image_sha256", "variant"])
    )
    if conn.execute(select(ImageGroup.image_sha256).where(ImageGroup.image_sha256 == sha256)).first():
        return
    matches = find(conn, usable(hashes), distance=distance, exclude=sha256)
    group, nearest, reupload = sha256, None, None
    if matches:
        facts = conn.execute(
            select(Image.sha256, Image.review_status, Image.first_seen, ImageGroup.group_sha256)
            .join(ImageGroup, ImageGroup.image_sha256 == Image.sha256, isouter=True)
            .where(Image.sha256.in_(list(matches)))
        ).all()
        by_closeness = sorted(facts, key=lambda r: (matches[r.sha256], r.first_seen, r.sha256))
        best = by_closeness[0]
        nearest, group = best.sha256, best.group_sha256 or best.sha256
        reupload = next((r.sha256 for r in by_closeness if r.review_status == "violation"), None)
    conn.execute(
        db.insert(ImageGroup)
        .values(
            image_sha256=sha256,
            group_sha256=group,
            nearest_sha256=nearest,
            distance=matches.get(nearest) if nearest else None,
            reupload_of=reupload,
            linked_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["image_sha256"])
    )


class NearDups(OverDatabase):
    """The review side's reads of near-duplicates, and a decision applied to a group."""

    def near(self, sha256: str, *, distance: int = DISTANCE) -> list[dict[str, Any]]:
        """The stored images within `distance` of this one (any of its hashes against any of theirs),
        nearest first: sha256, distance, review_status, width, height, first_seen."""
        with self.db.read() as conn:
            mine = conn.execute(
                select(ImageHash.hash, ImageHash.quality).where(ImageHash.image_sha256 == sha256)
            ).all()
            matches = find(conn, usable([r._mapping for r in mine]), distance=distance, exclude=sha256)
            if not matches:
                return []
            rows = conn.execute(
                select(Image.sha256, Image.review_status, Image.width, Image.height, Image.first_seen).where(
                    Image.sha256.in_(list(matches))
                )
            ).all()
        out = [{**r._mapping, "distance": matches[r.sha256]} for r in rows]
        return sorted(out, key=lambda r: (r["distance"], r["first_seen"], r["sha256"]))

    def group_of(self, sha256: str) -> dict[str, Any] | None:
        """This image's group row (group_sha256, nearest_sha256, distance, reupload_of) and its members
        (sha256 -> review status, oldest first), or None for an image stored without hashes."""
        with self.db.read() as conn:
            row = conn.execute(select(ImageGroup).where(ImageGroup.image_sha256 == sha256)).first()
            if row is None:
                return None
            members = conn.execute(
                select(Image.sha256, Image.review_status)
                .join(ImageGroup, ImageGroup.image_sha256 == Image.sha256)
                .where(ImageGroup.group_sha256 == row.group_sha256)
                .order_by(Image.first_seen, Image.sha256)
            ).all()
        keys = ("group_sha256", "nearest_sha256", "distance", "reupload_of")
        return {**{k: getattr(row, k) for k in keys}, "members": {m.sha256: m.review_status for m in members}}

    def pending_in_group(self, sha256: str) -> list[str]:
        """The images of this image's group (itself included) still waiting for a decision."""
        group = self.group_of(sha256)
        if group is None:
            return []
        return [sha for sha, status in group["members"].items() if status == "pending"]
