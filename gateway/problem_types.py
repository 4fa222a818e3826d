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

from gateway.problem_kinds import (
    PROBLEM_BASE,
    CountedAs,
    ProblemType,
    by_slug,
    catalogue,
    markdown,
)
from gateway.problem_kinds import define as _define

# --- the roots (each domain's default) -----------------------------------------------------

INTERNAL = _define(
    "internal",
    500,
    "Internal error",
    "内部错误",
    detail_zh="网关内部出错；请凭请求标识（X-Request-Id）联系运维人员查询日志",
)
MALFORMED_MESSAGE = _define(
    "malformed-message",
    400,
    "Malformed message",
    "消息格式错误",
    detail_zh="消息格式不正确；请按接口规范重新组织消息后再提交",
)
BAD_SIGNATURE = _define(
    "bad-signature",
    401,
    "Signature refused",
    "签名无效",
    "signature",
    detail_zh="签名校验未通过；请确认使用本部门已登记的私钥对原始字节签名",
)
INVALID_DOCUMENT = _define(
    "invalid-document",
    422,
    "Document failed validation",
    "文书校验未通过",
    "document",
    detail_zh="文书未通过校验；请按 errors 中列出的 JSON 指针逐项更正后重新提交",
)
CONFIGURATION = _define(
    "configuration",
    500,
    "Configuration error",
    "配置错误",
    detail_zh="网关配置有误；请运维人员按提示的文件和位置更正配置",
)
UNAUTHORIZED = _define(
    "unauthorized", 401, "Unauthorized", "未认证", detail_zh="未认证；请携带有效的访问令牌"
)
FORBIDDEN = _define("forbidden", 403, "Forbidden", "无权操作", detail_zh="无权执行此操作")
NOT_FOUND = _define(
    "not-found", 404, "Not found", "资源不存在", detail_zh="请求的资源不存在；请检查地址"
)
CONFLICT = _define(
    "conflict", 409, "Conflict", "冲突", detail_zh="与当前状态冲突；请重新读取后再试"
)
UNROUTABLE = _define(
    "unroutable",
    422,
    "No recipient for this message",
    "消息无可投递的接收方",
    detail_zh="按当前路由表该消息没有可投递的接收方；请检查文书类型或联系管理员",
)
STORE_UNAVAILABLE = _define(
    "store-unavailable",
    503,
    "Store unavailable",
    "存储暂不可用",
    detail_zh="存储暂时不可用，未保存任何内容；请稍后重试",
)
STORAGE_ENCRYPTION = _define(
    "storage-encryption",
    500,
    "Stored record cannot be decrypted",
    "存储记录无法解密",
    detail_zh="存储的记录无法解密，未返回任何内容；请运维人员检查静态加密密钥",
)

# --- HTTP (the request itself) --------------------------------------------------------------

METHOD_NOT_ALLOWED = _define(
    "method-not-allowed",
    405,
    "Method not allowed",
    "不支持该请求方法",
    detail_zh="该地址不支持此请求方法；请按 Allow 头部使用允许的方法",
)
UNSUPPORTED_MEDIA_TYPE = _define(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "不支持的媒体类型",
    detail_zh="不支持该媒体类型；请按接口规范设置 Content-Type",
)
BODY_TOO_LARGE = _define(
    "body-too-large",
    413,
    "Body too large",
    "请求体过大",
    detail_zh="请求体超过网关允许的大小；请缩小后再提交",
)
HTTP_ERROR = _define(
    "http-error", 400, "HTTP error", "HTTP 请求错误", detail_zh="HTTP 请求有误；请检查请求"
)
INVALID_PARAMETER = _define(
    "invalid-parameter",
    400,
    "Invalid parameter",
    "参数无效",
    detail_zh="路径或查询参数无效；请按提示更正参数",
)
INVALID_BODY = _define(
    "invalid-body",
    400,
    "Invalid request body",
    "请求体无效",
    detail_zh="请求体无效；请按接口规范提供 JSON 对象",
)

# --- the transport below the app (issue 12): aiohttp's parser, timeouts, bounds ------------

