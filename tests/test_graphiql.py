"""GraphiQL with no network: headless Chromium opens /graphql on the live server with every request
to a host other than this machine blocked, and the page still works: the editor renders, a query
sent with an Authorization header from the headers tab returns data, and a subscription (over the
same endpoint's websocket) shows an event. Assertions read the DOM; screenshots of the run are kept
in the test's temp dir, like CI artifacts.

The browser is Debian's ``chromium`` (scripts/test installs it), driven through Playwright's
Python API (never ``playwright install``: it downloads browsers).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import BrowserContext, Locator, Page, Route, async_playwright

from app.graphql.ide import ASSETS_PATH, IMMUTABLE
from app.graphql.relay import to_global_id
from tests.catalog_support import mutate
from tests.conftest import Actors, LiveServer
from tests.progress_support import make_journey

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "install it with `apt-get install chromium` (scripts/test does)"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Nothing but this machine resolves, whatever asks (the page, a worker, the browser itself).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
TIMEOUT_MS = 60_000  # two shared cores, software rendering: Monaco takes its time
START_JOURNEY = """
mutation Start($journeyId: ID!) {
  startJourney(journeyId: $journeyId) { instance { id } errors { code } }
}
"""
# Collects Content-Security-Policy violations from the page's first script on.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


class Offline:
    """A browser context in which every request to a host other than this machine is refused."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.blocked: list[str] = []
        self.requested: list[str] = []
        self.sockets: list[str] = []
        self.console_errors: list[str] = []

    async def start(self) -> None:
        await self.context.route("**/*", self._route)
        await self.context.add_init_script(CSP_LISTENER)

    async def _route(self, route: Route) -> None:
        url = route.request.url
        self.requested.append(url)
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith("data:"):
            await route.continue_()
        else:
            self.blocked.append(url)
            await route.abort("internetdisconnected")

    def watch(self, page: Page) -> None:
        page.on("websocket", lambda socket: self.sockets.append(socket.url))
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.console_errors.append(f"pageerror: {error}"))


@pytest.fixture
def chromium() -> Path:
    assert CHROMIUM.is_file(), f"headless Chromium is needed at {CHROMIUM}: {INSTALL_HINT}"
    return CHROMIUM


@pytest.fixture
async def offline(chromium: Path, tmp_path: Path) -> AsyncIterator[Offline]:
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",  # a fresh profile
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
            service_workers="block",
        )
        try:
            browser = Offline(context)
            await browser.start()
            yield browser
        finally:
            await context.close()


async def _replace_text(page: Page, editor: Locator, text: str) -> None:
    """Type ``text`` into a Monaco editor in place of what it holds."""
    await editor.click()
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.press("Delete")
    # Inserted as typed text, but in one go: Monaco's auto-closing of brackets and quotes stays out of it.
    await page.keyboard.insert_text(text)


async def _shows(locator: Locator, text: str, timeout_ms: int = TIMEOUT_MS) -> str:
    """Wait until the (Monaco) element's text contains ``text``; its text, spaces normalised."""
    deadline = asyncio.get_running_loop().time() + timeout_ms / 1000
    shown = ""
    while asyncio.get_running_loop().time() < deadline:
        shown = re.sub(r"\s+", " ", (await locator.inner_text()).replace("\u00a0", " "))
        if text in shown:
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} did not show within {timeout_ms} ms; shown: {shown!r}")


async def _joined(server: LiveServer, channel: str, response_pane: Locator) -> None:
    """Wait until a subscription receives the channel's live events."""
    for _ in range(3000):
        hub = server.runtime.realtime.hubs.get(channel)
        if hub is not None and hub.inboxes:
            return
        await asyncio.sleep(0.01)
    shown = await response_pane.inner_text()
    raise AssertionError(f"no subscription of {channel} joined within 30 s; the result pane shows {shown!r}")


