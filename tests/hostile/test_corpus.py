"""The hostile corpus (issue 12): every vector of ``vectors.jsonl`` and every invalid schema
example, sent as a careless or hostile department would, on both stores.

Each must get its 4xx problem (``application/problem+json``, the expected status and type,
a title and a detail), and afterwards: nothing stored, the server healthy, no traceback and
no personal data in the log. One gateway per store serves the whole corpus (its transport
timeouts shortened so the slow-client vectors take half a second).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
import structlog

from gateway.api.admin import ADMIN_TOKENS
from gateway.configuration.model import TransportLimits
from gateway.logs import configure_logging
from gateway.masking import MaskingFilter, holds_personal_data, sensitive_key
from gateway.testing import GatewayHandle, default_config, running_gateway
from tests.conftest import STORES, _in_thread, reset_schema
from tests.hostile.corpus import PROBLEM, REPO, Corpus, invalid_examples, load_vectors

VECTORS = load_vectors() + invalid_examples()
AREAS = {"transport", "json", "jws", "event", "document", "token", "sse", "admin"}
LIMITS = TransportLimits(head_timeout=0.5, body_timeout=0.5, streams_per_department=2)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: planted in vectors; never in a log line
PERSONAL = ("11010519491231002X", "13812345678", "6222020200112233445", "张三")


def test_the_corpus_is_large_and_covers_every_area() -> None:
    assert len(VECTORS) >= 200
    assert {v["area"] for v in VECTORS} == AREAS
    ids = [v["id"] for v in VECTORS]
    assert len(ids) == len(set(ids))


class Shared:
    def __init__(self, corpus: Corpus, log: io.StringIO) -> None:
        self.corpus = corpus
        self.log = log


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=STORES)
async def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Shared]:
    database = None
    if request.param == "postgresql":
        database = request.getfixturevalue("pg_database")
        _in_thread(reset_schema(database))
    stream = io.StringIO()
    configure_logging(logging.INFO, stream)
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    logging.getLogger().addHandler(handler)
    config = dataclasses.replace(default_config(), http=LIMITS)
    data_dir = tmp_path_factory.mktemp(f"hostile-{request.param}")
    try:
        async with running_gateway(data_dir, config=config, database=database) as gw:
            tokens = {}
            for role in ("auditor", "operator"):
                tokens[role] = f"{role}-token-for-the-corpus"
                gw.app[ADMIN_TOKENS].add(role, role, tokens[role])
            tokens["admin"] = (data_dir / "admin-token").read_text().strip()
            yield Shared(Corpus(gw, tokens), stream)
    finally:
        logging.getLogger().removeHandler(handler)
        structlog.reset_defaults()


def _planted(vector: dict[str, Any]) -> set[str]:
    """Personal values a vector carries: the global plants, and for a schema example the
    values under personal keys and every ID or mobile number in it."""
    values = set(PERSONAL)
    if "example" in vector:
        import json

        def walk(node: Any, key: str = "") -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(v, k)
            elif isinstance(node, list):
                for item in node:
                    walk(item, key)
            elif (
                isinstance(node, str)
                and len(node) >= 2
                and (sensitive_key(key) or holds_personal_data(node))
            ):
                values.add(node)

        walk(json.loads((REPO / vector["example"]).read_text(encoding="utf-8")))
    return values


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
async def test_hostile_input_is_refused_cleanly(shared: Shared, vector: dict[str, Any]) -> None:
    corpus, gw = shared.corpus, shared.corpus.gw
    logged_before = shared.log.tell()
    configured = _configured(gw)
    answer = await corpus.send(vector)
    expect = vector["expect"]

    assert answer.status == expect["status"], answer.body[:300]
    assert answer.content_type == "application/problem+json"
    problem = answer.problem()
    if "type" in expect:
        assert problem["type"] == PROBLEM + expect["type"], problem
    if "pointer" in expect:
        assert expect["pointer"] in {e["pointer"] for e in problem.get("errors", [])}, problem
    assert problem["status"] == answer.status and problem["title"] and problem["detail"]
    assert "Traceback" not in problem["detail"]

    assert await gw.store.messages_after(0, EPOCH, 1) == [], "a refused message was stored"
    assert _configured(gw) == configured, "a refused change changed the configuration"
    async with gw.session.get(f"{gw.base_url}/healthz") as health:
        assert health.status == 200

    shared.log.seek(logged_before)
    logged = shared.log.read()
    assert "Traceback" not in logged
    assert not re.search(r'"level": ?"(error|critical)"', logged), logged[-2000:]
    for value in _planted(vector):
        assert value not in logged, f"{value!r} reached the log"
    assert not any(value in answer.body.decode("utf-8", "replace") for value in PERSONAL)


def _configured(gw: GatewayHandle) -> tuple[object, ...]:
    """What a refused administrator call must leave as it was."""
    config = gw.config
    return (sorted(config.departments.items()), config.routes)


def test_the_example_directory_is_where_the_corpus_looks() -> None:
    assert len(invalid_examples()) >= 80
    assert all((REPO / v["example"]).is_file() for v in invalid_examples())
