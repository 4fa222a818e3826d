"""What an adapter knows about the department system it runs beside, from its command line
or environment (``--institution USCC``, ``--institution-name NAME``; ``ZJX_INSTITUTION``,
``ZJX_INSTITUTION_NAME``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from gateway.validation.formats import uscc_fault

ENV_CODE = "ZJX_INSTITUTION"
ENV_NAME = "ZJX_INSTITUTION_NAME"


class SettingsError(ValueError):
    """A setting that cannot be used (the message names the setting, not the value)."""


@dataclass(frozen=True, slots=True)
class Institution:
    """The institution the adapter runs beside: one hospital, one bureau."""

    credit_code: str
    name: str | None = None


def institution_from(code: str | None, name: str | None) -> Institution | None:
    """The configured institution: arguments first, then the environment; ``None`` if unset.
    Raises ``SettingsError`` when the credit code is not a valid GB 32100 code."""
    code = code or os.environ.get(ENV_CODE) or None
    name = name or os.environ.get(ENV_NAME) or None
    if code is None:
        if name is not None:
            raise SettingsError("--institution-name needs --institution (the credit code)")
        return None
    fault = uscc_fault(code)
    if fault is not None:
        raise SettingsError(f"--institution: {fault}")
    return Institution(code, name)