async def test_graphiql_works_offline_with_auth_headers_and_subscriptions(
    server: LiveServer, actors: Actors, client: httpx.AsyncClient, offline: Offline, tmp_path: Path
) -> None:
    # given a tenant with a published journey, and a user's token
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant)
    journey_id = to_global_id("Journey", journey.journey.id)
    token = actors.token(tenant, "alice")
    alice = actors.credential(token)
    channel = (await alice.data("{ viewer { channelName } }"))["viewer"]["channelName"]

    # when a browser with no network opens GraphiQL
    page = await offline.context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    offline.watch(page)
    response = await page.goto(f"{server.url}/graphql", wait_until="load")
    assert response is not None
    assert response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy

    # then the editor renders: Monaco, in the query editor, with the default document
    query_editor = page.locator(".graphiql-query-editor .monaco-editor").first
    await query_editor.wait_for(state="visible")
    await _shows(page.locator(".graphiql-query-editor .view-lines").first, "viewer")
    # and the sidebar has the explorer plugin, besides GraphiQL's own documentation explorer and history
    labels = await page.locator(".graphiql-sidebar button[aria-label]").evaluate_all(
        "buttons => buttons.map((b) => b.getAttribute('aria-label'))"
    )
    assert {"Show GraphiQL Explorer", "Show Documentation Explorer", "Show History"} <= set(labels), labels

    # when a query is typed, with the user's token in the headers tab, and run
    await _replace_text(page, query_editor, "{ viewer { externalId } }")
    await page.locator(".graphiql-editor-tools button[data-name='headers']").click()
    headers_editor = page.locator("section.graphiql-editor-tool .graphiql-editor:not(.hidden) .monaco-editor")
    await headers_editor.wait_for(state="visible")
    await _replace_text(page, headers_editor, f'{{"Authorization": "Bearer {token}"}}')
    await page.locator(".graphiql-execute-button").click()

    # then the result pane shows the user's data
    response_pane = page.locator(".result-window .view-lines").first
    shown = await _shows(response_pane, '"externalId": "alice"')
    assert "errors" not in shown, shown
    await page.screenshot(path=tmp_path / "graphiql-query.png")

    # when a subscription is run, and the user starts a journey
    await _replace_text(page, query_editor, "subscription { userEvents { type } }")
    await page.locator(".graphiql-execute-button").click()
    await _joined(server, channel, response_pane)
    payload = await mutate(alice, START_JOURNEY, {"journeyId": journey_id})
    assert payload["errors"] == [], payload

    # then the result pane shows the event, received over the same endpoint's websocket
    shown = await _shows(response_pane, '"type": "journey.started"')
    assert '"userEvents"' in shown, shown
    # and the explorer plugin opens on the operation, offering the fields of the schema it introspected
    await page.locator(".graphiql-sidebar button[aria-label='Show GraphiQL Explorer']").click()
    await _shows(page.locator(".graphiql-plugin"), "subscription adminEvents userEvents")
    screenshot = tmp_path / "graphiql-subscription.png"
    await page.screenshot(path=screenshot)
    assert screenshot.stat().st_size > 0
    assert offline.sockets == [server.ws_url], offline.sockets

    # and the page needed nothing but this origin: no request was blocked, the CSP refused nothing
    assert offline.blocked == [], offline.blocked
    assert all(urlsplit(url).netloc == f"127.0.0.1:{server.port}" for url in offline.requested), offline.requested
    assert any(f"{ASSETS_PATH}/" in url and ".worker-" in url for url in offline.requested), offline.requested
    violations: list[Any] = await page.evaluate("window.__cspViolations")
    assert violations == [], violations
    assert not [e for e in offline.console_errors if "Content Security Policy" in e], offline.console_errors

    # and the hashed assets are served with long cache lifetimes
    (script,) = {url for url in offline.requested if re.search(rf"{ASSETS_PATH}/main-[^/]+\.js$", url)}
    asset = await client.get(urlsplit(script).path)
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == IMMUTABLE
    assert asset.headers["content-type"].startswith("text/javascript")
