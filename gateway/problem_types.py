"""The catalogue of problem types (RFC 9457): every one the gateway answers with, defined once.

A problem type is its slug (the ``type`` URI is ``PROBLEM_BASE + slug``), its HTTP status and
its title in English and Chinese. Slugs are part of the public contract: departments branch on
them, so they are never renamed. Every raise site names its type from here
(``raise NotFoundError(detail, KEY_NOT_FOUND)``); the metrics count refusals by the same
definition (``counted_as``); ``/openapi.json`` lists each operation's types
(``gateway.api.openapi``); ``docs/problems.md`` is rendered from this module
(``python -m gateway.problem_types``).

Titles describe the type, never the occurrence (RFC 9457 section 3.1.3): the occurrence is in
``detail``, which names fields and JSON Pointers, never values (values are personal data).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

PROBLEM_BASE: Final = "urn:zj-exchange:problem:"

#: what else a refused message is counted as, beside ``zjx_messages_rejected`` by slug
CountedAs = Literal["signature", "document"]


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    title_zh: str
    counted_as: CountedAs | None = None

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def titled(self, language: str) -> str:
        """The title in ``language`` ("zh" or anything else for English)."""
        return self.title_zh if language == "zh" else self.title


_ALL: dict[str, ProblemType] = {}


def _define(
    slug: str, status: int, title: str, title_zh: str, counted_as: CountedAs | None = None
) -> ProblemType:
    if slug in _ALL:
        raise ValueError(f"problem type {slug} defined twice")
    problem = ProblemType(slug, status, title, title_zh, counted_as)
    _ALL[slug] = problem
    return problem


# --- the roots (each domain's default) -----------------------------------------------------

INTERNAL = _define("internal", 500, "Internal error", "内部错误")
MALFORMED_MESSAGE = _define("malformed-message", 400, "Malformed message", "消息格式错误")
BAD_SIGNATURE = _define("bad-signature", 401, "Signature refused", "签名无效", "signature")
INVALID_DOCUMENT = _define(
    "invalid-document", 422, "Document failed validation", "文书校验未通过", "document"
)
CONFIGURATION = _define("configuration", 500, "Configuration error", "配置错误")
UNAUTHORIZED = _define("unauthorized", 401, "Unauthorized", "未认证")
FORBIDDEN = _define("forbidden", 403, "Forbidden", "无权操作")
NOT_FOUND = _define("not-found", 404, "Not found", "资源不存在")
CONFLICT = _define("conflict", 409, "Conflict", "冲突")
UNROUTABLE = _define("unroutable", 422, "No recipient for this message", "消息无可投递的接收方")
STORE_UNAVAILABLE = _define("store-unavailable", 503, "Store unavailable", "存储暂不可用")

# --- HTTP (the request itself) --------------------------------------------------------------

METHOD_NOT_ALLOWED = _define("method-not-allowed", 405, "Method not allowed", "不支持该请求方法")
UNSUPPORTED_MEDIA_TYPE = _define(
    "unsupported-media-type", 415, "Unsupported media type", "不支持的媒体类型"
)
BODY_TOO_LARGE = _define("body-too-large", 413, "Body too large", "请求体过大")
HTTP_ERROR = _define("http-error", 400, "HTTP error", "HTTP 请求错误")
INVALID_PARAMETER = _define("invalid-parameter", 400, "Invalid parameter", "参数无效")
INVALID_BODY = _define("invalid-body", 400, "Invalid request body", "请求体无效")

# --- strict JSON (DESIGN section 3) ---------------------------------------------------------

INVALID_JSON = _define("invalid-json", 400, "Invalid JSON", "JSON 无效")
INVALID_UTF8 = _define("invalid-utf8", 400, "Invalid UTF-8", "UTF-8 编码无效")
BYTE_ORDER_MARK = _define(
    "byte-order-mark", 400, "Byte order mark not allowed", "不允许字节顺序标记(BOM)"
)
LONE_SURROGATE = _define("lone-surrogate", 400, "Lone surrogate in a string", "字符串含孤立代理项")
NON_FINITE_NUMBER = _define(
    "non-finite-number", 400, "NaN or Infinity not allowed", "不允许 NaN 或 Infinity"
)
DUPLICATE_KEY = _define("duplicate-key", 400, "Duplicate object key", "对象键重复")
TOO_DEEP = _define("too-deep", 400, "JSON nested too deeply", "JSON 嵌套过深")

# --- envelope, event and signatures ---------------------------------------------------------

INVALID_EVENT = _define("invalid-event", 400, "Invalid event", "事件(CloudEvents)无效")
INVALID_ENVELOPE = _define("invalid-envelope", 400, "Invalid JWS envelope", "JWS 封装无效")
ALGORITHM_REFUSED = _define(
    "algorithm-refused", 401, "Signature algorithm refused", "签名算法不被接受", "signature"
)
CRITICAL_HEADER_REFUSED = _define(
    "critical-header-refused",
    401,
    "Critical header not understood",
    "无法理解的关键头部(crit)",
    "signature",
)
UNKNOWN_KEY = _define("unknown-key", 401, "Unknown key", "未知密钥", "signature")
KEY_EXPIRED = _define(
    "key-expired", 401, "Key outside its validity window", "密钥不在有效期内", "signature"
)
KEY_REVOKED = _define("key-revoked", 401, "Key revoked", "密钥已吊销", "signature")
SOURCE_MISMATCH = _define(
    "source-mismatch",
    403,
    "Signer is not the event's source",
    "签名方与事件来源不一致",
    "signature",
)
RECEIPT_MISMATCH = _define(
    "receipt-mismatch", 400, "Receipt does not match the message", "回执与消息不符"
)
INVALID_KEY = _define("invalid-key", 422, "Unusable key", "密钥不可用")
KEY_FILE = _define("key-file", 500, "Unusable key file", "密钥文件不可用")

# --- what the sender may do, the document, routing ------------------------------------------

DEPARTMENT_DISABLED = _define("department-disabled", 403, "Department disabled", "部门已停用")
TYPE_NOT_ALLOWED = _define(
    "type-not-allowed", 403, "Document type not allowed for this sender", "该部门无权报送此类文书"
)
CLOCK_SKEW = _define(
    "clock-skew", 422, "Event time too far from the gateway's clock", "事件时间偏差过大"
)
UNKNOWN_TYPE = _define("unknown-type", 422, "Unknown document type", "未知文书类型")
SCHEMA_MISMATCH = _define(
    "schema-mismatch", 422, "dataschema does not match the type", "dataschema 与文书类型不符"
)
ID_REUSED = _define(
    "id-reused", 409, "Event id reused with another payload", "事件标识已被其他内容使用"
)

# --- department API -------------------------------------------------------------------------

TOKEN_MISSING = _define("token-missing", 401, "Bearer token missing", "缺少访问令牌")
TOKEN_INVALID = _define("token-invalid", 401, "Invalid token", "令牌无效")
TOKEN_EXPIRED = _define("token-expired", 401, "Token expired", "令牌已过期")
TOKEN_REPLAYED = _define("token-replayed", 401, "Token already used", "令牌已被使用")
MESSAGE_NOT_FOUND = _define("message-not-found", 404, "Message not found", "消息不存在")
INVALID_ACK = _define("invalid-ack", 400, "Invalid acknowledgement", "确认请求无效")
CASE_NOT_FOUND = _define("case-not-found", 404, "Case not found", "案件不存在")

# --- administration -------------------------------------------------------------------------

ADMIN_TOKEN_INVALID = _define(
    "admin-token-invalid", 403, "Not an administrator token", "不是管理员令牌"
)
ROLE_FORBIDDEN = _define("role-forbidden", 403, "Role may not do this", "该角色无权执行此操作")
ADMIN_STATE_CHANGED = _define(
    "admin-state-changed", 409, "Changed by another instance meanwhile", "配置已被其他实例修改"
)
DEPARTMENT_NOT_FOUND = _define("department-not-found", 404, "Department not found", "部门不存在")
DEPARTMENT_EXISTS = _define("department-exists", 409, "Department exists", "部门已存在")
INVALID_DEPARTMENT = _define("invalid-department", 422, "Invalid department", "部门定义无效")
KEY_NOT_FOUND = _define("key-not-found", 404, "Key not found", "密钥不存在")
KEY_EXISTS = _define("key-exists", 409, "Key exists", "密钥已存在")
INVALID_ROUTES = _define("invalid-routes", 422, "Invalid route table", "路由表无效")
ROUTE_VERSION_NOT_FOUND = _define(
    "route-version-not-found", 404, "Route version not found", "路由版本不存在"
)
INVALID_DRY_RUN = _define("invalid-dry-run", 400, "Invalid dry-run request", "路由试算请求无效")
INVALID_DELIVERY = _define("invalid-delivery", 422, "Invalid delivery settings", "投递设置无效")
DEAD_LETTER_NOT_FOUND = _define("dead-letter-not-found", 404, "Dead letter not found", "死信不存在")


def catalogue() -> Iterator[ProblemType]:
    """Every problem type, in the order defined."""
    return iter(_ALL.values())


def by_slug(slug: str) -> ProblemType:
    return _ALL[slug]


def markdown() -> str:
    """The catalogue as ``docs/problems.md`` shows it."""
    lines = [
        "# Problem types",
        "",
        "Every error the gateway answers is `application/problem+json` (RFC 9457) with one of",
        f"these types (`type` is `{PROBLEM_BASE}<slug>`). Generated from",
        "`gateway/problem_types.py` by `python -m gateway.problem_types > docs/problems.md`;",
        "`/openapi.json` lists the types each operation can answer with.",
        "",
        "| slug | status | title | 标题 | also counted as |",
        "|---|---|---|---|---|",
    ]
    for p in catalogue():
        counted = f"`zjx_{p.counted_as}_failures`" if p.counted_as else ""
        if p.counted_as == "document":
            counted = "`zjx_validation_failures`"
        lines.append(f"| `{p.slug}` | {p.status} | {p.title} | {p.title_zh} | {counted} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