MALFORMED_REQUEST = _define(
    "malformed-request",
    400,
    "Malformed HTTP request",
    "HTTP 请求格式错误",
    detail_zh="HTTP 请求格式不正确；请检查请求行和头部",
)
URI_TOO_LONG = _define(
    "uri-too-long",
    414,
    "URI too long",
    "请求地址过长",
    detail_zh="请求地址过长；请缩短路径或查询参数",
)
HEADERS_TOO_LARGE = _define(
    "headers-too-large",
    431,
    "Request header fields too large",
    "请求头过多或过长",
    detail_zh="请求头过多或过长；请精简请求头",
)
UNSUPPORTED_CONTENT_ENCODING = _define(
    "unsupported-content-encoding",
    415,
    "Unsupported content encoding",
    "不支持的内容编码",
    detail_zh="不支持该内容编码；请不压缩或使用网关支持的编码发送",
)
UNDECODABLE_BODY = _define(
    "undecodable-body",
    400,
    "Undecodable body",
    "请求体无法解码",
    detail_zh="请求体无法按所声明的编码解码；请核对 Content-Encoding",
)
REQUEST_TIMEOUT = _define(
    "request-timeout",
    408,
    "Request timeout",
    "请求超时",
    detail_zh="请求未在规定时间内发送完毕；请检查网络后重试",
)
TOO_MANY_CONNECTIONS = _define(
    "too-many-connections",
    429,
    "Too many connections",
    "连接数过多",
    detail_zh="连接数过多；请稍后重试并减少并发连接",
)
TOO_MANY_STREAMS = _define(
    "too-many-streams",
    429,
    "Too many streams",
    "推送流过多",
    detail_zh="推送流过多；请关闭不用的流后再试",
)
#: nginx's 499: the client closed the connection before the answer (never sent to anyone)
CLIENT_CLOSED_REQUEST = _define(
    "client-closed-request",
    499,
    "Client closed request",
    "客户端已关闭请求",
    detail_zh="客户端在网关答复前关闭了请求",
)

# --- strict JSON (DESIGN section 3) ---------------------------------------------------------

INVALID_JSON = _define(
    "invalid-json", 400, "Invalid JSON", "JSON 无效", detail_zh="JSON 无法解析；请检查语法"
)
INVALID_UTF8 = _define(
    "invalid-utf8",
    400,
    "Invalid UTF-8",
    "UTF-8 编码无效",
    detail_zh="内容不是有效的 UTF-8 编码；请以 UTF-8 编码发送",
)
BYTE_ORDER_MARK = _define(
    "byte-order-mark",
    400,
    "Byte order mark not allowed",
    "不允许字节顺序标记(BOM)",
    detail_zh="内容以字节顺序标记（BOM）开头；请去掉 BOM 后发送",
)
LONE_SURROGATE = _define(
    "lone-surrogate",
    400,
    "Lone surrogate in a string",
    "字符串含孤立代理项",
    detail_zh="字符串中含有孤立的代理项字符；请更正字符编码",
)
NON_FINITE_NUMBER = _define(
    "non-finite-number",
    400,
    "NaN or Infinity not allowed",
    "不允许 NaN 或 Infinity",
    detail_zh="数值中出现 NaN 或 Infinity；JSON 不允许此类数值",
)
DUPLICATE_KEY = _define(
    "duplicate-key",
    400,
    "Duplicate object key",
    "对象键重复",
    detail_zh="JSON 对象中有重复的键；每个键只能出现一次",
)
TOO_DEEP = _define(
    "too-deep",
    400,
    "JSON nested too deeply",
    "JSON 嵌套过深",
    detail_zh="JSON 嵌套层级过深；请减少嵌套",
)

# --- envelope, event and signatures ---------------------------------------------------------

