"""Problem titles and details in Chinese when Accept-Language prefers it, English otherwise,
from the one catalogue of problem types (gateway/problem_types.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gateway import problem_types
from gateway.testing import GatewayHandle, running_gateway

CJK = re.compile(r"[\u4e00-\u9fff]")


async def _problem(
    gw: GatewayHandle, method: str, path: str, language: str | None, **kwargs: Any
) -> tuple[int, dict[str, str], dict[str, Any]]:
    headers = dict(kwargs.pop("headers", {}))
    if language is not None:
        headers["Accept-Language"] = language
    async with gw.session.request(
        method, f"{gw.base_url}{path}", headers=headers, **kwargs
    ) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


async def test_problems_follow_accept_language(tmp_path: Path, database: str | None) -> None:
    async with running_gateway(tmp_path, database=database, run_dispatcher=False) as gw:
        bad_json = {"data": b"{", "headers": {"Content-Type": "application/jose+json"}}
        status, headers, zh = await _problem(
            gw, "POST", "/v1/messages", "zh-CN,zh;q=0.9,en;q=0.8", **bad_json
        )
        _, en_headers, en = await _problem(gw, "POST", "/v1/messages", "en-US", **bad_json)
        assert status == 400
        assert zh["type"] == en["type"]  # the type, status and pointers never change
        kind = problem_types.by_slug(zh["type"].rsplit(":", 1)[1])
        assert (zh["title"], en["title"]) == (kind.title_zh, kind.title)
        assert zh["detail"] == f"{kind.detail_zh}。详情：{en['detail']}"
        assert (headers["Content-Language"], en_headers["Content-Language"]) == ("zh-CN", "en")
        assert headers["Vary"] == "Accept-Language"

        # not offered, or no header: English; Chinese refused outright: English
        for language in ("fr-FR", None, "zh;q=0, fr"):
            _, headers, body = await _problem(gw, "POST", "/v1/messages", language, **bad_json)
            assert (body["title"], headers["Content-Language"]) == (kind.title, "en")

        token = (gw.data_dir / "admin-token").read_text().strip()
        status, _, zh = await _problem(
            gw,
            "POST",
            "/admin/v1/departments/330784.nosuch/disable",
            "zh",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert (status, zh["title"]) == (404, "部门不存在")
        assert zh["detail"] == "部门不存在；请核对部门标识。详情：no department with this id"
        status, _, zh = await _problem(gw, "GET", "/no/such/page", "zh-CN")
        assert (status, zh["title"]) == (404, problem_types.NOT_FOUND.title_zh)


def test_every_problem_type_has_chinese_title_and_detail() -> None:
    for kind in problem_types.catalogue():
        assert CJK.search(kind.title_zh), kind.slug
        assert CJK.search(kind.detail_zh), kind.slug
        assert not kind.detail_zh.endswith(("。", "；")), kind.slug  # a detail follows it
