"""Which edition a diagnosis or operation code is from, as the document must say
(``code_edition``), decided by a family's coding table (a TOML file beside the family).

The table maps the coding-system names a department writes to an edition, and lists the
editions to prefer when the name gives only the code set. The shapes are the gateway's own
(``gateway/validation/data/code_sets.toml``), so an adapter and the gateway agree.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources

from gateway.validation import codes


@dataclass(frozen=True, slots=True)
class CodeSet:
    name: str  # "icd10" or "icd9cm3"
    prefer: tuple[str, ...]
    systems: dict[str, str] = field(default_factory=dict)

    def knows(self, system: str) -> bool:
        return system in self.systems

    def edition(self, code: str, system: str | None = None) -> str | None:
        """The edition of ``code`` written under ``system``, or ``None`` when the code has the
        shape of no edition the system allows."""
        named = self.systems.get(system or "", "")
        candidates = (named,) if named else self.prefer
        for edition in candidates:
            if codes.code_fault(self.name, code, edition) is None:
                return edition
        return None

    def fault(self, code: str, system: str | None = None) -> str:
        """Why ``code`` has no edition here (names the rule, not the value)."""
        named = self.systems.get(system or "", "")
        if named:
            return codes.code_fault(self.name, code, named) or "not a code of its edition"
        return codes.code_fault(self.name, code) or (
            "not a code of the editions " + ", ".join(self.prefer)
        )


def load_coding(package: str, resource: str) -> dict[str, CodeSet]:
    """A family's coding table: ``{code set: CodeSet}``."""
    text = (resources.files(package) / resource).read_text(encoding="utf-8")
    table = tomllib.loads(text)
    return {
        name: CodeSet(name, tuple(spec["prefer"]), dict(spec.get("systems", {})))
        for name, spec in table.items()
    }


def split_pair(code: str) -> list[str]:
    """A dagger/asterisk pair written as one code, as two codes (WHO ICD-10 vol. 2, 3.1.3)."""
    return codes.split_pair(code)
