"""End to end in a real headless Chromium (Debian's package, driven by Playwright): images scanned into a
store by the real `qqscan scan --store`, an account made by `qqscan users add`, the app served by
`qqscan review serve`; a moderator logs in, opens flagged items, sees the boxes, decides with the keyboard
only, and the decision is in the database and the history, also after the server restarts. An image whose
OCR text carries script is rendered inert.

QQSCAN_SCREENSHOTS=DIR also writes the queue and detail screenshots there (docs/ holds the committed ones).
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from store.queue import QueueFilter
from store.results import EvidenceBlob, Store
from store.review import ReviewStore

REPO = Path(__file__).resolve().parent.parent
QQSCAN = str(REPO / ".venv" / "bin" / "qqscan")
FILES = ["test/qr.png", "test/anim.gif", "test/main_exif6.jpg", "test/main_01.jpg"]  # newest last
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (250, 250, 250)).save(buf, "PNG")
    return buf.getvalue()


class Server:
    """`qqscan review serve` in a subprocess; restartable on the same port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.port = env, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # stderr (the serving line, then one access-log line per request) to a file: a pipe nobody
        # reads would fill up and stall the server
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [QQSCAN, "review", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("qqscan review serve did not listen within 60 s")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


@pytest.fixture(scope="module")
def site(fixture_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('review-e2e') / 'store.sqlite3'}"
    env = {**os.environ, "QQSCAN_DATABASE_URL": url}
    add = subprocess.run(
        [QQSCAN, "users", "add", "alice", "--password-stdin"],
        env=env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert add.returncode == 0, add.stderr
    # First (so the queue shows it last): an image whose OCR text, finding text and source URL carry
    # script (read from a seller's image, so attacker-controlled), stored as a scan stores it.
    store = ReviewStore(url)
    xss_sha = hashlib.sha256(XSS.encode()).hexdigest()
    box = [[10.0, 10.0], [200.0, 10.0], [200.0, 40.0], [10.0, 40.0]]
    finding = {"type": "qq", "value": "391287699", "text": XSS + " QQ391287699", "rule": "qq.keyword",
               "confidence": 0.5, "box": box, "frame": 0}  # fmt: skip
    Store(store.db).save_scan(
        {
            "sha256": xss_sha,
            "source": "x.png",
            "url": "javascript:window.__xss=3//" + XSS,
            "shop_id": "shop-x",
            "rules_version": "e2e",
            "findings": [finding],
            "width": 300,
            "height": 60,
            "format": "png",
            "frames": 1,
            "bytes": 1,
            "lines": [{"text": XSS, "score": 0.9, "box": box, "frame": 0}],
        },  # fmt: skip
        [EvidenceBlob("frame", 0, -1, "image/png", png(300, 60), 300, 60)],
    )
    scan = subprocess.run(
        [QQSCAN, "scan", "--store", "--shop", "shop-7", *(str(fixture_dir / f) for f in FILES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert scan.returncode == 1 and scan.stdout.count("FLAGGED") == len(FILES), scan.stdout + scan.stderr
    flagged = [it["sha256"] for it in store.queue.page().items]
    server = Server(env)
    server.start()
    try:
        yield {"url": url, "server": server, "store": store, "xss": xss_sha, "flagged": flagged}
    finally:
        server.stop()
        store.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1366, "height": 768})  # a laptop screen
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.errors.append("dialog: " + d.message), d.dismiss()))  # type: ignore
    try:
        yield page
    finally:
        context.close()


def login(page: Any, base: str) -> None:
    """Keyboard only: the name field has focus, Tab to the password, Enter submits."""
    page.goto(base + "/")
    assert "/login" in page.url  # every page but login needs a session
    page.focus("#username")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#queue")
    assert page.locator("#current-user").get_attribute("data-user") == "alice"


def shot(page: Any, name: str) -> None:
    out = os.environ.get("QQSCAN_SCREENSHOTS")
    data = page.screenshot(full_page=False)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        Path(out, name).write_bytes(data)


def test_a_moderator_works_the_queue_with_the_keyboard(site: dict[str, Any], page: Any) -> None:
    base, store = site["server"].base, site["store"]
    login(page, base)
    rows = page.locator("#queue tr[data-sha]")
    assert rows.count() == len(site["flagged"]) == len(FILES) + 1
    pictures_loaded(page)
    shot(page, "review-queue.png")

    # j highlights the first row... Enter opens it; newest first, so that is the last stored image.
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    first = page.locator("#queue tr.current").get_attribute("data-sha")
    assert first == site["flagged"][0]
    page.keyboard.press("Enter")
    page.wait_for_selector("#decision-form")
    assert f"/image/{first}" in page.url

    # Every finding's box is drawn over the kept frame, inside the picture.
    item = store.queue.item(first)
    boxes = page.locator("polygon[data-finding-box]")
    assert boxes.count() == len(item["findings"]) >= 1
    picture = page.locator("figure.frame image").first.bounding_box()
    drawn = boxes.first.bounding_box()
    assert picture and drawn and drawn["width"] > 5 and drawn["height"] > 5
    assert picture["x"] <= drawn["x"] and drawn["x"] + drawn["width"] <= picture["x"] + picture["width"] + 1
    assert picture["y"] <= drawn["y"] and drawn["y"] + drawn["height"] <= picture["y"] + picture["height"] + 1
    assert page.locator("#findings").inner_text().count(item["findings"][0]["value"]) >= 1
    page.evaluate("document.activeElement.blur()")
    shot(page, "review-detail.png")

    # n focuses the note; typing a shortcut letter there is text, not a decision; Escape leaves the field.
    page.keyboard.press("n")
    page.keyboard.type("seller hotline in image, verified")
    page.keyboard.press("Escape")
    assert store.queue.item(first)["review_status"] == "pending"
    # v decides "violation" and moves on to the next image in the queue.
    page.keyboard.press("v")
    page.wait_for_url(lambda u: first not in u)
    second = site["flagged"][1]
    assert f"/image/{second}" in page.url
    after = store.queue.item(first)
    assert after["review_status"] == "violation"
    (decision,) = after["decisions"]
    assert (decision["reviewer"], decision["note"]) == ("alice", "seller hotline in image, verified")

    # f dismisses the second; u undoes it (back to pending), shown in its history.
    page.keyboard.press("f")
    page.wait_for_url(lambda u: second not in u)
    assert store.queue.item(second)["review_status"] == "false_positive"
    page.keyboard.press("u")
    page.wait_for_url(lambda u: second in u)
    assert store.queue.item(second)["review_status"] == "pending"
    statuses = page.locator("#history tr[data-decision-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.status)"
    )
    assert "false_positive" in statuses and "pending" in statuses

    # q goes back to the pending queue, which the decided image has left; its page shows the decision.
    page.keyboard.press("q")
    page.wait_for_selector("#queue")
    pending = page.locator("#queue tr[data-sha]").evaluate_all("rows => rows.map(r => r.dataset.sha)")
    assert first not in pending and second in pending
    page.goto(f"{base}/image/{first}?status=all")
    history = page.locator("#history").inner_text()
    assert "alice" in history and "violation" in history.lower().replace("_", " ")
    assert page.errors == []  # type: ignore[attr-defined]


def test_script_in_ocr_text_and_urls_is_rendered_inert(site: dict[str, Any], page: Any) -> None:
    base = site["server"].base
    login(page, base)
    page.goto(f"{base}/image/{site['xss']}")
    page.wait_for_selector("#ocr-lines")
    assert "<script>window.__xss = 1</script>" in page.locator("#ocr-lines").inner_text()
    assert "<script>" in page.locator("#findings").inner_text()
    # The javascript: URL is shown as text, not a link; nothing ran, no dialog opened.
    assert page.locator("#sources a[href^='javascript']").count() == 0
    page.locator("#sources").inner_text()
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.errors == []  # type: ignore[attr-defined]


def test_decisions_survive_a_server_restart(site: dict[str, Any], page: Any) -> None:
    server, store = site["server"], site["store"]
    first = site["flagged"][0]
    if store.queue.item(first)["review_status"] == "pending":  # run alone: make the decision here
        store.decisions.record(first, "violation", reviewer="alice")
    server.stop()
    server.start()
    login(page, server.base)  # the session secret is in the store: a new process accepts new logins
    page.goto(server.base + "/history")
    rows = page.locator("#history tr[data-decision-id]")
    assert rows.count() >= 1
    shas = rows.evaluate_all("rows => rows.map(r => r.dataset.sha)")
    assert first in shas
    page.goto(f"{server.base}/?status=violation")
    assert first in page.locator("#queue tr[data-sha]").evaluate_all("rows => rows.map(r => r.dataset.sha)")


def test_a_cookie_copied_before_logout_is_refused_after_it(
    site: dict[str, Any], page: Any, chromium: Any
) -> None:
    """The stolen-cookie case (issue 11): a second browser holding a copy of the session cookie works
    until the moderator logs out, then gets the login page and cannot decide or read evidence."""
    base, store = site["server"].base, site["store"]
    sha = site["xss"]
    login(page, base)
    page.goto(f"{base}/image/{sha}")
    token = page.locator("#decision-form input[name=csrf_token]").get_attribute("value")
    blob = store.queue.item(sha)["frames"][0]["blob"]
    before = store.queue.item(sha)["review_status"]

    copy = chromium.new_context(viewport={"width": 1366, "height": 768})  # same browser, same address
    try:
        copy.add_cookies(page.context.cookies())
        other = copy.new_page()
        other.goto(base + "/")
        assert other.locator("#current-user").get_attribute("data-user") == "alice"  # the copy works...

        page.click("#logout")
        page.wait_for_selector("#login-form")

        other.goto(base + "/")  # ...until the logout
        assert "/login" in other.url and other.locator("#login-form").count() == 1
        decided = copy.request.post(
            f"{base}/image/{sha}/decide", form={"csrf_token": token, "status": "escalated"}, max_redirects=0
        )
        assert decided.status == 401
        assert copy.request.get(f"{base}/blob/{blob}", max_redirects=0).status == 401
        assert store.queue.item(sha)["review_status"] == before
    finally:
        copy.close()
    assert page.errors == []  # type: ignore[attr-defined]


# --- layout: a dense queue on a laptop, cards on a phone ---------------------------------------------------

DENSE = 30  # flagged images in the layout store: more than one screen


def text_png(width: int, height: int, lines: list[tuple[int, str]], size: int) -> bytes:
    """A white picture with (y, text) lines in the fixtures' CJK font."""
    from PIL import ImageDraw, ImageFont

    from fixtures.draw import cjk_font_file

    path, index = cjk_font_file()
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(path, size, index=index)
    for y, line in lines:
        draw.text((8, y), line, fill=(20, 20, 20), font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def dense_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A store with DENSE flagged images (kept frames and close-ups drawn here, no OCR) behind
    `qqscan review serve`, for layout checks."""
    url = f"sqlite:///{tmp_path_factory.mktemp('review-layout') / 'store.sqlite3'}"
    store = ReviewStore(url)
    store.accounts.add("alice", PASSWORD)
    for i in range(DENSE):
        qq = f"39128{7600 + i}"
        box = [[40.0, 300.0], [420.0, 300.0], [420.0, 340.0], [40.0, 340.0]]
        findings = [{"type": "qq", "value": qq, "text": f"加QQ {qq} 领优惠", "rule": "qq.keyword",
                     "confidence": 0.6 + i / 100, "box": box, "frame": 0}]  # fmt: skip
        if i % 3 == 0:
            wx = f"wx_shop{i}"
            findings.append({"type": "wechat", "value": wx, "text": f"微信 {wx}", "rule": "wechat.keyword",
                             "confidence": 0.8, "box": box, "frame": 0})  # fmt: skip
        frame = text_png(750, 1000, [(40, "手工红糖姜茶 限时特价"), (300, f"加QQ {qq} 领优惠")], 32)
        crops = [text_png(460, 70, [(10, f["text"])], 36) for f in findings]
        sha = hashlib.sha256(f"layout-{i}".encode()).hexdigest()
        Store(store.db).save_scan(
            {"sha256": sha, "source": f"https://img.example.com/shop-{i % 4}/item-{i}/detail_{i:03d}.jpg",
             "url": f"https://img.example.com/shop-{i % 4}/item-{i}/detail_{i:03d}.jpg",
             "shop_id": f"shop-{i % 4}", "listing_id": f"L-{i}", "rules_version": "layout",
             "findings": findings, "lines": [{"text": f["text"], "score": 0.9, "box": box, "frame": 0}
                                             for f in findings],
             "width": 750, "height": 1000, "format": "jpeg", "frames": 1, "bytes": 1},
            [EvidenceBlob("frame", 0, -1, "image/png", frame, 750, 1000)]
            + [EvidenceBlob("crop", 0, n, "image/png", c, 460, 70, scale=1.0, x0=30, y0=285)
               for n, c in enumerate(crops)],
        )  # fmt: skip
    server = Server({**os.environ, "QQSCAN_DATABASE_URL": url})
    server.start()
    try:
        yield {"server": server, "store": store}
    finally:
        server.stop()
        store.close()


def layout_page(chromium: Any, width: int, height: int) -> Any:
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    return context.new_page()


def pictures_loaded(page: Any) -> None:
    """Wait until every picture in the window has loaded (lazy ones included)."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('img')].filter(i => {
             const b = i.getBoundingClientRect(); return b.bottom > 0 && b.top < window.innerHeight;
           }).every(i => i.complete && i.naturalWidth > 0)"""
    )


def fully_visible_rows(page: Any) -> int:
    return int(
        page.evaluate(
            """() => [...document.querySelectorAll('#queue tr[data-sha]')].filter(r => {
                 const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= window.innerHeight;
               }).length"""
        )
    )


def page_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0 = no sideways scrolling)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


def test_the_queue_shows_twelve_or_more_rows_on_a_laptop_screen(
    dense_site: dict[str, Any], chromium: Any
) -> None:
    page = layout_page(chromium, 1366, 768)
    try:
        login(page, dense_site["server"].base)
        pictures_loaded(page)  # rows have their final height
        assert page.locator("#queue tr[data-sha]").count() == DENSE
        shot(page, "review-queue-dense.png")
        visible = fully_visible_rows(page)
        assert visible >= 12, visible
        assert page_overflow(page) == 0
        # every close-up is a loaded picture, one line per row
        assert page.evaluate(
            "() => [...document.querySelectorAll('img.thumb')].every(i => i.naturalWidth > 0)"
        )
        heights = page.locator("#queue tr[data-sha]").evaluate_all("rs => rs.map(r => r.offsetHeight)")
        assert max(heights) <= 48, heights
        # keyboard still works on the dense list
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_selector("#decision-form")
    finally:
        page.context.close()


def test_queue_and_image_pages_fit_a_390_px_phone(dense_site: dict[str, Any], chromium: Any) -> None:
    page = layout_page(chromium, 390, 844)
    try:
        base = dense_site["server"].base
        login(page, base)
        pictures_loaded(page)
        shot(page, "review-queue-phone.png")
        assert page_overflow(page) == 0
        first = page.locator("#queue tr[data-sha]").first
        box = first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
        for sel in (".sha-cell a", "img.thumb", ".findings-cell .value", ".status"):  # the card's parts show
            part = first.locator(sel).first.bounding_box()
            assert part and part["width"] > 0 and part["x"] + part["width"] <= 390 + 1, sel
        assert page.locator("#logout").is_visible() and page.locator("#filter-apply").is_visible()

        first.locator(".sha-cell a").click()
        page.wait_for_selector("#decision-form")
        page.wait_for_load_state("load")
        assert page_overflow(page) == 0
        for sel in ("#decide-violation", "#decide-false_positive", "#note", "figure.frame svg"):
            part = page.locator(sel).first.bounding_box()
            assert part and part["x"] >= 0 and part["x"] + part["width"] <= 390 + 1, sel
        shot(page, "review-detail-phone.png")
        page.click("#decide-escalated")
        page.wait_for_url(lambda u: "/image/" in u)
        assert dense_site["store"].queue.page(QueueFilter(status=None)).counts["escalated"] == 1
    finally:
        page.context.close()