INVALID_EVENT = _define(
    "invalid-event",
    400,
    "Invalid event",
    "事件(CloudEvents)无效",
    detail_zh="CloudEvents 事件属性无效；请按提示更正事件属性",
)
INVALID_ENVELOPE = _define(
    "invalid-envelope",
    400,
    "Invalid JWS envelope",
    "JWS 封装无效",
    detail_zh="JWS 封装无效；请使用 JWS 通用 JSON 序列化（RFC 7515 第 7.2.1 节）",
)
ALGORITHM_REFUSED = _define(
    "algorithm-refused",
    401,
    "Signature algorithm refused",
    "签名算法不被接受",
    "signature",
    detail_zh="签名算法不被接受；请使用 Ed25519、ES256 或 SM2",
)
CRITICAL_HEADER_REFUSED = _define(
    "critical-header-refused",
    401,
    "Critical header not understood",
    "无法理解的关键头部(crit)",
    "signature",
    detail_zh="受保护头部含有网关无法理解的关键参数（crit）；请去掉后重新签名",
)
UNKNOWN_KEY = _define(
    "unknown-key",
    401,
    "Unknown key",
    "未知密钥",
    "signature",
    detail_zh="签名所用的密钥（kid）未在网关登记；请先通过管理接口登记公钥",
)
KEY_EXPIRED = _define(
    "key-expired",
    401,
    "Key outside its validity window",
    "密钥不在有效期内",
    "signature",
    detail_zh="签名所用的密钥不在有效期内；请使用当前有效的密钥",
)
KEY_REVOKED = _define(
    "key-revoked",
    401,
    "Key revoked",
    "密钥已吊销",
    "signature",
    detail_zh="签名所用的密钥已被吊销；请使用新的密钥并联系管理员",
)
SOURCE_MISMATCH = _define(
    "source-mismatch",
    403,
    "Signer is not the event's source",
    "签名方与事件来源不一致",
    "signature",
    detail_zh="签名方不是事件的来源部门；请用来源部门自己的密钥签名",
)
RECEIPT_MISMATCH = _define(
    "receipt-mismatch",
    400,
    "Receipt does not match the message",
    "回执与消息不符",
    detail_zh="回执与消息不符；请核对消息和回执",
)
INVALID_KEY = _define(
    "invalid-key",
    422,
    "Unusable key",
    "密钥不可用",
    detail_zh="密钥不可用；请提供 Ed25519 或 P-256 的公钥 JWK",
)
KEY_FILE = _define(
    "key-file",
    500,
    "Unusable key file",
    "密钥文件不可用",
    detail_zh="密钥文件不可用；请运维人员检查密钥文件",
)

# --- what the sender may do, the document, routing ------------------------------------------

DEPARTMENT_DISABLED = _define(
    "department-disabled",
    403,
    "Department disabled",
    "部门已停用",
    detail_zh="该部门已被停用，报文不予受理；请联系管理员",
)
TYPE_NOT_ALLOWED = _define(
    "type-not-allowed",
    403,
    "Document type not allowed for this sender",
    "该部门无权报送此类文书",
    detail_zh="本部门无权报送此类文书；请核对文书类型或联系管理员",
)
CLOCK_SKEW = _define(
    "clock-skew",
    422,
    "Event time too far from the gateway's clock",
    "事件时间偏差过大",
    detail_zh="事件时间与网关时钟相差过大；请校准本部门系统时钟",
)
UNKNOWN_TYPE = _define(
    "unknown-type",
    422,
    "Unknown document type",
    "未知文书类型",
    detail_zh="网关不认识此文书类型；请核对 type 属性",
)
SCHEMA_MISMATCH = _define(
    "schema-mismatch",
    422,
    "dataschema does not match the type",
    "dataschema 与文书类型不符",
    detail_zh="dataschema 与文书类型不符；请使用该类型的模式标识",
)
ID_REUSED = _define(
    "id-reused",
    409,
    "Event id reused with another payload",
    "事件标识已被其他内容使用",
    detail_zh="同一事件标识已用于不同内容；新内容请使用新的事件标识",
)
CASE_ID_MISMATCH = _define(
    "case-id-mismatch",
    422,
    "Subject and the document's case id differ, or the case id has no subject",
    "事件主题与文书案件编号不一致或缺少事件主题",
    "document",
    detail_zh="事件主题（subject）与文书中的案件编号不是同一案件；请核对后重新提交",
)

