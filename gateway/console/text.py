"""The console's words in English and Chinese, from ``messages.toml`` beside this module.

The file is flat TOML: one table per message key (``[nav.routes]``) holding ``en`` and ``zh``;
placeholders are ``str.format`` fields (``{count}``). A key missing in either language is a
``KeyError`` at load time, never a blank on a page; a key a template asks for that the file
lacks is a ``KeyError`` when the page renders (the console tests render every page).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from gateway.language import LANGUAGES, Language


class Catalogue:
    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self._messages = messages

    @classmethod
    def load(cls) -> Catalogue:
        raw = tomllib.loads(
            resources.files("gateway.console").joinpath("messages.toml").read_text("utf-8")
        )
        flat: dict[str, dict[str, str]] = {}
        _flatten(raw, "", flat)
        return cls(flat)

    def keys(self) -> frozenset[str]:
        return frozenset(self._messages)

    def text(self, language: Language, key: str, **params: Any) -> str:
        """The message ``key`` in ``language``, with ``params`` filled in."""
        template = self._messages[key][language]
        return template.format(**params) if params else template


def _flatten(table: Mapping[str, Any], prefix: str, into: dict[str, dict[str, str]]) -> None:
    """Tables holding ``en`` are messages; other tables are groups of keys."""
    for name, value in table.items():
        if not isinstance(value, Mapping):
            raise KeyError(f"messages.toml: {prefix}{name} is not a table")
        key = f"{prefix}{name}"
        if "en" in value:
            missing = [lang for lang in LANGUAGES if not isinstance(value.get(lang), str)]
            if missing or set(value) - set(LANGUAGES):
                raise KeyError(
                    f"messages.toml: {key} needs exactly {LANGUAGES}, is {sorted(value)}"
                )
            into[key] = dict(value)
        else:
            _flatten(value, key + ".", into)
