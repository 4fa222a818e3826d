"""Structured logging: JSON lines through structlog, with request context from contextvars."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from gateway.masking import MaskingFilter, mask_personal_data


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
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
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
