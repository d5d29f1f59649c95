"""Migration 0007 on real SQLite and PostgreSQL: contacts backfilled from the scans stored before it (one
contact per canonical value, its images, shops and live state from each image's newest scan), and back
down again."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, inspect, text

from store.database import _alembic_config
from store.results import Store

SHA_A, SHA_B = "a" * 64, "b" * 64


def finding(kind: str, value: str | None, **extra: object) -> dict[str, object]:
    return {"type": kind, "value": value, "text": str(value), "confidence": 0.9, "rule": f"{kind}.x", **extra}


def test_0007_backfills_contacts_from_stored_scans_and_goes_down_again(db_url):
    from alembic import command

    engine = create_engine(db_url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        scans = [
            (
                SHA_A,
                "r1",
                [finding("qq", "391 287 654"), finding("phone", "+86 138-1234-5678")],
                "2026-11-01",
            ),
            # B: the same QQ (other spelling) and a WeChat id in capitals; its newer scan allow-lists it
            (SHA_B, "r1", [finding("qq", "391287654"), finding("wechat", "Shop_Ab")], "2026-11-02"),
            (
                SHA_B,
                "r2",
                [finding("qq", "391287654", allowed_by=4), finding("solicitation", None)],
                "2026-11-03",
            ),
        ]
        for sha in (SHA_A, SHA_B):
            conn.execute(
                text(
                    "INSERT INTO images (sha256, first_seen, review_status) "
                    "VALUES (:s, '2026-11-01', 'pending')"
                ),
                {"s": sha},
            )
        for sha, rules, found, day in scans:
            conn.execute(
                text(
                    "INSERT INTO scans (image_sha256, rules_version, lines, findings, flagged, created_at) "
                    "VALUES (:s, :r, '[]', :f, :fl, :d)"
                ),
                {"s": sha, "r": rules, "f": json.dumps(found), "fl": True, "d": day + " 00:00:00"},
            )
        for i, (sha, shop) in enumerate([(SHA_A, "s1"), (SHA_A, "s2"), (SHA_B, "s3"), (SHA_B, None)]):
            conn.execute(
                text(
                    "INSERT INTO sources (url_sha256, url, image_sha256, shop_id, first_seen, last_seen) "
                    "VALUES (:k, :u, :s, :shop, '2026-11-01', '2026-11-05')"
                ),
                {"k": f"{i:064d}", "u": f"https://e.com/{i}.jpg", "s": sha, "shop": shop},
            )
    store = Store(db_url)
    assert store.db.migrated
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT type, value, images, shops FROM contacts ORDER BY type, value")
        ).all()
        links = conn.execute(
            text(
                "SELECT c.value, i.image_sha256, i.live FROM contact_images i JOIN contacts c "
                "ON c.id = i.contact_id ORDER BY c.value, i.image_sha256"
            )
        ).all()
        shops = conn.execute(
            text("SELECT c.value, s.shop_id FROM contact_shops s JOIN contacts c ON c.id = s.contact_id")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("phone", "13812345678", 1, 2),
        ("qq", "391287654", 2, 3),
        ("wechat", "shop_ab", 1, 1),
    ]
    assert [(v, s[0], bool(live)) for v, s, live in links] == [
        ("13812345678", "a", True),
        ("391287654", "a", True),
        ("391287654", "b", False),  # B's newest scan allow-lists it: linked, not live
        ("shop_ab", "b", False),  # no longer in B's newest scan
    ]
    assert sorted(s for v, s in shops if v == "391287654") == ["s1", "s2", "s3"]
    store.close()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
        assert "contacts" not in inspect(conn).get_table_names()
        assert "contact_decision_id" not in {c["name"] for c in inspect(conn).get_columns("decisions")}
        command.upgrade(cfg, "head")
    engine.dispose()
