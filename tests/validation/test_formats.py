"""The format checkers: published vectors, every single-character mutation, edge cases."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.validation import formats as f

ID_VECTOR = "11010519491231002X"  # GB 11643 published example
USCC_VECTOR = "91110000600037341L"  # GB 32100 published example


def test_published_vectors_pass() -> None:
    assert f.is_resident_id(ID_VECTOR)
    assert f.is_uscc(USCC_VECTOR)
    assert f.resident_id_check_char(ID_VECTOR[:17]) == "X"
    assert f.uscc_check_char(USCC_VECTOR[:17]) == "L"


@pytest.mark.parametrize("position", range(18))
def test_every_single_character_mutation_of_the_id_vector_fails(position: int) -> None:
    # Mutations in the birth-date digits may also fail as dates; they must fail either way.
    for c in f.RESIDENT_ID_ALPHABET:
        if c == ID_VECTOR[position]:
            continue
        mutated = ID_VECTOR[:position] + c + ID_VECTOR[position + 1 :]
        assert not f.is_resident_id(mutated), (position, c)


@pytest.mark.parametrize("position", range(18))
def test_every_single_character_mutation_of_the_uscc_vector_fails(position: int) -> None:
    for c in f.USCC_ALPHABET:
        if c == USCC_VECTOR[position]:
            continue
        mutated = USCC_VECTOR[:position] + c + USCC_VECTOR[position + 1 :]
        assert not f.is_uscc(mutated), (position, c)


@pytest.mark.parametrize(
    ("value", "fault"),
    [
        ("11010519491231002x", "17 digits"),  # lower-case x is not the GB 11643 spelling
        ("11010519491231002", "17 digits"),
        ("11010519491231002XX", "17 digits"),
        ("１1010519491231002X", "17 digits"),  # full-width digit
        ("٣1010519491231002X", "17 digits"),  # Arabic-Indic digit: \d would have matched
        ("99010519491231002X", "region code"),
        ("110105194902300000", "not a real date"),
        ("110105189912310000", "out of range"),
        ("11010519491231002Y", "17 digits"),
        ("110105194912310021", "check character"),
    ],
)
def test_resident_id_faults_name_the_rule(value: str, fault: str) -> None:
    message = f.resident_id_fault(value)
    assert message is not None and fault in message
    assert value not in message


def test_resident_id_birth_date_not_in_the_future() -> None:
    first17 = "33078420260711001"
    value = first17 + f.resident_id_check_char(first17)
    assert f.resident_id_fault(value, today=date(2026, 7, 11)) is None
    assert f.resident_id_fault(value, today=date(2026, 7, 10)) is not None


def test_resident_id_born_1900_is_the_earliest() -> None:
    ok, too_old = "33078419000101001", "33078418991231001"
    assert f.is_resident_id(ok + f.resident_id_check_char(ok))
    assert not f.is_resident_id(too_old + f.resident_id_check_char(too_old))


@pytest.mark.parametrize(
    "value",
    [
        "91110000600037341l",  # lower case
        "91110000600037341",
        "9111000060003734IL",  # I is not in the alphabet
        "91AB0000600037341L",  # region part must be digits
        "919900006000373410",
    ],
)
def test_uscc_refused(value: str) -> None:
    assert not f.is_uscc(value)


def test_uscc_region_part_must_be_a_region() -> None:
    first17 = "91990000600037341"  # province 99 does not exist; check character made right
    fault = f.uscc_fault(first17 + f.uscc_check_char(first17))
    assert fault is not None and "region" in fault


@pytest.mark.parametrize("value", ["330000", "330700", "330784", "110105", "820000", "710000"])
def test_gb2260_valid(value: str) -> None:
    assert f.is_gb2260(value)


@pytest.mark.parametrize("value", ["000000", "990784", "16000", "3307840", "33078a", "240000"])
def test_gb2260_invalid(value: str) -> None:
    assert not f.is_gb2260(value)


@pytest.mark.parametrize("value", ["S62.6", "S62.60", "T14.9", "S62", "U07.1", "A00.0"])
def test_icd10_valid(value: str) -> None:
    assert f.is_icd10(value)


@pytest.mark.parametrize("value", ["s62.6", "S6.26", "S62.", "S62.6011", "62.6", "S62-6", ""])
def test_icd10_invalid(value: str) -> None:
    assert not f.is_icd10(value)


@pytest.mark.parametrize("value", ["0", "0.5", "21582.40", "3083.2", "10000000", "0.00"])
def test_money_valid(value: str) -> None:
    assert f.is_decimal_money(value)


@pytest.mark.parametrize(
    "value",
    ["-1.00", "+1.00", "1.234", "1e3", "1.2E4", "01.00", "1.", ".5", "1,000.00", " 1", "NaN", ""],
)
def test_money_invalid(value: str) -> None:
    assert not f.is_decimal_money(value)


@pytest.mark.parametrize("value", ["2026-07-11", "2028-02-29", "1900-01-01"])
def test_date_valid(value: str) -> None:
    assert f.is_date(value)


@pytest.mark.parametrize(
    "value", ["2026-02-29", "2026-13-01", "2026-7-11", "20260711", "2026-07-11T00:00:00Z", ""]
)
def test_date_invalid(value: str) -> None:
    assert not f.is_date(value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-07-11T10:20:00+08:00",
        "2026-07-11T02:20:00Z",
        "2026-07-11T02:20:00.123Z",
        "2026-07-11T02:20:00.123456789-05:30",
    ],
)
def test_date_time_valid(value: str) -> None:
    assert f.is_date_time(value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-07-11T10:20:00",  # no offset
        "2026-07-11 10:20:00+08:00",
        "2026-02-30T10:20:00Z",
        "2026-07-11T24:00:00Z",
        "2026-07-11T10:60:00Z",
        "2026-07-11T10:20:00+24:00",
        "2026-07-11",
    ],
)
def test_date_time_invalid(value: str) -> None:
    assert not f.is_date_time(value)


@pytest.mark.parametrize("value", ["13857912346", "19912345678", "0579-87123456", "057187123456"])
def test_phone_valid(value: str) -> None:
    assert f.is_phone_cn(value)


@pytest.mark.parametrize("value", ["12857912346", "1385791234", "+8613857912346", "579-8712345"])
def test_phone_invalid(value: str) -> None:
    assert not f.is_phone_cn(value)


def test_formats_table_names_every_checker() -> None:
    assert set(f.FORMATS) == {
        "resident-id",
        "id-number",
        "uscc",
        "gb2260",
        "icd10",
        "icd9cm3",
        "decimal-money",
        "date",
        "date-time",
        "phone-cn",
    } | set(f.KIND_FORMATS)
    assert set(f.FORMAT_MESSAGES) == set(f.FORMATS)
