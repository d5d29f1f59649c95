"""The browser stack works end to end: system Chromium under Playwright loads a page from a real loopback
HTTP server, runs its JavaScript, takes keyboard and mouse input, and renders text into a screenshot.

This is the canary for the review web app's browser tests: when it fails, the problem is the machine
(chromium, fonts, /dev/shm, sandbox flags), not the app.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

from tests.helpers_http import LoopbackServer

if TYPE_CHECKING:  # imported lazily so a machine without playwright skips (or, in CI, fails) cleanly
    from playwright.sync_api import Page

PAGE = """<!doctype html>
<html lang="zh">
<head><meta charset="utf-8"><title>qqscan smoke</title></head>
<body style="margin:0;background:#fff;font:32px sans-serif">
  <button id="go" type="button">Go</button>
  <p id="out" style="color:#000">waiting 等待</p>
  <script>
    const out = document.getElementById("out");
    document.getElementById("go").addEventListener("click", () => { out.textContent = "clicked"; });
    document.addEventListener("keydown", (e) => { out.textContent = "key " + e.key + " 联系"; });
  </script>
</body>
</html>
"""


def test_chromium_runs_page_input_and_screenshot(
    chromium_page: Page,
    http_server: LoopbackServer,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    http_server.route("/", body=PAGE.encode(), content_type="text/html; charset=utf-8")
    page = chromium_page

    page.goto(http_server.url("/"))
    out = page.locator("#out")
    expect(out).to_have_text("waiting 等待")
    assert http_server.hits["/"] == 1  # really fetched over HTTP from the loopback server

    page.click("#go")
    expect(out).to_have_text("clicked")
    page.keyboard.press("j")
    expect(out).to_have_text("key j 联系")

    shot = tmp_path / "smoke.png"
    page.screenshot(path=str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR: the first chunk, right after the signature
    assert (width, height) == (800, 600)

    # Text was actually rasterised (fonts present, compositor works): the paragraph's box has dark pixels.
    from PIL import Image

    box = out.bounding_box()
    assert box is not None
    with Image.open(shot) as img:
        crop = img.convert("L").crop(
            (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
        )
        dark = sum(crop.histogram()[:128])
    assert dark > 100, f"no rendered text in the screenshot ({dark} dark pixels)"
