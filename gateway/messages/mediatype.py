"""Media types as RFC 9110 section 8.3.1 writes them: ``type "/" subtype *( OWS ";" OWS
parameter )``, each a ``token`` (section 5.6.2), a parameter value a token or a
``quoted-string`` (section 5.6.4). Used for the CloudEvents ``datacontenttype`` attribute
(CloudEvents 1.0 section 3.1.1: "MUST adhere to the format specified in RFC 2046").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["MediaType", "parse_media_type"]

_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_PARAMETER = re.compile(rf"[ \t]*;[ \t]*({_TCHARS})=({_TCHARS}|{_QUOTED})")
_MEDIA_TYPE = re.compile(rf"({_TCHARS})/({_TCHARS})((?:{_PARAMETER.pattern})*)[ \t]*")


@dataclass(frozen=True, slots=True)
class MediaType:
    """``type``/``subtype`` lower-cased; parameter names lower-cased, values unquoted."""

    type: str
    subtype: str
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def is_json(self) -> bool:
        """``application/json`` or a ``+json`` structured syntax suffix (RFC 6839 section 3.1)."""
        return self.type == "application" and (
            self.subtype == "json" or self.subtype.endswith("+json")
        )


def parse_media_type(text: str) -> MediaType | None:
    """``text`` as a media type, or None when it is not one (the whole string must match)."""
    whole = _MEDIA_TYPE.fullmatch(text)
    if whole is None:
        return None
    parameters: dict[str, str] = {}
    for param in _PARAMETER.finditer(whole.group(3)):
        name, value = param.group(1).lower(), param.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if name in parameters:
            return None  # a parameter named twice has no one meaning
        parameters[name] = value
    return MediaType(whole.group(1).lower(), whole.group(2).lower(), parameters)
