"""ICD-10 and ICD-9-CM-3 editions against the vectors kept as data (vectors/code_sets.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gateway.validation import codes
from gateway.validation import formats as f

VECTORS = tomllib.loads((Path(__file__).parent / "vectors" / "code_sets.toml").read_text("utf-8"))
VALID = [
    (code_set, edition, code)
    for code_set in ("icd10", "icd9cm3")
    for edition, items in VECTORS[code_set]["valid"].items()
    for code in items
]
INVALID = [(s, code) for s in ("icd10", "icd9cm3") for code in VECTORS[s]["invalid"]]
WRONG = [(s, code, ed) for s in ("icd10", "icd9cm3") for code, ed in VECTORS[s]["wrong_edition"]]


def test_the_vectors_are_as_many_as_promised() -> None:
    icd10 = [v for v in VALID if v[0] == "icd10"]
    assert len(icd10) >= 30 and {e for _, e, _ in icd10} == {
        "who",
        "cn_clinical_2.0",
        "cn_insurance_2.0",
    }
    assert len(VECTORS["icd10"]["invalid"]) >= 20
    assert len([v for v in VALID if v[0] == "icd9cm3"]) >= 10
    assert len(VECTORS["icd9cm3"]["invalid"]) >= 10


@pytest.mark.parametrize(("code_set", "edition", "code"), VALID)
def test_valid_codes_pass_in_their_edition(code_set: str, edition: str, code: str) -> None:
    assert edition in codes.matching_editions(code_set, code)
    assert codes.code_fault(code_set, code, edition) is None
    assert f.FORMATS[code_set](code)
    assert f.KIND_FORMATS[f"code-{edition}"][0](code)


@pytest.mark.parametrize(("code_set", "code"), INVALID)
def test_invalid_codes_are_refused_by_every_edition(code_set: str, code: str) -> None:
    assert codes.matching_editions(code_set, code) == []
    fault = f.FAULTS[code_set](code)
    assert fault is not None and not f.FORMATS[code_set](code)


@pytest.mark.parametrize(("code_set", "code", "edition"), WRONG)
def test_a_code_of_another_edition_is_refused_naming_the_edition(
    code_set: str, code: str, edition: str
) -> None:
    fault = codes.code_fault(code_set, code, edition)
    assert fault is not None and codes.editions()[edition].name in fault
    assert code not in fault


def test_a_pair_in_one_code_is_refused_and_split_in_two() -> None:
    assert f.icd10_fault("A17.0†G01*") == "a dagger/asterisk pair is two codes, one per diagnosis"
    assert codes.split_pair("A17.0†G01*") == ["A17.0†", "G01*"]
    assert codes.split_pair("A18.0+M49.0*") == ["A18.0+", "M49.0*"]
    assert codes.split_pair("S62.600x001") == ["S62.600x001"]


def test_every_edition_names_its_source() -> None:
    for edition in codes.editions().values():
        assert edition.source and edition.name