# --- department API -------------------------------------------------------------------------

TOKEN_MISSING = _define(
    "token-missing",
    401,
    "Bearer token missing",
    "缺少访问令牌",
    detail_zh="缺少访问令牌；请携带 Authorization: Bearer 令牌",
)
TOKEN_INVALID = _define(
    "token-invalid",
    401,
    "Invalid token",
    "令牌无效",
    detail_zh="访问令牌无效；请用本部门私钥重新签发令牌",
)
TOKEN_EXPIRED = _define(
    "token-expired", 401, "Token expired", "令牌已过期", detail_zh="访问令牌已过期；请重新签发"
)
TOKEN_REPLAYED = _define(
    "token-replayed",
    401,
    "Token already used",
    "令牌已被使用",
    detail_zh="访问令牌已被使用过，令牌只能使用一次；请重新签发",
)
MESSAGE_NOT_FOUND = _define(
    "message-not-found",
    404,
    "Message not found",
    "消息不存在",
    detail_zh="消息不存在，或本部门不是其发送方或接收方",
)
INVALID_ACK = _define(
    "invalid-ack",
    400,
    "Invalid acknowledgement",
    "确认请求无效",
    detail_zh="确认请求无效；请按接口规范列出要确认的序号",
)
CASE_NOT_FOUND = _define(
    "case-not-found",
    404,
    "Case not found",
    "案件不存在",
    detail_zh="案件不存在，或本部门不是该案件的参与方",
)

# --- attachments (DESIGN section 11, gateway/attachments) ----------------------------------

ATTACHMENT_TOO_LARGE = _define(
    "attachment-too-large",
    413,
    "Attachment larger than the limit",
    "附件超过大小上限",
    detail_zh="附件超过网关允许的大小上限；请压缩或拆分后重新上传",
)
ATTACHMENT_TYPE_NOT_ALLOWED = _define(
    "attachment-type-not-allowed",
    415,
    "Attachment type not allowed",
    "附件类型不在允许范围",
    detail_zh="附件类型不在允许范围（PDF、OFD、JPEG、PNG、TIFF）；类型按文件内容判定",
)
ATTACHMENT_TYPE_MISMATCH = _define(
    "attachment-type-mismatch",
    415,
    "Declared type disagrees with the bytes",
    "声明的附件类型与内容不符",
    detail_zh="声明的媒体类型与文件内容不符；请按实际文件类型声明",
)
ATTACHMENT_CONTENT_REFUSED = _define(
    "attachment-content-refused",
    422,
    "Attachment content refused",
    "附件内容未通过检查",
    detail_zh="附件内容未通过安全检查（如含脚本、启动动作或嵌入文件，或无法解码）；请提交合规文件",
)
ATTACHMENT_SCANNER_UNAVAILABLE = _define(
    "attachment-scanner-unavailable",
    503,
    "Virus scanner unavailable",
    "病毒扫描服务不可用",
    detail_zh="病毒扫描服务暂不可用，附件未被接收；请稍后重试",
)
ATTACHMENT_MISSING = _define(
    "attachment-missing",
    422,
    "Referenced attachment not uploaded",
    "引用的附件不存在",
    "document",
    detail_zh="文书引用的附件尚未上传；请先上传附件，再提交引用它的文书",
)
ATTACHMENT_NOT_YOURS = _define(
    "attachment-not-yours",
    422,
    "Referenced attachment uploaded by another department",
    "引用的附件由其他部门上传",
    "document",
    detail_zh="文书引用的附件由其他部门上传；只能引用本部门上传的附件",
)
ATTACHMENT_MISMATCH = _define(
    "attachment-mismatch",
    422,
    "Reference disagrees with the stored attachment",
    "附件引用与已存附件不符",
    "document",
    detail_zh="附件引用的摘要、类型或大小与已存附件不符；请按上传应答填写引用",
)
ATTACHMENT_NOT_FOUND = _define(
    "attachment-not-found",
    404,
    "Attachment not found",
    "附件不存在",
    detail_zh="附件不存在，或本部门收到的文书未引用该附件",
)
RANGE_NOT_SATISFIABLE = _define(
    "range-not-satisfiable",
    416,
    "Range not satisfiable",
    "请求的字节范围无效",
    detail_zh="请求的字节范围超出附件大小；请核对 Range 请求头",
)

