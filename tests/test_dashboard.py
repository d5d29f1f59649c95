"""The review app's dashboard (issue #21 item 1), end to end: `qqscan review serve` and a burst
`qqscan worker` as subprocesses against a real Redis and SQLite store, image URLs on a loopback server
that answers slowly (so the worker is busy long enough to be seen), an admin watching in Chromium; and the
requeue action refused to a moderator (403) and audited for an admin."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers_http import LoopbackServer
from tests.test_review_browser import PASSWORD, Server, png

pytest_plugins = ("tests.redis_server",)

QQSCAN = str(Path(sys.executable).parent / "qqscan")
FAILED_URL = "https://img.example.com/gone.png"


@pytest.fixture
def site(tmp_path: Path, redis_url: str) -> dict[str, Any]:
    from store.results import Store
    from store.review import ReviewStore

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with ReviewStore(url) as s:
        s.accounts.add("root", PASSWORD, "admin")
        s.accounts.add("mia", PASSWORD, "moderator")
        Store(s.db).record_source(FAILED_URL, error="HTTP 404 Not Found from img.example.com", shop_id="S1")
    env = {**os.environ, "QQSCAN_DATABASE_URL": url, "QQSCAN_REDIS_URL": redis_url}
    return {"url": url, "env": env}


def login(page: Any, base: str, name: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#current-user")


def depth(page: Any) -> int:
    return int(page.locator('#queues tr[data-queue="scan"] .depth').inner_text())


def test_the_dashboard_shows_queue_depth_and_a_busy_worker_change(
    site: dict[str, Any], chromium: Any, http_server: LoopbackServer
) -> None:
    urls = []
    for n in range(4):
        http_server.route(f"/slow/{n}.png", body=png(64 + n, 64), content_type="image/png", delay=2.0)
        urls.append(http_server.url(f"/slow/{n}.png"))
    env = {**site["env"], "QQSCAN_ALLOW_PRIVATE_NETWORKS": "1", "QQSCAN_FETCH_RATE": "0"}
    assert subprocess.run([QQSCAN, "enqueue", *urls], env=env, capture_output=True).returncode == 0
    server = Server(env)
    server.start()
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    worker = None
    try:
        login(page, server.base, "root")
        page.goto(server.base + "/dashboard")
        assert depth(page) == 4 and page.locator("#no-workers").count() == 1  # nobody works them yet
        assert "gone.png" in page.locator("#failed").inner_text()
        worker = subprocess.Popen(
            [QQSCAN, "worker", "--burst", "--without-scheduler", "--engine", "onnx"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        busy_seen = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (busy_seen and depth(page) < 4):
            time.sleep(0.5)
            page.reload()
            states = page.locator("#workers .state").all_inner_texts()
            busy_seen = busy_seen or "busy" in states
        assert busy_seen, "no busy worker was shown"
        assert depth(page) < 4  # the worker took jobs off the queue
        assert worker.wait(120) == 0
        page.reload()
        assert depth(page) == 0
        assert "4 scans" in page.locator("#throughput h2").inner_text()  # the burst's results, this hour
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        context.close()
        server.stop()


def test_only_an_admin_may_requeue_and_it_is_audited(site: dict[str, Any], redis_url: str) -> None:
    from redis import Redis
    from rq import Queue

    from ground.settings import Settings
    from review.app import create_app
    from store.review import ReviewStore

    store = ReviewStore(site["url"])
    app = create_app(store, settings=Settings.load(site["env"]), config={"WTF_CSRF_ENABLED": False})

    def client_as(name: str) -> Any:
        client = app.test_client()
        r = client.post("/login", data={"username": name, "password": PASSWORD})
        assert r.status_code == 302
        return client

    mia = client_as("mia")
    assert mia.get("/dashboard").status_code == 200  # read-only for moderators
    assert b"Queue again" not in mia.get("/dashboard").data
    assert mia.post("/dashboard/requeue", data={"url": FAILED_URL}).status_code == 403
    assert Queue("scan", connection=Redis.from_url(redis_url)).count == 0

    root = client_as("root")
    assert b"Queue again" in root.get("/dashboard").data
    assert root.post("/dashboard/requeue", data={"url": "https://never.example/x.png"}).status_code == 400
    assert root.post("/dashboard/requeue", data={"url": FAILED_URL}).status_code == 303
    assert Queue("scan", connection=Redis.from_url(redis_url)).count == 1
    (entry,) = [a for a in store.audit.log(actor="root") if a["action"] == "requeue"]
    assert entry["target"] == FAILED_URL and "404" in entry["detail"]["previous_error"]
