"""Instances starting for the first time on one shared data directory create one bootstrap
admin token between them: exactly one instance makes it, and every instance accepts the clear
token written to ``admin-token``."""

from __future__ import annotations

import stat
import time
from pathlib import Path

from gateway.administration import AdminTokens
from gateway.administration import bootstrap as start_tokens
from tests.together import PROCESSES, run_together

DIRECTORIES = 10


def bootstrap(root: str) -> list[tuple[bool, str | None]]:
    """One instance's start in each data directory, as the app's start does it: (made the
    token, role the clear token in ``admin-token`` has for this instance)."""
    started = []
    for data_dir in (Path(root, str(i)) for i in range(DIRECTORIES)):
        admin, made = start_tokens(data_dir)
        started.append((made, admin, data_dir))
    return [(made, _role(admin, data_dir)) for made, admin, data_dir in started]


def _role(admin: AdminTokens, data_dir: Path) -> str | None:
    deadline = time.monotonic() + 10  # the winner writes the clear token right after
    while not (data_dir / "admin-token").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    found = admin.identify((data_dir / "admin-token").read_text().strip())
    return None if found is None else found.role


def test_concurrent_first_starts_make_one_bootstrap_token(tmp_path: Path) -> None:
    results = run_together(bootstrap, str(tmp_path))
    assert all(isinstance(r, list) for r in results), results
    for i in range(DIRECTORIES):
        outcomes = [r[i] for r in results]  # type: ignore[index]
        assert sum(made for made, _ in outcomes) == 1, f"directory {i}: {outcomes}"
        assert {role for _, role in outcomes} == {"admin"}, f"directory {i}: {outcomes}"
        data_dir = tmp_path / str(i)
        for name in ("admin-tokens.json", "admin-token"):
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600
        assert AdminTokens(data_dir / "admin-tokens.json").ensure_bootstrap() is None
        assert sorted(p.name for p in data_dir.iterdir()) == ["admin-token", "admin-tokens.json"]
    assert len(results) == PROCESSES
