"""README.zh-CN.md is the README in Chinese: the same commands, links that resolve."""

from __future__ import annotations

from tests.test_docs_examples import LINK, REPO, shell_blocks

ENGLISH = REPO / "README.md"
CHINESE = REPO / "README.zh-CN.md"


def _commands(text: str) -> list[list[str]]:
    """Each shell block's commands, comments left out (they are in the page's language)."""
    return [
        [line.split("  #")[0].rstrip() for line in block.splitlines()]
        for block in shell_blocks(text)
    ]


def test_chinese_readme_has_the_same_commands() -> None:
    english = _commands(ENGLISH.read_text(encoding="utf-8"))
    assert _commands(CHINESE.read_text(encoding="utf-8")) == english and len(english) >= 6


def test_chinese_readme_links_resolve_inside_the_repository() -> None:
    targets = [t for t in LINK.findall(CHINESE.read_text(encoding="utf-8")) if "://" not in t]
    assert "README.md" in targets and "docs/console.md" in targets
    for target in targets:
        resolved = (REPO / target).resolve()
        assert resolved.is_relative_to(REPO) and resolved.exists(), target
