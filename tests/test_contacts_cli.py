"""`qqscan contacts list/show/decide` (and `qqscan review undo` of a contact decision) against a real store
(SQLite and PostgreSQL): one value scanned into images of three shops is one contact with 3 shops."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from qqscan.cli import cli
from store.results import Store
from store.review import ReviewStore
from tests.test_contacts import doc, finding, sha

PW = "correct-horse-battery"


@pytest.fixture
def seeded(db_url: str) -> str:
    with Store(db_url) as s:
        for i, (shop, spelled) in enumerate(
            [("S1", "391287654"), ("S2", "391 287 654"), ("S3", "391-287654")]
        ):
            s.save_scan(doc(sha(i), finding("qq", spelled)), shop_id=shop, url=f"https://e.com/{i}.jpg")
        s.save_scan(doc(sha("x"), finding("wechat", "Other_ID")), shop_id="S1")
    with ReviewStore(db_url) as r:
        r.accounts.add("alice", PW)
    return db_url


def run(url: str, *args: str, env: dict[str, Any] | None = None) -> Result:
    full: dict[str, Any] = {"QQSCAN_DATABASE_URL": url, "QQSCAN_REVIEWER": None, "QQSCAN_REVIEW_TOKEN": None}
    full.update(env or {})
    return CliRunner().invoke(cli, list(args), env=full, catch_exceptions=False)


def token(url: str) -> str | None:
    """alice's personal token for terminal decisions (`qqscan users token`), where this qqscan has them."""
    res = CliRunner().invoke(
        cli,
        ["users", "token", "alice", "--password-stdin"],
        input=PW + "\n",
        env={"QQSCAN_DATABASE_URL": url},
    )
    return res.stdout.strip() if res.exit_code == 0 else None


def test_list_show_decide_and_undo(seeded):
    url = seeded
    r = run(url, "contacts", "list", "--json")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(c["type"], c["value"], c["shops"], c["images"]) for c in rows][0] == ("qq", "391287654", 3, 3)
    text = run(url, "contacts", "list").stdout
    assert "391287654" in text and "other_id" in text
    shown = json.loads(run(url, "contacts", "show", "qq:391 287 654", "--json").stdout)
    assert [s["shop_id"] for s in shown["shop_list"]] == ["S1", "S2", "S3"] and shown["pending"] == 3
    assert "S1, S2, S3" in run(url, "contacts", "show", f"#{shown['id']}").stdout
    found = [
        json.loads(x)
        for x in run(url, "contacts", "list", "--search", "QQ 391-287-654", "--json").stdout.splitlines()
    ]
    assert [c["id"] for c in found] == [shown["id"]]

    env = {"QQSCAN_REVIEW_TOKEN": token(url)}
    refused = run(url, "contacts", "decide", "391287654", "--status", "violation")
    assert refused.exit_code != 0 and "--as" in refused.output  # who decides must be said
    r = run(
        url, "contacts", "decide", "391287654", "--status", "violation", "--as", "alice", "--json", env=env
    )
    assert r.exit_code == 0, r.output
    done = json.loads(r.stdout)
    assert done["status"] == "seller" and len(done["images"]) == 3 and done["auto_confirm"] is False
    with Store(url) as s:
        assert {s.result(sha(i))["review_status"] for i in range(3)} == {"violation"}
        assert s.result(sha("x"))["review_status"] == "pending"
    r = run(url, "review", "undo", "--as", "alice", env=env)
    assert r.exit_code == 0, r.output
    assert f"contact #{shown['id']}" in r.stdout and "3 image(s) back" in r.stdout
    with Store(url) as s:
        assert {s.result(sha(i))["review_status"] for i in range(3)} == {"pending"}


def test_decide_with_auto_confirm_on(seeded):
    url = seeded
    env = {"QQSCAN_REVIEW_TOKEN": token(url), "QQSCAN_KNOWN_CONTACT_AUTO_CONFIRM": "1"}
    r = run(url, "contacts", "decide", "qq:391287654", "--status", "violation", "--as", "alice", env=env)
    assert r.exit_code == 0, r.output
    assert "confirmed as they are stored" in r.stdout
    with Store(url) as s:
        s.save_scan(doc(sha("later"), finding("qq", "391287654")), shop_id="S4")
        assert s.result(sha("later"))["review_status"] == "violation"


def test_unknown_contact_is_a_clear_error(seeded):
    r = run(seeded, "contacts", "show", "qq:1")
    assert r.exit_code == 1 and "no contact qq 1" in r.output
