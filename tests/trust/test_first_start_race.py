"""Instances starting for the first time on one shared data directory all end up with the
same development keys: one key file is created, complete, and the others load it."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import orjson
import pytest

from gateway.assembly import _dev_key
from gateway.trust import SigningKey
from tests.together import PROCESSES, run_together

FILES = 20


def make_dev_keys(directory: str) -> list[tuple[str, bytes]]:
    """One instance's start: the dev key of each department in turn, (kid, public JWK)."""
    keys = [_dev_key(Path(directory) / f"dept{i}.jwk", f"zj.dept{i}/dev") for i in range(FILES)]
    return [(k.kid, orjson.dumps(k.public_jwk(), option=orjson.OPT_SORT_KEYS)) for k in keys]


def test_concurrent_first_starts_share_one_dev_key_each(tmp_path: Path) -> None:
    directory = tmp_path / "dev-keys"
    results = run_together(make_dev_keys, str(directory))
    assert all(r == results[0] for r in results), results
    assert len(results) == PROCESSES
    on_disk = results[0]
    assert isinstance(on_disk, list)
    for i, (kid, public) in enumerate(on_disk):
        path = directory / f"dept{i}.jwk"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        loaded = SigningKey.load(path)  # complete and valid
        assert (loaded.kid, orjson.dumps(loaded.public_jwk(), option=orjson.OPT_SORT_KEYS)) == (
            kid,
            public,
        )
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        f"dept{i}.jwk" for i in range(FILES)
    ), "temporary files left behind"


def test_save_never_overwrites_and_never_shows_half_a_key(tmp_path: Path) -> None:
    path = tmp_path / "k.jwk"
    first = SigningKey.generate("zj.dept/k1")
    first.save(path)
    second = SigningKey.generate("zj.dept/k1")
    try:
        second.save(path)
    except FileExistsError as exc:
        assert exc.filename == str(path)
    else:
        raise AssertionError("save overwrote an existing key file")
    assert SigningKey.load(path).public_jwk() == first.public_jwk()
    assert [p.name for p in tmp_path.iterdir()] == ["k.jwk"]


def test_without_hard_links_creation_is_still_exclusive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some network and FUSE file systems refuse link(2): fall back to O_EXCL."""

    def no_link(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    path = tmp_path / "k.jwk"
    first = _dev_key(path, "zj.dept/dev")
    assert _dev_key(path, "zj.dept/dev").public_jwk() == first.public_jwk()
    with pytest.raises(FileExistsError):
        SigningKey.generate("zj.dept/dev").save(path)
    assert SigningKey.load(path).public_jwk() == first.public_jwk()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["k.jwk"]
