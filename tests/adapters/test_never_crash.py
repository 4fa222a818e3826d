"""An adapter never crashes on a record: whatever a native file holds (random bytes, or a
real sample cut, spliced and corrupted), each family's reader gives records or a named
refusal (``AdapterError``: file, place, field, reason), never another exception.

One property per adapter family, run with hypothesis over every sample of the family.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import health, hrss, insurance_regulator, market, medical_insurance, police, zlb
from adapters.common.cli import Family
from adapters.common.errors import AdapterError
from adapters.common.records import Parsed
from adapters.common.settings import Institution
from tests.adapters.conftest import REPO

FAMILIES = [health.FAMILY, police.FAMILY, medical_insurance.FAMILY, insurance_regulator.FAMILY]
THIN = [market.FAMILY, zlb.FAMILY, hrss.FAMILY]
INSTITUTION = Institution("12330784470802315K", "永康市第一人民医院")
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

#: a mutation: (operation, position in [0, 1), bytes)
_mutation = st.tuples(
    st.sampled_from(["replace", "insert", "delete", "duplicate", "truncate"]),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.binary(min_size=1, max_size=8)
    | st.sampled_from([b"|", b"^", b"~", b"\\", b"&", b'""', b"\r", b"<", b">", b"\xff", b"1e30"]),
)


def _mutate(raw: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for op, where, data in mutations:
        at = int(where * (len(raw) + 1))
        if op == "replace":
            raw = raw[:at] + data + raw[at + len(data) :]
        elif op == "insert":
            raw = raw[:at] + data + raw[at:]
        elif op == "delete":
            raw = raw[:at] + raw[at + len(data) :]
        elif op == "duplicate":
            raw = raw[:at] + raw[at : at + 40] + raw[at:]
        else:
            raw = raw[:at]
    return raw


def _samples(family: Family) -> list[tuple[str, bytes]]:
    """(file suffix, bytes) of every sample: some families read by the file's suffix."""
    folder = REPO / "adapters" / family.name / "samples"
    return [(p.suffix, p.read_bytes()) for p in sorted(folder.iterdir())]


def _read(family: Family, raw: bytes, suffix: str = ".dat") -> Parsed:
    """The family's reader on ``raw``: records, or refusals; anything else propagates."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"native{suffix}"
        path.write_bytes(raw)
        try:
            return family.parse(path, INSTITUTION)
        except AdapterError as exc:
            assert exc.problems and all(p.reason and p.field for p in exc.problems)
            return Parsed(errors=[exc])


@pytest.mark.parametrize("family", FAMILIES + THIN, ids=lambda f: f.name)
def test_every_sample_is_read_whole(family: Family) -> None:
    for suffix, raw in _samples(family):
        parsed = _read(family, raw, suffix)
        assert parsed.records and not parsed.errors


@pytest.mark.parametrize("family", FAMILIES + THIN, ids=lambda f: f.name)
@SETTINGS
@given(data=st.data())
def test_mutated_samples_give_records_or_named_refusals(
    family: Family, data: st.DataObject
) -> None:
    suffix, raw = data.draw(st.sampled_from(_samples(family)))
    mutations = data.draw(st.lists(_mutation, min_size=1, max_size=4))
    _read(family, _mutate(raw, mutations), suffix)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
@SETTINGS
@given(
    raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    suffix=st.sampled_from([".dat", ".csv", ".json", ".xml", ".hl7"]),
)
def test_random_files_give_named_refusals(family: Family, raw: bytes, suffix: str) -> None:
    parsed = _read(family, raw, suffix)
    assert parsed.errors or parsed.records


@SETTINGS
@given(
    st.lists(
        st.text(alphabet=st.sampled_from('|^~\\&"ERSTFHNX.br0A9椎'), max_size=12),
        min_size=1,
        max_size=6,
    )
)
def test_hl7_fields_of_any_text_give_records_or_named_refusals(values: list[str]) -> None:
    raw = (REPO / "adapters/health/samples/oru_r01_lab.hl7").read_text("utf-8")
    lines = raw.splitlines()
    obx = next(i for i, line in enumerate(lines) if line.startswith("OBX"))
    fields = lines[obx].split("|")
    for i, value in enumerate(values):
        fields[(5 + i) % len(fields) or 5] = value
    lines[obx] = "|".join(fields)
    _read(health.FAMILY, "\r".join(lines).encode())
