"""The console in a real headless Chromium against a real gateway, on both stores: log in,
every page with no script error and a screenshot, a route edit with dry run and rollback, a
dead letter replayed, the language switch, and forged or cross-site forms refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser

from gateway.clock import ManualClock
from gateway.testing import GatewayHandle, default_config, running_gateway
from tests.cases.conftest import doc_type
from tests.cases.conftest import example as case_example
from tests.console.conftest import admin_token, chromium, log_in
from tests.exchange.conftest import DIAGNOSIS, FlakyEndpoint, example, serve

pytestmark = pytest.mark.asyncio(loop_scope="module")  # the module's one browser lives there
START = datetime(2026, 7, 24, 1, 0, tzinfo=UTC)
HOSPITAL = "330784.health.h001"
RECOGNITION = "330784.hrss.recognition"
NFRA = "330700.nfra"
CASE = "GS-330784-2026-000731"
NOTICE = doc_type("case_notice")


@dataclass
class Setup:
    gw: GatewayHandle
    endpoint: FlakyEndpoint
    token: str


@asynccontextmanager
async def gateway_with_work(tmp_path: Path, database: str | None) -> AsyncIterator[Setup]:
    """A gateway whose recognition centre pushes to an endpoint that answers 410 Gone, with
    one open case and the dead letters the 410 made."""
    endpoint = FlakyEndpoint()
    endpoint.status_when_down = 410
    async with serve(endpoint.app()) as url:
        config = default_config(push={RECOGNITION: f"{url}/inbound"})
        async with running_gateway(
            tmp_path / "gw",
            config=config,
            clock=ManualClock(START),
            run_dispatcher=False,
            database=database,
        ) as gw:
            press = case_example("application_form", "workplace_press")
            await gw.client("330784.zlb").submit(doc_type("application_form"), press)
            await gw.client(HOSPITAL).submit(DIAGNOSIS, example("medical_diagnosis"))
            assert gw.dispatcher is not None
            await gw.dispatcher.run_once()
            yield Setup(gw, endpoint, admin_token(gw.data_dir))


async def _admin_get(gw: GatewayHandle, path: str) -> Any:
    headers = {"Authorization": f"Bearer {admin_token(gw.data_dir)}"}
    async with gw.session.get(f"{gw.base_url}{path}", headers=headers) as response:
        assert response.status == 200
        return await response.json()


async def test_login_and_every_page_without_script_errors(
    tmp_path: Path, database: str | None, browser: Browser
) -> None:
    async with (
        gateway_with_work(tmp_path, database) as setup,
        chromium(browser, setup.gw.base_url) as run,
    ):
        page = await run.page()
        response = await page.goto("/console/")
        assert response is not None and re.search(r"/console/login$", page.url)
        assert "script-src" not in response.headers["content-security-policy"]
        assert "default-src 'none'" in response.headers["content-security-policy"]
        await run.screenshot(page, "login")
        await page.fill("#token", "not-a-token")
        await page.click("#login")
        assert await page.inner_text("[role=alert]") == "This is not an administrator token."
        await log_in(page, setup.token)
        cookie = next(c for c in await run.context.cookies() if c["name"] == "zjx_console")
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
            True,
            "Strict",
            "/console/",
        )
        dead = (await _admin_get(setup.gw, "/admin/v1/dead-letters"))["dead_letters"]
        assert len(dead) >= 1  # what was pushed into the 410; the rest waits for the endpoint
        assert await page.inner_text("#dead-now") == str(len(dead))
        assert CASE in await page.inner_text("#overview-cases")
        await run.screenshot(page, "overview")
        for name, path, marker in (
            ("departments", "/console/departments", "#departments"),
            ("department", f"/console/departments/{RECOGNITION}", "#endpoint-gone"),
            ("routes", "/console/routes", "#route-table"),
            ("versions", "/console/routes/versions", "#versions"),
            ("dead-letters", "/console/dead-letters", "#dead-letters"),
            ("cases", "/console/cases", "#cases"),
            ("case", f"/console/cases/{CASE}", "#timeline"),
            ("audit", "/console/audit?verify=1", "#verdict"),
        ):
            response = await page.goto(path)
            assert response is not None and response.status == 200, path
            assert await page.locator(marker).count() == 1, path
            await run.screenshot(page, name)
        assert "The chain is intact" in await page.inner_text("#verdict")
        run.assert_clean("status of 403")  # the refused login


async def test_route_edit_dry_run_and_rollback(
    tmp_path: Path, database: str | None, browser: Browser
) -> None:
    async with (
        running_gateway(tmp_path / "gw", database=database, run_dispatcher=False) as gw,
        chromium(browser, gw.base_url) as run,
    ):
        page = await run.page()
        await log_in(page, admin_token(gw.data_dir))
        await page.goto("/console/routes")
        table = await _admin_get(gw, "/admin/v1/routes")

        # a table that names an unknown department is refused whole, with the place named
        await page.fill("#routes-editor", '{"routes": [{"name": "x", "type": "t", "to": []}]}')
        await page.click("#save-routes")
        assert "routes[0]" in await page.inner_text("#edit-error")
        run.assert_clean("status of 422")
        run.problems.clear()
        assert (await _admin_get(gw, "/admin/v1/routes/versions"))["active"] == 0

        # a conditional route: notices that a case closed go to the insurers' regulator too
        conditional = {
            "name": "closed-to-insurer",
            "type": NOTICE,
            "to": [NFRA],
            "when": {"/data/kind": ["closed"]},
        }
        edited = {"routes": [*table["routes"], conditional]}
        await page.fill("#routes-editor", _json(edited))
        await page.fill("#note", "closed cases to the insurer")
        await page.click("#save-routes")
        assert "in force for the next message" in await page.inner_text("[role=status]")
        assert (await _admin_get(gw, "/admin/v1/routes"))["routes"] == edited["routes"]

        # the dry run says why the conditional route did not apply, with the value found
        event: dict[str, Any] = {"type": NOTICE, "source": "330784.onething", "data": {}}
        await page.fill("#event", _json(event))
        await page.click("#dry-run")
        row = page.locator('tr[data-route="closed-to-insurer"]')
        assert await row.get_attribute("class") == "unmatched"
        assert "/data/kind: absent" in _squash(await row.inner_text())
        event["data"] = {"kind": "stage_ready"}
        await page.fill("#event", _json(event))
        await page.click("#dry-run")
        assert 'found "stage_ready", expected one of ["closed"]' in _squash(await row.inner_text())
        assert NFRA not in await page.inner_text("#dry-recipients")
        event["data"] = {"kind": "closed"}
        await page.fill("#event", _json(event))
        await page.click("#dry-run")
        assert await row.get_attribute("class") == "matched"
        assert NFRA in await page.inner_text("#dry-recipients")
        await run.screenshot(page, "dry-run")

        # versions: the diff shows the added route; roll back to the configured table
        await page.click("#versions-link")
        assert '+    "name": "closed-to-insurer",' in await page.inner_text("#diff")
        await run.screenshot(page, "versions-diff")
        await page.click("#rollback-0")
        assert "Rolled back" in await page.inner_text("[role=status]")
        assert (await _admin_get(gw, "/admin/v1/routes"))["routes"] == table["routes"]
        await page.goto("/console/routes")
        await page.fill("#event", _json(event))
        await page.click("#dry-run")
        assert await page.locator('tr[data-route="closed-to-insurer"]').count() == 0
        assert NFRA not in await page.inner_text("#dry-recipients")
        audit = await _admin_get(gw, "/admin/v1/audit?action=routes.rolled_back")
        assert [(e["actor"], e["target"]) for e in audit["entries"]] == [
            ("admin:bootstrap", "routes:v0")
        ]
        run.assert_clean()


async def test_dead_letter_replayed_after_the_endpoint_is_saved_again(
    tmp_path: Path, database: str | None, browser: Browser
) -> None:
    async with (
        gateway_with_work(tmp_path, database) as setup,
        chromium(browser, setup.gw.base_url) as run,
    ):
        gw, dispatcher = setup.gw, setup.gw.dispatcher
        assert RECOGNITION in await gw.store.gone_endpoints()
        page = await run.page()
        await log_in(page, setup.token)

        # the endpoint is back: saving it again clears the gone mark (delivery settings)
        setup.endpoint.up = True
        await page.goto(f"/console/departments/{RECOGNITION}")
        assert "410" in await page.inner_text("#endpoint-gone")
        await page.select_option("#mode", "push")
        await page.click("#save-delivery")
        assert "Delivery settings saved" in await page.inner_text("[role=status]")
        assert RECOGNITION not in await gw.store.gone_endpoints()
        assert await page.locator("#endpoint-gone").count() == 0

        # the delivery the 410 dead-lettered is replayed; those that waited go with it
        await page.goto("/console/dead-letters")
        letters = (await _admin_get(gw, "/admin/v1/dead-letters"))["dead_letters"]
        (first, *others) = [d["sequence"] for d in letters if d["recipient"] == RECOGNITION]
        waiting = (await gw.store.stats(gw.clock.now())).pending_by_recipient.get(RECOGNITION, 0)
        row = f'[id="dead-{first}-{RECOGNITION}"]'
        await page.click(f"{row} button.replay")
        assert "Replayed" in await page.inner_text("[role=status]")
        assert await page.locator(row).count() == 0
        await dispatcher.run_once()
        deliveries = {d.recipient: d for d in await gw.store.deliveries_for(first)}
        assert deliveries[RECOGNITION].state == "delivered"
        stats = await gw.store.stats(gw.clock.now())
        assert stats.pending_by_recipient.get(RECOGNITION, 0) == 0
        assert len(setup.endpoint.received) == 1 + waiting  # the replayed one and the waiting
        still = (await _admin_get(gw, "/admin/v1/dead-letters"))["dead_letters"]
        assert [d["sequence"] for d in still if d["recipient"] == RECOGNITION] == others
        audit = await _admin_get(gw, "/admin/v1/audit?action=delivery.replayed")
        assert [e["actor"] for e in audit["entries"]] == ["admin:bootstrap"]
        run.assert_clean()


async def test_language_switch_and_forged_forms_refused(
    tmp_path: Path, database: str | None, browser: Browser
) -> None:
    async with (
        running_gateway(tmp_path / "gw", database=database, run_dispatcher=False) as gw,
        chromium(browser, gw.base_url, locale="zh-CN") as run,
        serve(_attacker(gw.base_url)) as attacker,
    ):
        page = await run.page()
        await page.goto("/console/login")
        assert await page.inner_text("#login") == "登录"  # the browser's language decides
        await log_in(page, admin_token(gw.data_dir))
        assert await page.inner_text("h1") == "概览"
        await run.screenshot(page, "overview-zh")
        await page.goto("/console/routes")
        await page.click("#lang-en")  # the switch overrides, and stays on the same page
        assert page.url.endswith("/console/routes")
        assert await page.inner_text("h1") == "Routes"
        await page.goto("/console/dead-letters")
        assert await page.inner_text("h1") == "Dead letters"
        await page.click("#lang-zh")
        assert await page.inner_text("h1") == "死信"

        # a form whose CSRF token was tampered with changes nothing
        await page.goto(f"/console/departments/{HOSPITAL}")
        await page.evaluate(
            "document.querySelector('form[action$=\"/disable\"] input[name=csrf]').value='x'"
        )
        await page.click("#toggle-enabled")
        assert "表单已过期" in await page.inner_text("[role=alert]")
        assert gw.config.departments[HOSPITAL].enabled

        # another site's form posting here: the Strict cookie is not sent, nothing changes
        other = await run.context.new_page()  # not the console's: its errors are not ours
        await other.goto(attacker.replace("127.0.0.1", "localhost") + "/")
        await other.click("#go")
        await other.wait_for_load_state()
        assert "/console/login" in other.url
        assert gw.config.departments[HOSPITAL].enabled
        refused = await _admin_get(gw, "/admin/v1/audit?action=department.disabled")
        assert refused["entries"] == []
        run.assert_clean("status of 403")  # the tampered form's refusal page


def _attacker(target: str) -> web.Application:
    """Another origin's page with a form aimed at the console (no CSRF token to give)."""
    html = (
        f'<form method="post" action="{target}/console/departments/{HOSPITAL}/disable">'
        '<input type="hidden" name="csrf" value="guess"><button id="go">win</button></form>'
    )

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    return app


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=2)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)
