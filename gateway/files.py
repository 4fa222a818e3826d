"""Private files (keys, admin tokens) written so that other processes never see half of one.

Several gateway instances may share one data directory and start at the same moment, so "if
the file is missing, make it" must have exactly one winner, and a reader must find either no
file or a complete one. Both functions write a temporary file beside the target (mode 0600
from creation on, flushed to disk) and then put it in place in one step: ``create_private``
with ``os.link``, which fails if the target exists; ``replace_private`` with ``os.replace``.
On a file system without hard links ``create_private`` falls back to ``O_CREAT | O_EXCL``:
still one winner, but a reader may then see the file before it is complete.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: What ``link(2)`` answers on a file system that has no hard links (some network and FUSE
#: file systems).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def create_private(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` unless it exists. True if this call created it; False
    if it was already there (another process won: read its file, never overwrite it)."""
    with _written_beside(path, data) as temporary:
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            return _create_exclusive(path, data)
    _sync_directory(path.parent)
    return True


def _create_exclusive(path: Path, data: bytes) -> bool:
    """``create_private`` where hard links are missing: exclusive, though not all at once."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    _sync_directory(path.parent)
    return True


def replace_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, replacing any file there (a crash leaves old or new)."""
    with _written_beside(path, data) as temporary:
        os.replace(temporary, path)
    _sync_directory(path.parent)


@contextlib.contextmanager
def _written_beside(path: Path, data: bytes) -> Iterator[str]:
    """A fsynced 0600 temporary file in ``path``'s directory, removed afterwards (after a
    link or replace only the temporary name goes; the data stays under ``path``)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        yield temporary
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _sync_directory(directory: Path) -> None:
    """Make the new directory entry durable, so a crash cannot undo a creation others saw."""
    with contextlib.suppress(OSError):  # not every platform or file system allows it
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
