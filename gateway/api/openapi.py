"""``/openapi.json``: the hand-written description (``openapi.json`` beside this file) with
each operation's problem responses added from the problem catalogue.

Each handler declares the problem types it can answer with (``@answers(...)``, next to its
route); every operation can also answer with ``COMMON``. The document lists them per status
(``type`` an enum of the types' URIs, described by their titles) and the whole catalogue under
``x-problem-types`` with titles in English and Chinese, so a department's developer sees in
one place what each call can refuse and why.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import orjson
from aiohttp import web

from gateway.problem_types import (
    ADMIN_STATE_CHANGED,
    ADMIN_TOKEN_INVALID,
    ALGORITHM_REFUSED,
    ATTACHMENT_MISMATCH,
    ATTACHMENT_MISSING,
    ATTACHMENT_NOT_YOURS,
    BAD_SIGNATURE,
    BODY_TOO_LARGE,
    BYTE_ORDER_MARK,
    CASE_ID_MISMATCH,
    CLOCK_SKEW,
    CRITICAL_HEADER_REFUSED,
    DEPARTMENT_DISABLED,
    DUPLICATE_KEY,
    HEADERS_TOO_LARGE,
    ID_REUSED,
    INTERNAL,
    INVALID_DOCUMENT,
    INVALID_ENVELOPE,
    INVALID_EVENT,
    INVALID_JSON,
    INVALID_PARAMETER,
    INVALID_UTF8,
    KEY_EXPIRED,
    KEY_REVOKED,
    LONE_SURROGATE,
    MALFORMED_MESSAGE,
    MALFORMED_REQUEST,
    NON_FINITE_NUMBER,
    NOT_FOUND,
    REQUEST_TIMEOUT,
    ROLE_FORBIDDEN,
    SCHEMA_MISMATCH,
    SOURCE_MISMATCH,
    STORAGE_ENCRYPTION,
    STORE_UNAVAILABLE,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_MISSING,
    TOKEN_REPLAYED,
    TOO_DEEP,
    TOO_MANY_CONNECTIONS,
    TYPE_NOT_ALLOWED,
    UNDECODABLE_BODY,
    UNKNOWN_KEY,
    UNKNOWN_TYPE,
    UNROUTABLE,
    UNSUPPORTED_CONTENT_ENCODING,
    UNSUPPORTED_MEDIA_TYPE,
    URI_TOO_LONG,
    ProblemType,
    catalogue,
)

Handler = TypeVar("Handler", bound=Callable[..., Any])
_ATTRIBUTE = "__problem_types__"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

#: every operation: what the transport answers below the app (gateway.api.transport; a body's
#: coding and its read timeout in the read_body middleware), a bad parameter (middleware),
#: the store away, a stored record that does not decrypt (encryption at rest), a fault of the
#: gateway. (``client-closed-request`` reaches no one.)
COMMON = (
    MALFORMED_REQUEST,
    URI_TOO_LONG,
    HEADERS_TOO_LARGE,
    UNSUPPORTED_CONTENT_ENCODING,
    UNDECODABLE_BODY,
    REQUEST_TIMEOUT,
    TOO_MANY_CONNECTIONS,
    INVALID_PARAMETER,
    STORE_UNAVAILABLE,
    STORAGE_ENCRYPTION,
    INTERNAL,
)
#: a department's short-lived token (DESIGN section 6)
DEPARTMENT_AUTH = (TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_REPLAYED)
#: an administrator's bearer token and its role
ADMIN_AUTH = (TOKEN_MISSING, ADMIN_TOKEN_INVALID, ROLE_FORBIDDEN)
#: a JSON body read by the strict reader (DESIGN section 3)
STRICT_JSON = (
    BODY_TOO_LARGE,
    INVALID_JSON,
    INVALID_UTF8,
    BYTE_ORDER_MARK,
    LONE_SURROGATE,
    NON_FINITE_NUMBER,
    DUPLICATE_KEY,
    TOO_DEEP,
)
#: a signed message's envelope and event
SIGNED_MESSAGE = (*STRICT_JSON, MALFORMED_MESSAGE, INVALID_ENVELOPE, INVALID_EVENT)
#: an administrative change saved over another instance's
ADMIN_CHANGE = (*ADMIN_AUTH, ADMIN_STATE_CHANGED)
#: ``POST /v1/messages``: every check of gateway/acceptance.py, in its order
ACCEPTANCE = (
    UNSUPPORTED_MEDIA_TYPE,
    *SIGNED_MESSAGE,
    BAD_SIGNATURE,
    ALGORITHM_REFUSED,
    CRITICAL_HEADER_REFUSED,
    UNKNOWN_KEY,
    KEY_EXPIRED,
    KEY_REVOKED,
    SOURCE_MISMATCH,
    DEPARTMENT_DISABLED,
    TYPE_NOT_ALLOWED,
    CLOCK_SKEW,
    UNKNOWN_TYPE,
    SCHEMA_MISMATCH,
    INVALID_DOCUMENT,
    CASE_ID_MISMATCH,
    ID_REUSED,
    UNROUTABLE,
    ATTACHMENT_MISSING,
    ATTACHMENT_NOT_YOURS,
    ATTACHMENT_MISMATCH,
)


def answers(*problems: ProblemType | Iterable[ProblemType]) -> Callable[[Handler], Handler]:
    """Declare the problem types a handler can answer with (besides ``COMMON``)."""
    flat: list[ProblemType] = []
    for item in problems:
        flat.extend([item] if isinstance(item, ProblemType) else item)

    def mark(handler: Handler) -> Handler:
        setattr(handler, _ATTRIBUTE, tuple(dict.fromkeys(flat)))
        return handler

    return mark


def declared(handler: Callable[..., Any]) -> tuple[ProblemType, ...]:
    """What ``handler`` declared with ``answers``, then ``COMMON``."""
    own: tuple[ProblemType, ...] = getattr(handler, _ATTRIBUTE, ())
    return tuple(dict.fromkeys((*own, *COMMON)))


def document(router: web.UrlDispatcher) -> dict[str, Any]:
    """The OpenAPI document for the routes of ``router``."""
    spec = copy.deepcopy(_base())
    for route in router.routes():
        if route.method not in _METHODS or route.resource is None:
            continue
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.resource.canonical)
        operation = spec["paths"].get(path, {}).get(route.method.lower())
        if operation is not None:
            responses = operation.setdefault("responses", {})
            problems = declared(route.handler)
            if "{" in path:  # a path parameter of the wrong shape misses the route: not-found
                problems = (*problems, NOT_FOUND)
            for status, response in _responses(problems).items():
                responses.setdefault(status, response)
    spec["x-problem-types"] = [
        {
            "type": p.uri,
            "status": p.status,
            "title": p.title,
            "title_zh": p.title_zh,
            "detail_zh": p.detail_zh,
        }
        for p in catalogue()
    ]
    return spec


def with_live_values(
    spec: dict[str, Any], types: Iterable[str], departments: Iterable[str]
) -> dict[str, Any]:
    """The document as this gateway serves it now: ``DocumentType`` lists the types it has a
    schema for and ``KnownDepartment`` the departments in force, so a body valid by the
    description names nothing the gateway does not know (admin bodies: departments, routes).
    """
    schemas = spec["components"]["schemas"]
    schemas["DocumentType"] = {**schemas["DocumentType"], "enum": sorted(types)}
    schemas["KnownDepartment"] = {**schemas["KnownDepartment"], "enum": sorted(departments)}
    return spec


def _responses(problems: Iterable[ProblemType]) -> dict[str, Any]:
    by_status: dict[int, list[ProblemType]] = {}
    for problem in problems:
        by_status.setdefault(problem.status, []).append(problem)
    return {
        str(status): {
            "description": "; ".join(f"{p.slug}: {p.title}" for p in found),
            "content": {
                "application/problem+json": {
                    "schema": {
                        "allOf": [{"$ref": "#/components/schemas/Problem"}],
                        "properties": {"type": {"enum": [p.uri for p in found]}},
                    }
                }
            },
        }
        for status, found in sorted(by_status.items())
    }


@cache
def _base() -> dict[str, Any]:
    body = resources.files("gateway.api").joinpath("openapi.json").read_bytes()
    spec: dict[str, Any] = orjson.loads(body)
    return spec
