"""What a problem type is (RFC 9457 section 3.1): the record, its registry and the rendering of
``docs/problems.md``. The types themselves are defined in ``gateway.problem_types``, the one
catalogue; this module only holds what that catalogue is made of, so the catalogue stays a list
of definitions a reviewer reads top to bottom."""

from __future__ import annotations

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
    #: what went wrong and what to do, in Chinese, for every occurrence of the type; a
    #: Chinese answer gives it before the occurrence's own detail (``localized``)
    detail_zh: str = ""

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def titled(self, language: str) -> str:
        """The title in ``language`` ("zh" or anything else for English)."""
        return self.title_zh if language == "zh" else self.title

    def localized(self, language: str, detail: str) -> tuple[str, str]:
        """Title and detail of one occurrence in ``language``. In Chinese the detail is the
        type's Chinese explanation, then the occurrence's detail as raised (it names fields,
        JSON Pointers and identifiers, which read the same in both languages)."""
        if language != "zh":
            return self.title, detail
        return self.title_zh, f"{self.detail_zh}。详情：{detail}"


_ALL: dict[str, ProblemType] = {}


def define(
    slug: str,
    status: int,
    title: str,
    title_zh: str,
    counted_as: CountedAs | None = None,
    *,
    detail_zh: str,
) -> ProblemType:
    if slug in _ALL:
        raise ValueError(f"problem type {slug} defined twice")
    problem = ProblemType(slug, status, title, title_zh, counted_as, detail_zh)
    _ALL[slug] = problem
    return problem


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
        "| slug | status | title | 标题 | 说明 (Accept-Language: zh) | also counted as |",
        "|---|---|---|---|---|---|",
    ]
    for p in catalogue():
        counted = f"`zjx_{p.counted_as}_failures`" if p.counted_as else ""
        if p.counted_as == "document":
            counted = "`zjx_validation_failures`"
        lines.append(
            f"| `{p.slug}` | {p.status} | {p.title} | {p.title_zh} | {p.detail_zh} | {counted} |"
        )
    return "\n".join(lines) + "\n"
