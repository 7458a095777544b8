"""The API page ``/api/docs`` in a real headless Chromium (Debian's), against the real
service: Swagger UI, served from the service itself, renders the operations of
``/api/v1/openapi.json`` under the pages' Content-Security-Policy, with no violation, no page
error and no request to another host. A screenshot is kept in conftest.ARTIFACTS."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Browser, ConsoleMessage, Request, expect

from tests.integration.conftest import ARTIFACTS, RunningService
from web.access import CONTENT_SECURITY_POLICY

WAIT_MS = 15_000


async def test_the_api_page_renders_the_operations_under_the_csp(
    service: RunningService, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    console: list[str] = []
    errors: list[str] = []
    elsewhere: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            console.append(f"{message.type}: {message.text}")

    def on_request(request: Request) -> None:
        if not request.url.startswith((service.url, "data:")):
            elsewhere.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", on_request)

    response = await page.goto(f"{service.url}/api/docs")  # no login: the page is public
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("IOC")

    health = page.locator(".opblock-summary-path[data-path='/api/v1/health']")
    await expect(health).to_be_visible()
    await expect(page.locator(".opblock-summary-path[data-path='/api/v1/alerts']")).to_have_count(1)
    await health.click()  # expand: the operation's parameters, responses and "Try it out"
    operation = page.locator("#operations-health-get_health, .opblock-get.is-open").first
    await expect(operation.locator(".try-out__btn")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    await context.close()

    violations = [m for m in console if "Content Security Policy" in m or "Refused" in m]
    assert violations == [], violations
    assert console == [] and errors == [], (console, errors)
    assert elsewhere == [], elsewhere


async def test_the_vendor_files_are_public_and_carry_the_security_headers(
    service: RunningService,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{service.url}/vendor/swagger-ui/swagger-ui-bundle.js") as response,
    ):
        assert response.status == 200
        assert "javascript" in response.headers["Content-Type"]
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
