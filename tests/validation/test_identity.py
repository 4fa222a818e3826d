"""Identity numbers by kind and GB/T 2260 regions, against the vectors kept as data."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gateway.validation import formats as f
from gateway.validation import identity
from gateway.validation.regions import regions

HERE = Path(__file__).parent / "vectors"
IDS = tomllib.loads((HERE / "id_numbers.toml").read_text("utf-8"))
REGIONS = tomllib.loads((HERE / "regions.toml").read_text("utf-8"))
VALID = [(kind, n) for kind, numbers in IDS["valid"].items() for n in numbers]


def test_five_valid_numbers_of_every_kind() -> None:
    assert set(IDS["valid"]) == set(identity.kinds())
    assert all(len(numbers) >= 5 for numbers in IDS["valid"].values())


@pytest.mark.parametrize(("kind", "number"), VALID)
def test_valid_numbers_pass_and_say_their_kind(kind: str, number: str) -> None:
    assert identity.id_number_fault(number) is None
    assert identity.id_number_fault(number, kind) is None
    assert identity.kind_of(number) == kind
    assert f.is_id_number(number)


@pytest.mark.parametrize(("kind", "number"), VALID)
def test_every_single_character_mutation_is_refused(kind: str, number: str) -> None:
    for position in range(18):
        for c in identity.ALPHABET:
            if c == number[position]:
                continue
            mutated = number[:position] + c + number[position + 1 :]
            assert identity.id_number_fault(mutated) is not None, (position, c)
            assert identity.id_number_fault(mutated, kind) is not None, (position, c)


@pytest.mark.parametrize("case", IDS["invalid"], ids=lambda c: c["rule"][:40])
def test_invalid_numbers_are_refused_naming_the_rule(case: dict[str, str]) -> None:
    fault = identity.id_number_fault(case["number"], case["kind"] or None)
    assert fault is not None and case["rule"] in fault
    assert case["number"] not in fault


def test_resident_id_format_is_the_resident_kind_only() -> None:
    assert f.is_resident_id("330784198603140511")
    assert not f.is_resident_id("830000199408230025")
    assert f.is_id_number("830000199408230025")


@pytest.mark.parametrize("code", REGIONS["current"])
def test_current_region_codes_name_places(code: str) -> None:
    assert f.gb2260_fault(code) is None and regions().is_current(code)


@pytest.mark.parametrize(("code", "last"), REGIONS["historic"])
def test_historic_region_codes_are_not_places_today(code: str, last: str) -> None:
    assert (
        f.gb2260_fault(code) == "not a current region code (GB/T 2260: abolished, no longer listed)"
    )
    assert regions().historic[code] == last
    assert regions().valid_for_birth(code, last) and not regions().valid_for_birth(code, "209901")


@pytest.mark.parametrize("code", REGIONS["unknown"])
def test_unknown_region_codes_are_refused(code: str) -> None:
    fault = f.gb2260_fault(code)
    assert fault is not None and not regions().known(code)


def test_the_table_covers_every_province_and_zhejiang_whole() -> None:
    current = regions().current
    provinces = [c for c in current if c.endswith("0000")]
    assert len(provinces) == 34
    zhejiang = [c for c in current if c.startswith("33")]
    # 1 province, 11 prefecture-level cities, 90 county-level divisions (2021 onwards)
    assert len([c for c in zhejiang if c.endswith("00")]) == 12 and len(zhejiang) == 102
    assert current["330784"] == "永康市"


@pytest.mark.parametrize("code", REGIONS["credit_codes_valid"])
def test_credit_codes_take_national_and_historic_registration_codes(code: str) -> None:
    assert f.uscc_fault(code) is None
    assert f.gb2260_fault(code[2:8]) is not None  # not a place today
