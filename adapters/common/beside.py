"""Files a department's system exports beside its records (scans, electronic licences).

The convention, the same for every family (police XML, market JSON, hrss JSON...): for an
export ``X.xml``, every file in ``X.files/`` goes with each record of that export, and the
files in ``X.files/<record key>/`` go with that record only (a key usable as a directory
name). Files are taken in name order; each is uploaded once per run and listed under the
record's ``attachments`` with its file name as title (DESIGN section 11).
"""

from __future__ import annotations

import re
from pathlib import Path

from adapters.common.records import Outgoing

_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def files_beside(record: Outgoing) -> list[Path]:
    """The files that go with ``record`` (see the module docstring)."""
    export = Path(record.file)
    folder = export.with_name(export.stem + ".files")
    if not folder.is_dir():
        return []
    found = sorted(p for p in folder.iterdir() if p.is_file())
    own = folder / record.key
    if _SAFE_KEY.fullmatch(record.key) and own.is_dir():
        found += sorted(p for p in own.iterdir() if p.is_file())
    return found
