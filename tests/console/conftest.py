"""A real headless Chromium (Debian's ``chromium``) driven by Playwright against a real gateway.

Playwright's own browser downloads are never used: the browser is the system's, named by
``executable_path`` (``ZJX_CHROMIUM`` overrides ``/usr/bin/chromium``). Where it is missing
the browser tests are skipped with the reason, unless CI is set: then they fail, so CI
cannot go green without them (``.ci/run`` installs the package).

Every page a test opens records the browser's console errors and uncaught exceptions;
``BrowserRun.assert_clean`` fails the test if there were any (a CSP violation shows there).
Screenshots go to ``ZJX_SCREENSHOTS`` when it names a directory (``make screenshots`` sets
it to docs/console).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    async_playwright,
)

SHOTS = Path(os.environ["ZJX_SCREENSHOTS"]) if os.environ.get("ZJX_SCREENSHOTS") else None
CHROMIUM = Path(os.environ.get("ZJX_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class BrowserRun:
    browser: Browser
    context: BrowserContext
    base_url: str
    shots: Path | None
    problems: list[str] = field(default_factory=list)

    async def page(self) -> Page:
        page = await self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _page_error(self, error: Error) -> None:
        self.problems.append(f"page error: {error}")

    async def screenshot(self, page: Page, name: str) -> None:
        """Into ``ZJX_SCREENSHOTS`` when set (``make screenshots``); otherwise skipped, as
        pictures cost seconds and prove nothing the assertions do not."""
        if self.shots is not None:
            await page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def assert_clean(self, *expected: str) -> None:
        """No script error and no console message but the ``expected`` ones, each once (a
        refusal page's status is reported by the browser as a failed resource)."""
        unexpected = list(self.problems)
        for text in expected:
            found = [p for p in unexpected if text in p]
            assert found, f"expected a console message with {text!r}: {self.problems}"
            unexpected.remove(found[0])
        assert unexpected == []


def _chromium_or_skip() -> None:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (Debian package chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so the console tests must run)")
        pytest.skip(reason)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for a module's tests (starting one costs about a second); each test
    gets its own context, so no cookie or page is shared between tests."""
    _chromium_or_skip()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@asynccontextmanager
async def chromium(
    browser: Browser, base_url: str, locale: str = "en-US"
) -> AsyncIterator[BrowserRun]:
    """A fresh browser context (own cookies) whose language is ``locale``."""
    context = await browser.new_context(
        base_url=base_url, locale=locale, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(5000)  # a page of this console answers in milliseconds
    try:
        yield BrowserRun(browser, context, base_url, SHOTS)
    finally:
        await context.close()


async def log_in(page: Page, token: str) -> None:
    await page.goto("/console/login")
    await page.fill("#token", token)
    await page.click("#login")
    await page.wait_for_url(re.compile(r".*/console/$"))


def admin_token(data_dir: Path) -> str:
    return (data_dir / "admin-token").read_text().strip()


__all__ = ["BrowserRun", "admin_token", "chromium", "log_in"]
