"""The HTTP API (issue #19, first part): tokens with scopes and a rate, image URLs submitted and verdicts read
back through the ordinary queue and a real worker, RFC 9457 problem JSON for every refusal, and the OpenAPI
document generated from the code checked against the app's routes and real responses. Real Redis, real
SQLite, the real Flask app (its test client) and an in-process worker with the real OCR engine."""

# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from tests.test_batch import (  # noqa: F401  (fixtures)
    env,
    images,
    reap_workers,
    restore_signals,
    run_worker_inprocess,
    sqlite_db,
)

pytest_plugins = ("tests.redis_server",)


@pytest.fixture
def api(sqlite_db: str, redis_url: str, env: None) -> dict[str, Any]:
    import os

    from api.app import create_api
    from ground.settings import Settings
    from store.review import ReviewStore

    store = ReviewStore(sqlite_db)
    app = create_api(store, settings=Settings.load(dict(os.environ)))
    return {"client": app.test_client(), "store": store, "app": app}


def token(store: Any, name: str = "shop-svc", scopes: str = "scan,read", rate: int = 600) -> str:
    return store.tokens.add(name, set(scopes.split(",")), rate_per_minute=rate)


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.data[:300])
    assert r.mimetype == "application/problem+json"
    doc = r.get_json(force=True)
    assert doc["status"] == status and doc["code"] == code and doc["type"] == f"urn:qqscan:problem:{code}"
    assert doc["title"] and doc["detail"] and "Traceback" not in doc["detail"]
    return doc


def test_refusals_are_problem_json_with_a_stable_code(api: dict[str, Any]) -> None:
    client, store = api["client"], api["store"]
    scan, reader = token(store), token(store, "reader", "read")
    ok = {"urls": ["https://img.example.com/a.png"]}
    problem(client.post("/v1/scans", json=ok), 401, "unauthorized")
    problem(client.post("/v1/scans", json=ok, headers=auth("qqs_not-a-token")), 401, "unauthorized")
    problem(client.post("/v1/scans", json=ok, headers=auth(reader)), 403, "forbidden")
    bad_json = client.post("/v1/scans", data=b"{nope", headers=auth(scan), content_type="application/json")
    problem(bad_json, 422, "malformed_json")
    doc = problem(client.post("/v1/scans", json={"urls": ["ftp://x/a.png"]}, headers=auth(scan)), 422,
                  "invalid_request")  # fmt: skip
    assert "http(s) URL" in doc["detail"]
    many = {"urls": [f"https://img.example.com/{i}.png" for i in range(33)]}
    problem(client.post("/v1/scans", json=many, headers=auth(scan)), 422, "invalid_request")
    huge = {"urls": ["https://img.example.com/" + "a" * 70_000]}
    problem(client.post("/v1/scans", json=huge, headers=auth(scan)), 413, "too_large")
    problem(client.get("/v1/scans/scan-nope", headers=auth(reader)), 404, "not_found")
    problem(client.get("/v1/images/" + "0" * 64, headers=auth(reader)), 404, "not_found")
    slow = token(store, "slow", rate=2)
    for _ in range(2):
        assert client.get("/v1/images/" + "0" * 64, headers=auth(slow)).status_code == 404
    problem(client.get("/v1/images/" + "0" * 64, headers=auth(slow)), 429, "rate_limited")
    store.tokens.revoke("shop-svc")  # revoked: refused at once
    problem(client.post("/v1/scans", json=ok, headers=auth(scan)), 401, "unauthorized")


def test_submitted_urls_are_scanned_by_a_worker_and_read_back(
    api: dict[str, Any], http_server: Any, images: dict[str, bytes], restore_signals: None, redis_url: str
) -> None:
    from api.schemas import ScanJob, ScanResponse

    client, store = api["client"], api["store"]
    secret = token(store)
    http_server.route("/qq.png", body=images["qq"], content_type="image/png")
    http_server.route("/clean.png", body=images["clean"], content_type="image/png")
    urls = [http_server.url("/qq.png"), http_server.url("/clean.png")]
    r = client.post("/v1/scans?wait=1", json={"urls": urls, "shop": "S7"}, headers=auth(secret))
    assert r.status_code == 202  # no worker runs: the ids come back after the wait
    jobs = ScanResponse.model_validate(r.get_json()).jobs
    assert [j.url for j in jobs] == urls and {j.status for j in jobs} == {"queued"}
    run_worker_inprocess(redis_url)
    got = {j.url: ScanJob.model_validate(client.get(f"/v1/scans/{j.id}", headers=auth(secret)).get_json())
           for j in jobs}  # fmt: skip
    flagged, clean = got[urls[0]], got[urls[1]]
    assert flagged.status == "finished" and flagged.result["flagged"] is True
    assert {f["type"] for f in flagged.result["findings"]} >= {"qq"}
    assert clean.status == "finished" and clean.result["flagged"] is False
    image = client.get(f"/v1/images/{flagged.result['sha256']}", headers=auth(secret)).get_json()
    assert image["result"]["review_status"] == "pending" and image["result"]["urls"] == [urls[0]]
    # the same URL again: already scanned, answered inline without a worker
    again = client.post("/v1/scans", json={"url": urls[0], "wait": 5}, headers=auth(secret))
    assert again.status_code in (200, 202)


def test_the_openapi_document_is_generated_from_the_routes(api: dict[str, Any]) -> None:
    doc = api["client"].get("/v1/openapi.json").get_json()  # public
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    served = {
        (m.lower(), str(rule).replace("<", "{").replace(">", "}"))
        for rule in api["app"].url_map.iter_rules()
        if str(rule).startswith("/v1/")
        for m in rule.methods or ()
        if m in ("GET", "POST")
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == served
    post = doc["paths"]["/v1/scans"]["post"]
    assert post["security"] == [{"token": ["scan"]}] and "422" in post["responses"]
    schema = doc["components"]["schemas"]["ScanRequest"]
    assert schema["properties"]["urls"]["maxItems"] == 32


def test_tokens_from_the_command_line(sqlite_db: str) -> None:
    from qqscan.cli import cli

    env = {"QQSCAN_DATABASE_URL": sqlite_db}
    r = CliRunner().invoke(cli, ["tokens", "add", "listing-svc", "--scope", "scan"], env=env)
    assert r.exit_code == 0 and r.stdout.startswith("qqs_") and len(r.stdout.strip()) > 40
    listed = CliRunner().invoke(cli, ["tokens", "list", "--json"], env=env)
    (doc,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert doc["name"] == "listing-svc" and doc["scopes"] == ["scan"] and doc["revoked_at"] is None
    assert r.stdout.strip() not in listed.stdout  # the secret is shown once, never listed
    assert CliRunner().invoke(cli, ["tokens", "add", "x", "--scope", "admin"], env=env).exit_code == 1
    assert CliRunner().invoke(cli, ["tokens", "revoke", "listing-svc"], env=env).exit_code == 0
    assert CliRunner().invoke(cli, ["tokens", "revoke", "listing-svc"], env=env).exit_code == 1
