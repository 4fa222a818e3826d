"""The README's commands name files a fresh clone has: a new user copies them as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
# a repository path in a command: a word with a slash and a file extension, not under data/
# (written by `make run`) and not a URL
_PATH = re.compile(r"(?<![\w/.:])((?:schemas|config|adapters|gateway|bench)/[\w./-]+\.\w+)")


def test_every_file_a_readme_command_names_exists() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    named = [p for block in _BLOCK.findall(text) for p in _PATH.findall(block)]
    assert named, "the README's commands name no repository file any more"
    missing = [p for p in named if not (ROOT / p).is_file()]
    assert missing == []
