"""The HTTP transport below the app: aiohttp's parser errors as problems, read timeouts, and a
bound on connections per peer.

Why here and not in a middleware: aiohttp answers a request it cannot parse (a 100 KB header,
500 headers, a negative or doubled Content-Length, a content coding it cannot decode) itself,
before any middleware runs, with a ``text/plain`` 400 that quotes about 100 bytes of the
offending input and a traceback in the log. ``GatewayRequestHandler`` answers those with the
contract's RFC 9457 problem and status (RFC 9110 section 15.5: 400, 408, 414, 415; RFC 6585
section 5: 431; section 4: 429), naming the fault, never echoing the bytes, logging one line
without a traceback. A client that dribbles its request head is cut off after
``head_timeout`` (like nginx's ``client_header_timeout``); a slow body is the ``read_body``
middleware's concern.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import structlog
from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMessage,
    ContentEncodingError,
    HttpProcessingError,
    LineTooLong,
)
from aiohttp.web_protocol import RequestHandler, RequestPayloadError

from gateway import problem_types as pt
from gateway.configuration.model import TransportLimits
from gateway.problems import GatewayError, MessageError

log = structlog.get_logger("gateway.transport")
#: room on a request line beside its target: "OPTIONS ", " HTTP/1.1" and CRLF
_METHOD_AND_VERSION = 24

__all__ = ["GatewayRequestHandler", "GatewaySite", "TransportLimits"]


def classify(exc: BaseException | None, head_line_seen: bool) -> MessageError:
    """The problem for a parser error; its text (which quotes the input) is never used."""
    if isinstance(exc, LineTooLong) and not head_line_seen:
        return MessageError("the request line is too long", pt.URI_TOO_LONG)
    if isinstance(exc, LineTooLong) or "Too many headers" in str(exc):
        return MessageError("the request's headers are too many or too long", pt.HEADERS_TOO_LARGE)
    if isinstance(exc, ContentEncodingError):
        return MessageError(
            "send the body uncompressed or gzip-compressed", pt.UNSUPPORTED_CONTENT_ENCODING
        )
    return MessageError(
        "the request is not valid HTTP/1.1 (RFC 9112); check the request line and headers",
        pt.MALFORMED_REQUEST,
    )


def problem_bytes(error: MessageError, *, close: bool = True) -> bytes:
    """A whole HTTP/1.1 response carrying ``error``, for answers outside any request."""
    body = orjson.dumps(error.problem_body())
    head = (
        f"HTTP/1.1 {error.status} {error.title}\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
    )
    return head.encode("ascii") + body


class GatewayRequestHandler(RequestHandler):
    """aiohttp's connection handler with the gateway's answers to parser errors, a deadline
    on the request head, and a share of ``peers`` (connections per IP address)."""

    def __init__(
        self,
        manager: Any,
        *,
        limits: TransportLimits,
        peers: Counter[str],
        refused: Callable[[str], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(
            manager,
            keepalive_timeout=limits.idle_timeout,
            max_line_size=limits.max_line_size,
            max_field_size=limits.max_line_size,
            max_headers=limits.max_headers,
            access_log=None,  # type: ignore[arg-type]  # aiohttp's documented "no access log"
            **kwargs,
        )
        self._limits = limits
        self._peers = peers
        self._refused = refused
        self._peer: str | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_line_seen = False
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if self._peers[host] >= self._limits.connections_per_peer:
            self._refused("too-many-connections")
            log.warning("http.refused", reason="too-many-connections")
            error = MessageError(
                f"at most {self._limits.connections_per_peer} connections from one address",
                pt.TOO_MANY_CONNECTIONS,
            )
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(problem_bytes(error))
            transport.close()
            return
        self._peer = host
        self._peers[host] += 1
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_head_timer()
        if self._peer is not None:
            self._peers[self._peer] -= 1
            if self._peers[self._peer] <= 0:
                del self._peers[self._peer]
            self._peer = None
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        between_requests = self._current_request is None and not self._messages
        if between_requests and self._head_timer is None:
            self._head_line_seen, self._head_bytes = False, 0
            self._head_timer = self._loop.call_later(self._limits.head_timeout, self._head_too_slow)
        if between_requests and not self._head_line_seen:
            # the request line ended within its bound (the target plus method and version)
            newline = data.find(b"\n")
            bound = self._limits.max_line_size + _METHOD_AND_VERSION
            self._head_line_seen = newline != -1 and self._head_bytes + newline <= bound
            self._head_bytes += len(data)
        before = self._request_count
        super().data_received(data)
        if self._request_count > before:
            self._cancel_head_timer()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport is None or self._current_request is not None:
            return
        self._refused("head-timeout")
        log.warning("http.refused", reason="head-timeout")
        error = MessageError(
            f"the request line and headers must arrive within {self._limits.head_timeout:g} s",
            pt.REQUEST_TIMEOUT,
        )
        self.transport.write(problem_bytes(error))
        self.force_close()  # closes the transport once what was written is sent

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp's log of a failure outside the handler. A body that could not be read or
        decoded (the handler has answered it already) or a client gone is one line at info;
        anything else keeps aiohttp's log, traceback included."""
        exc = kw.get("exc_info")
        if isinstance(exc, RequestPayloadError | HttpProcessingError | ConnectionError):
            log.info("http.body_abandoned", error=type(exc).__name__)
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Parser errors (and anything else aiohttp answers itself) as problems."""
        if request.writer.output_size > 0:
            raise ConnectionError("the response had begun; the connection is closed instead")
        error: GatewayError
        if isinstance(exc, BadHttpMessage) or status < 500:
            error = classify(exc, self._head_line_seen)
            log.warning("http.refused", reason=error.slug, status=error.status)
        else:
            error = GatewayError("the gateway failed; the request id identifies it in the logs")
            log.error("http.failed", error=type(exc).__name__)
        self._refused(error.slug)
        response = web.Response(
            body=orjson.dumps(error.problem_body()),
            status=error.status,
            content_type="application/problem+json",
        )
        response.force_close()
        return response


def count_refusals(app: web.Application) -> Callable[[str], None]:
    """A ``refused`` callback that counts in the app's metrics, once they exist."""
    from gateway.api.appkeys import METRICS

    def refused(reason: str) -> None:
        metrics = app.get(METRICS)
        if metrics is not None:
            metrics.http_refused.labels(reason).inc()

    return refused


class GatewaySite(web.TCPSite):
    """A TCP site whose connections are ``GatewayRequestHandler``s sharing one count of
    connections per peer."""

    __slots__ = ("_limits", "_refused")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        limits: TransportLimits,
        refused: Callable[[str], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(runner, host, port, **kwargs)
        self._limits = limits
        self._refused = refused

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        peers: Counter[str] = Counter()

        def handler() -> GatewayRequestHandler:
            return GatewayRequestHandler(
                server, limits=self._limits, peers=peers, refused=self._refused, loop=loop
            )

        self._server = await loop.create_server(
            handler, self._host, self._port, backlog=self._backlog
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
