"""Structured logging: JSON lines through structlog, with request context from contextvars.

``gateway serve`` writes through ``BufferedLineLogger``: lines are collected and written
together at most every ``FLUSH_SECONDS`` (or once ``FLUSH_BYTES`` wait), as nginx's
``access_log ... buffer= flush=`` does, instead of a write and a flush per request. Measured
under load the per-line write was a GIL hand-off of the event loop per request
(bench/results/profile.txt). Warnings and errors are written at once, with what waits before
them; at exit everything waiting is written.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from typing import Any, TextIO

import structlog

from gateway.masking import MaskingFilter, mask_personal_data

FLUSH_SECONDS = 0.2
FLUSH_BYTES = 64 * 1024


class BufferedLineLogger:
    """A structlog logger writing whole lines to ``file`` in batches (see the module
    docstring); thread-safe, since the store's threads may log too."""

    def __init__(self, file: TextIO, interval: float = FLUSH_SECONDS) -> None:
        self._file = file
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._every, name="log-flush", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def msg(self, message: str) -> None:
        with self._lock:
            self._lines.append(message + "\n")
            self._size += len(message) + 1
            full = self._size >= FLUSH_BYTES
        if full:
            self.flush()

    def urgent(self, message: str) -> None:
        self.msg(message)
        self.flush()

    log = debug = info = msg
    warn = warning = error = err = critical = exception = fatal = urgent

    def flush(self) -> None:
        with self._lock:
            text, self._lines, self._size = "".join(self._lines), [], 0
            if text:
                self._file.write(text)
                self._file.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()

    def _every(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()


def configure_logging(
    level: int = logging.INFO, stream: TextIO | None = None, *, buffered: bool = False
) -> None:
    """structlog to ``stream`` (standard error by default); ``buffered`` for ``serve``."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
    factory: Any = structlog.PrintLoggerFactory(file=stream or sys.stderr)
    if buffered:
        logger = BufferedLineLogger(stream or sys.stderr)
        factory = lambda *_args: logger  # noqa: E731 - one logger for every name
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_personal_data,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
