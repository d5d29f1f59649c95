"""A real headless Chromium for browser tests: Debian's `chromium` package driven by Playwright.

setup.sh apt-installs `chromium`; `playwright install` is never run (its browser CDN is unreachable from CI),
so Playwright is always pointed at the system binary. conftest.py registers the fixtures once for the
whole session (two sync Playwright instances cannot be open at once, so test modules must not import them
again); a test just asks for them:

    def test_x(chromium_page):
        chromium_page.goto(url)

Without a browser a test skips locally, but fails when the CI environment variable is set, so CI can never
pass by silently skipping its browser tests.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

ENV_EXECUTABLE = "QQSCAN_CHROMIUM"
DEBIAN_WRAPPER = Path("/usr/bin/chromium")
DEBIAN_BINARY = Path("/usr/lib/chromium/chromium")

# Root in a container, no GPU, no network beyond the test's own loopback server. Playwright passes several
# of these by default too; they are listed so the launch does not depend on Playwright's defaults.
LAUNCH_ARGS: list[str] = [
    "--no-sandbox",  # Chromium refuses to start as root with its setuid/namespace sandbox
    "--disable-gpu",  # no GPU: software compositing only, no GPU process probing
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm; shared memory goes to /tmp
    "--disable-background-networking",  # no update, safe-browsing or variations requests
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",  # no crashpad handler / crash uploads
    "--no-first-run",
    "--no-default-browser-check",
    "--password-store=basic",  # no keyring over D-Bus
    "--mute-audio",
]


def in_ci() -> bool:
    """True when the CI environment variable is set to anything but an explicit no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _is_executable(path: str | Path) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _unwrap(path: str) -> str:
    """Debian's /usr/bin/chromium is a shell script that sources /etc/chromium.d (GPU-rasterization and
    extension flags, API keys, a /dev/shm check that errors when /dev/shm is mounted twice); start the real
    binary it would exec instead, so the test browser gets only our flags."""
    if Path(path).resolve() == DEBIAN_WRAPPER and _is_executable(DEBIAN_BINARY):
        return str(DEBIAN_BINARY)
    return path


def find_chromium() -> str | None:
    """The Chromium to launch: $QQSCAN_CHROMIUM (used as given), else `chromium` on PATH, else
    /usr/bin/chromium. None when there is none."""
    override = os.environ.get(ENV_EXECUTABLE)
    if override:
        return override if _is_executable(override) else None
    found = shutil.which("chromium") or (str(DEBIAN_WRAPPER) if _is_executable(DEBIAN_WRAPPER) else None)
    return _unwrap(found) if found else None


def browser_unavailable() -> str | None:
    """Why a browser test cannot run here, or None when it can. Only checks presence: a browser that is
    installed but fails to launch must be an error, not a skip."""
    if importlib.util.find_spec("playwright") is None:
        return "Python package playwright is not installed (pip install -e '.[dev]')"
    override = os.environ.get(ENV_EXECUTABLE)
    if override and not _is_executable(override):
        return f"{ENV_EXECUTABLE}={override} is not an executable file"
    if find_chromium() is None:
        return "no chromium executable (apt-get install chromium; setup.sh installs it)"
    return None


def require_chromium() -> None:
    """Skip the calling test when no browser is available, or fail it when running in CI."""
    reason = browser_unavailable()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"{reason}; CI is set, so the browser tests must run, not skip", pytrace=False)
    pytest.skip(reason)


def launch_chromium(playwright: Playwright, **kwargs: object) -> Browser:
    """Launch the system Chromium headless with flags that work as root without a GPU. Extra keyword
    arguments go to `playwright.chromium.launch` (e.g. slow_mo)."""
    executable = find_chromium()
    if executable is None:
        raise RuntimeError(browser_unavailable() or "no chromium executable")
    return playwright.chromium.launch(
        executable_path=executable,
        headless=True,
        args=LAUNCH_ARGS,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One browser process per test session (starting Chromium costs ~0.5 s); tests isolate themselves
    with a fresh context each (see chromium_page)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def chromium_page(chromium: Browser) -> Iterator[Page]:
    """A page in a fresh browser context (own cookies and storage), with a 10 s default timeout instead of
    Playwright's 30 s so a broken page fails fast."""
    context = chromium.new_context(viewport={"width": 800, "height": 600})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()