# --- administration -------------------------------------------------------------------------

ADMIN_TOKEN_INVALID = _define(
    "admin-token-invalid",
    403,
    "Not an administrator token",
    "不是管理员令牌",
    detail_zh="这不是管理员令牌",
)
ROLE_FORBIDDEN = _define(
    "role-forbidden",
    403,
    "Role may not do this",
    "该角色无权执行此操作",
    detail_zh="您的角色无权执行此操作",
)
ADMIN_STATE_CHANGED = _define(
    "admin-state-changed",
    409,
    "Changed by another instance meanwhile",
    "配置已被其他实例修改",
    detail_zh="配置刚被另一网关实例修改，此处未作任何更改；请重新读取后再试",
)
DEPARTMENT_NOT_FOUND = _define(
    "department-not-found",
    404,
    "Department not found",
    "部门不存在",
    detail_zh="部门不存在；请核对部门标识",
)
DEPARTMENT_EXISTS = _define(
    "department-exists", 409, "Department exists", "部门已存在", detail_zh="该部门已存在"
)
INVALID_DEPARTMENT = _define(
    "invalid-department",
    422,
    "Invalid department",
    "部门定义无效",
    detail_zh="部门定义无效；请按提示的位置更正",
)
KEY_NOT_FOUND = _define(
    "key-not-found",
    404,
    "Key not found",
    "密钥不存在",
    detail_zh="密钥不存在；请核对部门和密钥名称",
)
KEY_EXISTS = _define(
    "key-exists",
    409,
    "Key exists",
    "密钥已存在",
    detail_zh="该密钥已存在，密钥不会被替换；请使用新的名称",
)
INVALID_ROUTES = _define(
    "invalid-routes",
    422,
    "Invalid route table",
    "路由表无效",
    detail_zh="路由表无效，未作任何更改；请按提示的位置更正",
)
ROUTE_VERSION_NOT_FOUND = _define(
    "route-version-not-found",
    404,
    "Route version not found",
    "路由版本不存在",
    detail_zh="路由版本不存在",
)
INVALID_DRY_RUN = _define(
    "invalid-dry-run",
    400,
    "Invalid dry-run request",
    "路由试算请求无效",
    detail_zh="试运行请求无效；请提供 CloudEvent（含 type、source、data）或已签名消息",
)
DEAD_LETTER_NOT_FOUND = _define(
    "dead-letter-not-found",
    404,
    "Dead letter not found",
    "死信不存在",
    detail_zh="该序号和接收方没有死信",
)
ADMIN_TOKEN_EXISTS = _define(
    "admin-token-exists",
    409,
    "Token name taken",
    "令牌名称已被使用",
    detail_zh="该令牌名称已被使用过（名称不会重复使用）；请换一个名称",
)
ADMIN_TOKEN_NOT_FOUND = _define(
    "admin-token-not-found",
    404,
    "Token not found",
    "令牌不存在",
    detail_zh="没有这个名称的管理员令牌；请核对令牌名称",
)
LAST_ADMIN_TOKEN = _define(
    "last-admin-token",
    409,
    "Last administrator token",
    "最后一个管理员令牌不能吊销",
    detail_zh="这是最后一个管理员角色的令牌，吊销后将无人能管理网关；请先创建另一个管理员令牌",
)
CONFIG_INVALID = _define(
    "config-invalid",
    422,
    "Configuration refused",
    "配置未通过检查",
    detail_zh="配置未通过整体检查，仍沿用原配置；请按 errors 所列位置更正后重新加载",
)


__all__ = ["PROBLEM_BASE", "CountedAs", "ProblemType", "by_slug", "catalogue", "markdown"]

if __name__ == "__main__":
    sys.stdout.write(markdown())
