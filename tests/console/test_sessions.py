"""The console's sessions, roles and form checks over plain HTTP (no browser needed to see a
status code or a cookie), and its message catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from gateway.administration import ROLES
from gateway.api.appkeys import ADMIN_TOKENS
from gateway.console import templates
from gateway.console.session import Sessions
from gateway.console.text import Catalogue
from gateway.delivery.breaker import State
from gateway.problem_types import INVALID_JSON
from gateway.testing import GatewayHandle, running_gateway

HOSPITAL = "330784.health.h001"
TEMPLATES = Path(__file__).resolve().parents[2] / "gateway" / "console" / "templates"


async def _log_in(gw: GatewayHandle, token: str) -> aiohttp.ClientSession:
    """A client with its own cookie jar (IP-address cookies allowed), logged in."""
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with client.get(f"{gw.base_url}/console/login") as response:
        csrf = _csrf(await response.text())
    async with client.post(
        f"{gw.base_url}/console/login",
        data={"csrf": csrf, "token": token},
        allow_redirects=False,
    ) as response:
        assert (response.status, response.headers["Location"]) == (303, "/console/")
    return client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def _form_token(client: aiohttp.ClientSession, url: str) -> str:
    async with client.get(url) as response:
        return _csrf(await response.text())


async def test_roles_as_in_the_api(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        gw.app[ADMIN_TOKENS].add("auditor-1", "auditor", "auditor-token")
        gw.app[ADMIN_TOKENS].add("operator-1", "operator", "operator-token")
        dept_page = f"{gw.base_url}/console/departments/{HOSPITAL}"
        async with await _log_in(gw, "auditor-token") as auditor:
            async with auditor.get(dept_page) as response:
                html = await response.text()
                assert response.status == 200 and "toggle-enabled" not in html
            csrf = _csrf(html)  # the logout form's token: valid, but the role is not
            async with auditor.post(
                f"{dept_page}/disable", data={"csrf": csrf}, allow_redirects=False
            ) as response:
                assert response.status == 403
                assert "Your role may not do this." in await response.text()
            assert gw.config.departments[HOSPITAL].enabled
            async with auditor.get(f"{gw.base_url}/console/audit") as response:
                assert response.status == 200
        async with await _log_in(gw, "operator-token") as operator:
            async with operator.get(f"{gw.base_url}/console/audit") as response:
                assert response.status == 403  # the audit API is for admins and auditors
            csrf = await _form_token(operator, f"{gw.base_url}/console/dead-letters")
            async with operator.post(
                f"{gw.base_url}/console/dead-letters/99/{HOSPITAL}/replay",
                data={"csrf": csrf},
                allow_redirects=False,
            ) as response:
                # allowed for the role; the service answers that there is no such letter
                assert response.status == 404
                assert "no dead letter for this sequence" in await response.text()


async def test_sessions_csrf_and_headers(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        token = (gw.data_dir / "admin-token").read_text().strip()
        disable = f"{gw.base_url}/console/departments/{HOSPITAL}/disable"
        async with await _log_in(gw, token) as admin:
            async with admin.get(f"{gw.base_url}/console/") as response:
                headers = response.headers
                assert headers["Content-Security-Policy"].startswith("default-src 'none'")
                assert (headers["X-Frame-Options"], headers["Cache-Control"]) == (
                    "DENY",
                    "no-store",
                )
                set_cookie = headers["Set-Cookie"]  # renewed on every page
                assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
            csrf = await _form_token(admin, f"{gw.base_url}/console/departments/{HOSPITAL}")
            for data, extra in (
                ({}, {}),  # no token
                ({"csrf": csrf + "x"}, {}),  # a wrong one
                ({"csrf": csrf}, {"Origin": "http://elsewhere.example"}),  # right, cross-origin
                ({"csrf": csrf}, {"Sec-Fetch-Site": "cross-site"}),
            ):
                async with admin.post(
                    disable, data=data, headers=extra, allow_redirects=False
                ) as response:
                    assert response.status == 403, (data, extra)
            assert gw.config.departments[HOSPITAL].enabled
            async with admin.post(disable, data={"csrf": csrf}, allow_redirects=False) as response:
                assert response.status == 303
            assert not gw.config.departments[HOSPITAL].enabled

            # a refused edit, for a visitor who chose Chinese: the catalogue's Chinese problem
            async with admin.get(f"{gw.base_url}/console/language?set=zh&next=/console/routes"):
                pass
            async with admin.post(
                f"{gw.base_url}/console/routes", data={"csrf": csrf, "routes": "{"}
            ) as response:
                page = await response.text()
            assert response.status == 400
            assert (
                f"<strong>{INVALID_JSON.title_zh}</strong>: {INVALID_JSON.detail_zh}。详情："
                in page
            )

            # a cookie changed by one character is no session; logging out ends this one
            cookie = admin.cookie_jar.filter_cookies(URL(gw.base_url + "/console/"))["zjx_console"]
            forged = cookie.value[:-1] + ("A" if cookie.value[-1] != "A" else "B")
            async with gw.session.get(
                f"{gw.base_url}/console/",
                headers={"Cookie": f"zjx_console={forged}"},
                allow_redirects=False,
            ) as response:
                assert (response.status, response.headers["Location"]) == (303, "/console/login")
            async with admin.post(
                f"{gw.base_url}/console/logout", data={"csrf": csrf}, allow_redirects=False
            ) as response:
                assert response.headers["Location"] == "/console/login"
            async with gw.session.get(
                f"{gw.base_url}/console/",
                headers={"Cookie": f"zjx_console={cookie.value}"},
                allow_redirects=False,
            ) as response:
                assert response.status == 303  # the old cookie no longer opens a page


async def test_revoking_a_token_ends_its_console_sessions(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        admin = {"Authorization": f"Bearer {(gw.data_dir / 'admin-token').read_text().strip()}"}
        async with gw.session.post(
            f"{gw.base_url}/admin/v1/tokens",
            json={"name": "night-operator", "role": "operator"},
            headers=admin,
        ) as response:
            assert response.status == 201
            token = (await response.json())["token"]
        async with await _log_in(gw, token) as operator:
            async with operator.get(f"{gw.base_url}/console/dead-letters") as response:
                assert response.status == 200
            async with gw.session.delete(
                f"{gw.base_url}/admin/v1/tokens/night-operator", headers=admin
            ) as response:
                assert response.status == 200
            async with operator.get(
                f"{gw.base_url}/console/dead-letters", allow_redirects=False
            ) as response:
                assert (response.status, response.headers["Location"]) == (303, "/console/login")


def test_session_expires_when_idle_and_after_eight_hours() -> None:
    now = [1_000_000.0]
    sessions = Sessions(b"k" * 32, now=lambda: now[0])
    session, cookie = sessions.issue("bootstrap", "ab" * 32)
    assert sessions.read(cookie) == session
    now[0] += 29 * 60
    session, cookie = sessions.renew(session)  # a page served: the idle clock restarts
    now[0] += 29 * 60
    assert sessions.read(cookie) is not None
    now[0] += 2 * 60
    assert sessions.read(cookie) is None  # 31 minutes idle
    session, cookie = sessions.issue("bootstrap", "ab" * 32)
    for _ in range(17):  # a page every 29 minutes: renewed, but never past 8 hours
        now[0] += 29 * 60
        session, cookie = sessions.renew(session)
    assert sessions.read(cookie) is None
    assert Sessions(b"j" * 32).read(cookie) is None  # another secret


def test_every_message_has_both_languages_and_every_page_key_exists() -> None:
    catalogue = Catalogue.load()
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r't\("([a-z_.-]+)"', template.read_text(encoding="utf-8")))
    dynamic = {key for key in used if key.endswith((".", "_"))}  # completed by the page
    assert used - dynamic <= catalogue.keys()
    families = {
        "flag.": ("ok", "near", "overdue", "met", "missed"),  # CaseState.deadline_flag
        "role.": ROLES,
        "breaker.": tuple(str(s) for s in State),
        "delivery.": ("push", "pull"),
        "case.status_": ("open", "closed"),
        "traffic.": ("accepted", "rejected", "delivered", "dead_lettered"),
        "nav.": ("overview", "departments", "routes", "dead_letters", "cases", "audit"),
        "refusal.": tuple(
            reason.replace(" ", "_")
            for reason in (
                "not a known department",  # Router._refusal
                "department disabled",
                "is the sender",
                "may not receive this type",
            )
        ),
    }
    assert set(families) == dynamic
    for prefix, endings in families.items():
        assert {prefix + ending for ending in endings} <= catalogue.keys(), prefix
    for key in sorted(catalogue.keys()):  # every message is translated, none left in English
        assert catalogue.text("zh", key) != catalogue.text("en", key), key
    assert catalogue.text("zh", "routes.active", version=3) == "当前生效的是第 3 版。"
    with pytest.raises(KeyError):
        catalogue.text("en", "no.such.key")
    assert templates().get_template("base.html").name == "base.html"


async def test_cases_page_names_the_stages_in_the_visitors_language(
    tmp_path: Path, database: str | None
) -> None:
    """The stage counts read "open in recognition" in English and use the definition's
    Chinese stage titles ("工伤认定", config/cases/work_injury.toml) in Chinese."""
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        token = (gw.data_dir / "admin-token").read_text().strip()
        async with await _log_in(gw, token) as admin:
            async with admin.get(f"{gw.base_url}/console/cases") as response:
                assert "open in recognition" in await response.text()
            async with admin.get(f"{gw.base_url}/console/language?set=zh&next=/console/cases"):
                pass
            async with admin.get(f"{gw.base_url}/console/cases") as response:
                html = await response.text()
    assert "处于工伤认定阶段" in html and "recognition" not in html


def test_cases_page_shows_the_reform_figures_of_closed_cases() -> None:
    catalogue = Catalogue.load()
    closed = {
        "baseline_days": 180.0,
        "closed": 2,
        "days_saved": 331.5,
        "groups": [
            {
                "year": 2019,
                "outcome": "completed",
                "count": 2,
                "median_days": 14.25,
                "p90_days": 26.1,
                "baseline_days": 180.0,
                "days_saved": 331.5,
            }
        ],
    }
    html = (
        templates()
        .get_template("cases.html")
        .render(
            t=lambda key, **params: catalogue.text("zh", key, **params),
            lang="zh",
            who=None,
            csrf="",
            here="/console/cases",
            can_admin=False,
            can_handle=False,
            can_audit=False,
            problem=None,
            notice=None,
            enabled=True,
            closed=closed,
            cases=[],
            by_stage=[("recognition", 0)],
            by_flag=[],
        )
    )
    assert "已办结 2 件；相对 180.0 天的基准共节省 331.5 天。" in html
    assert "<td>2019</td><td>completed</td><td>2</td><td>14.25</td><td>26.1</td>" in html
