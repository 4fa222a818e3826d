"""The catalogue of problem types: each defined once, raised by name, counted from its own
definition, published in the docs (OpenAPI: tests/api/test_openapi.py)."""

from __future__ import annotations

from pathlib import Path

from gateway import problem_types
from gateway.metrics import Metrics
from gateway.problem_types import (
    INVALID_DOCUMENT,
    KEY_REVOKED,
    PROBLEM_BASE,
    UNKNOWN_TYPE,
    catalogue,
)
from gateway.problems import DocumentError, GatewayError, SignatureError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "problems.md"


def _subclasses(root: type[GatewayError]) -> list[type[GatewayError]]:
    found = []
    for sub in root.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_error_class_defaults_to_a_catalogued_type() -> None:
    known = set(catalogue())
    assert all(cls.default in known for cls in [GatewayError, *_subclasses(GatewayError)])


def test_signature_errors_are_counted_as_signature_failures() -> None:
    for cls in [SignatureError, *_subclasses(SignatureError)]:
        assert cls.default.counted_as == "signature", cls


def test_types_have_both_titles_and_a_stable_uri() -> None:
    types = list(catalogue())
    assert len({p.slug for p in types}) == len(types) >= 60
    for p in types:
        assert p.title and p.title_zh and p.title != p.title_zh, p.slug
        assert p.uri == PROBLEM_BASE + p.slug and 400 <= p.status <= 599
    assert KEY_REVOKED.titled("zh") == "密钥已吊销" and KEY_REVOKED.titled("en") == "Key revoked"


def test_an_error_carries_the_type_it_was_raised_with() -> None:
    error = DocumentError("unknown document type x", UNKNOWN_TYPE)
    body = error.problem_body("/v1/messages")
    assert (body["type"], body["status"], body["title"]) == (
        PROBLEM_BASE + "unknown-type",
        422,
        "Unknown document type",
    )
    assert DocumentError("bad").problem is INVALID_DOCUMENT


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_refusals_are_counted_from_the_type_definition() -> None:
    metrics = Metrics(["t.v1"], ["d"])
    metrics.count_refusal(SignatureError("revoked", KEY_REVOKED))
    metrics.count_refusal(DocumentError("bad", extra={"document_type": "t.v1"}))
    metrics.count_refusal(DocumentError("no such type", UNKNOWN_TYPE))
    assert _sample(metrics, "zjx_messages_rejected_total", reason="key-revoked") == 1
    assert _sample(metrics, "zjx_signature_failures_total", reason="key-revoked") == 1
    assert _sample(metrics, "zjx_validation_failures_total", type="t.v1") == 1
    assert _sample(metrics, "zjx_messages_rejected_total", reason="unknown-type") == 1
    assert _sample(metrics, "zjx_validation_failures_total", type="other") == 0


def test_the_docs_list_the_catalogue() -> None:
    assert DOCS.read_text(encoding="utf-8") == problem_types.markdown(), (
        "run: python -m gateway.problem_types > docs/problems.md"
    )
