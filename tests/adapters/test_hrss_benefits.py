"""The social insurance agency's benefit arithmetic (adapters.hrss.benefits): every grade
against hand-worked vectors, the 60%/300% clamp at and around both bounds, half-up rounding at
the fen, the Zhejiang subsidies only for grades 5-10 leaving the job, floats and bad
configuration refused, and the issued payment record valid against its schema."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import hrss
from adapters.hrss.benefits import (
    DISABILITY_MONTHS,
    SUBSIDY_GRADES,
    BenefitResult,
    BenefitsConfig,
    Clamp,
    PayeeAccount,
    compute,
    issue_payment_record,
    load_config,
    parse_config,
)
from gateway.packaged import default_schema_dir
from gateway.problems import ConfigError, DocumentError
from gateway.validation import SchemaRegistry
from tests.adapters.conftest import example

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "benefits.json").read_text(encoding="utf-8")
)
CASES: list[dict[str, Any]] = VECTORS["cases"]
REFORM_WAGES: list[str] = VECTORS["wages"]["reform"]
PAYMENT = "cn.gov.zj.injury.benefit_payment_record.v1"
PAYEE = PayeeAccount("NFRA-330784-2026-0715-0031", "中国农业银行永康市支行", "6617")


@pytest.fixture(scope="module")
def schemas() -> SchemaRegistry:
    return SchemaRegistry.load(default_schema_dir())


@pytest.fixture(scope="module")
def config() -> BenefitsConfig:
    """The reform year's figures, as the vectors were worked out with."""
    return parse_config(VECTORS["config"], "vectors")


def _wages(case: dict[str, Any]) -> list[str]:
    wages = case["wages"]
    return REFORM_WAGES if wages == "reform" else list(wages)


def _amount(part: Any) -> str | None:
    return None if part is None else str(part.amount)


def _run(grade: int, wages: list[str], leaves: bool, config: BenefitsConfig) -> BenefitResult:
    return compute(grade, wages, leaves_job=leaves, payee_account_ref="REF-1", config=config)


# --- the vectors ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_vector(case: dict[str, Any], config: BenefitsConfig) -> None:
    result = _run(case["grade"], _wages(case), case["leaves_job"], config)
    got = {
        "average_wage": str(result.average_wage),
        "own_wage": str(result.own_wage),
        "clamp": result.clamp.value if result.clamp else None,
        "disability_subsidy": str(result.disability_subsidy.amount),
        "medical_subsidy": _amount(result.medical_subsidy),
        "employment_subsidy": _amount(result.employment_subsidy),
        "total": str(result.total),
        "employer_total": str(result.employer_total),
    }
    assert got == {k: case[k] for k in got}
    assert result.disability_subsidy.months == DISABILITY_MONTHS[case["grade"]]


def test_vectors_cover_every_grade_staying_and_leaving() -> None:
    covered = {(c["grade"], c["leaves_job"]) for c in CASES}
    assert covered >= {(g, False) for g in range(1, 11)} | {(g, True) for g in SUBSIDY_GRADES}
    assert {c["clamp"] for c in CASES} == {None, "floor", "ceiling"}


def test_disability_months_are_the_regulations() -> None:
    assert [DISABILITY_MONTHS[g] for g in range(1, 11)] == [27, 25, 23, 21, 18, 16, 13, 11, 9, 7]


# --- the reform's example ---------------------------------------------------------------------


def test_reform_example_grade_10_pays_21582_40(config: BenefitsConfig) -> None:
    result = _run(10, REFORM_WAGES, False, config)
    assert result.own_wage == Decimal("3083.20") and result.clamp is None
    assert result.disability_subsidy.amount == Decimal("21582.40")
    assert result.total == Decimal("21582.40")
    assert result.medical_subsidy is None and result.employment_subsidy is None
    assert "7 x 3083.20 = 21582.40" in result.breakdown()
    assert "Paid by the fund (基金支付): 21582.40" in result.breakdown()


def test_shipped_2026_figure_raises_the_reform_wage_to_the_floor() -> None:
    """The shipped (illustrative) 2026 average puts 60% above the reform year's 3083.20."""
    shipped = load_config()
    assert shipped.wage_year == 2026
    assert sorted(shipped.medical_subsidy_months) == list(SUBSIDY_GRADES)
    assert sorted(shipped.employment_subsidy_months) == list(SUBSIDY_GRADES)
    result = _run(10, REFORM_WAGES, False, shipped)
    assert result.clamp is Clamp.FLOOR
    assert result.own_wage == (shipped.area_average_monthly_wage * Decimal("0.6")).quantize(
        Decimal("0.01")
    )
    assert "raised to the floor" in result.breakdown()


# --- the Zhejiang subsidies -------------------------------------------------------------------


@pytest.mark.parametrize("grade", range(1, 11))
def test_medical_and_employment_subsidies_only_for_5_to_10_leaving(
    grade: int, config: BenefitsConfig
) -> None:
    stays = _run(grade, REFORM_WAGES, False, config)
    if grade not in SUBSIDY_GRADES:
        with pytest.raises(ValueError, match="keep the employment"):
            _run(grade, REFORM_WAGES, True, config)
        return
    leaves = _run(grade, REFORM_WAGES, True, config)
    assert stays.medical_subsidy is None and stays.employment_subsidy is None
    assert stays.total == stays.disability_subsidy.amount
    if grade < 5:
        assert leaves == dataclasses.replace(stays, leaves_job=True)
        assert "grades 1-4 keep the employment relationship" in leaves.breakdown()
        return
    area = config.area_average_monthly_wage
    assert leaves.medical_subsidy is not None and leaves.employment_subsidy is not None
    assert leaves.medical_subsidy.base == leaves.employment_subsidy.base == area
    assert leaves.medical_subsidy.months == config.medical_subsidy_months[grade]
    assert leaves.employment_subsidy.amount == config.employment_subsidy_months[grade] * area
    assert "the worker stays in the job" in stays.breakdown()


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 11])
def test_float_wage_refused(position: int, config: BenefitsConfig) -> None:
    wages: list[Any] = list(REFORM_WAGES)
    wages[position] = 3083.2
    with pytest.raises(TypeError, match=rf"wages\[{position}\]: a float"):
        compute(10, wages, leaves_job=False, payee_account_ref="R", config=config)


def test_decimal_wages_are_accepted(config: BenefitsConfig) -> None:
    wages = [Decimal(w) for w in REFORM_WAGES]
    result = compute(10, wages, leaves_job=False, payee_account_ref="R", config=config)
    assert result.total == Decimal("21582.40")


@pytest.mark.parametrize("grade", [10.0, True, "10"])
def test_grade_must_be_an_int(grade: Any, config: BenefitsConfig) -> None:
    with pytest.raises(TypeError, match="grade"):
        compute(grade, REFORM_WAGES, leaves_job=False, payee_account_ref="R", config=config)


@pytest.mark.parametrize("grade", [0, 11, -1])
def test_grade_out_of_range(grade: int, config: BenefitsConfig) -> None:
    with pytest.raises(ValueError, match="grade: must be from 1 to 10"):
        _run(grade, REFORM_WAGES, False, config)


def test_float_area_wage_refused(config: BenefitsConfig) -> None:
    with pytest.raises(TypeError, match="area_average_monthly_wage"):
        dataclasses.replace(config, area_average_monthly_wage=4516.75)  # type: ignore[arg-type]


def test_leaves_job_must_be_a_bool(config: BenefitsConfig) -> None:
    flag: Any = 1
    with pytest.raises(TypeError, match="leaves_job"):
        compute(10, REFORM_WAGES, leaves_job=flag, payee_account_ref="R", config=config)


@pytest.mark.parametrize(
    "wages,reason",
    [
        ([], "1 to 12 months"),
        (["3000.00"] * 13, "1 to 12 months"),
        (["3000.00"] * 11 + ["-3083.20"], r"wages\[11\]: not an amount"),
        (["3000.00"] * 11 + ["3083.205"], r"wages\[11\]: not an amount"),
        (["3000.00"] * 11 + ["3,083.20"], r"wages\[11\]: not an amount"),
        ([Decimal("3083.205")] * 12, r"wages\[0\]: not a non-negative amount"),
        ([Decimal("NaN")] * 12, r"wages\[0\]: not a non-negative amount"),
        ([Decimal("1E+30")] * 12, r"wages\[0\]: not a non-negative amount"),
    ],
    ids=["none", "thirteen", "negative", "3dp", "separator", "decimal_3dp", "nan", "huge"],
)
def test_bad_wages_refused_without_the_value(
    wages: list[Any], reason: str, config: BenefitsConfig
) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        _run(10, wages, False, config)
    assert "3083" not in str(caught.value)


def test_wages_as_one_string_refused(config: BenefitsConfig) -> None:
    with pytest.raises(TypeError, match="wages: must be a sequence"):
        _run(10, "3083.20", False, config)  # type: ignore[arg-type]


# --- configuration ----------------------------------------------------------------------------


def _broken(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(VECTORS["config"])
    table = doc
    for key in path[:-1]:
        table = table[key]
    if value is KeyError:
        del table[path[-1]]
    else:
        table[path[-1]] = value
    return doc


BAD_CONFIGS = [
    (("area",), KeyError, "area: must be a table"),
    (("area", "average_monthly_wage"), KeyError, "area.average_monthly_wage: must be"),
    (("area", "average_monthly_wage"), Decimal("4516.75"), "area.average_monthly_wage: must"),
    (("area", "average_monthly_wage"), "0.00", "area.average_monthly_wage: must be a positive"),
    (("area", "average_monthly_wage"), "4,516.75", "area.average_monthly_wage: must"),
    (("area", "wage_year"), "2026", "area.wage_year: must be a year"),
    (("area", "colour"), "blue", "area.colour: unknown key"),
    (("medical_subsidy_months", "7"), KeyError, "medical_subsidy_months.7: must be a whole"),
    (("medical_subsidy_months", "7"), 0, "medical_subsidy_months.7: must be a whole"),
    (
        ("employment_subsidy_months", "10"),
        Decimal("4.5"),
        "employment_subsidy_months.10: must be a whole",
    ),
    (("employment_subsidy_months", "4"), 21, "employment_subsidy_months.4: unknown key"),
    (("employment_subsidy_months",), KeyError, "employment_subsidy_months: must be a table"),
    (("issuer", "credit_code"), "123307844708045806", "issuer.credit_code: "),
    (("issuer", "region_code"), "3307", "issuer.region_code: "),
    (("issuer", "name"), "", "issuer.name: must be a non-empty string"),
    (("surprise",), 1, "surprise: unknown key"),
]


@pytest.mark.parametrize(
    "path,value,message",
    BAD_CONFIGS,
    ids=[".".join(p) + f"-{i}" for i, (p, _, _) in enumerate(BAD_CONFIGS)],
)
def test_bad_config_names_the_key(path: tuple[str, ...], value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_broken(path, value), "benefits.toml")
    assert str(caught.value).startswith(f"benefits.toml: {message}")


def test_toml_number_for_money_refused(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "adapters" / "hrss" / "benefits.toml").read_text("utf-8")
    bad = tmp_path / "benefits.toml"
    bad.write_text(text.replace('"7125.00"', "7125.00"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^benefits.toml: area.average_monthly_wage: must"):
        load_config(bad)


def test_unreadable_config_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[area\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


# --- the result -------------------------------------------------------------------------------


def test_result_is_frozen(config: BenefitsConfig) -> None:
    result = _run(10, REFORM_WAGES, False, config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = Decimal("1.00")  # type: ignore[misc]


def test_breakdown_names_the_clamp(config: BenefitsConfig) -> None:
    high = _run(1, ["20000.00"] * 12, False, config).breakdown()
    assert "lowered to the ceiling" in high and "27 x 13550.25 = 365856.75" in high
    low = _run(10, ["2500.00"] * 12, True, config).breakdown()
    assert "raised to the floor" in low and "4 x 4516.75 = 18067.00" in low


# --- the payment record -----------------------------------------------------------------------


def _issue(conclusion: dict[str, Any], config: BenefitsConfig, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "leaves_job": False,
        "payee": PAYEE,
        "payment_number": "YKGS-ZF-2026-1110-0031",
        "approved_date": date(2026, 11, 3),
        "paid_date": date(2026, 11, 10),
        "config": config,
    }
    args.update(kw)
    return issue_payment_record(conclusion, REFORM_WAGES, **args)


def test_issued_record_is_the_schema_example(
    config: BenefitsConfig, schemas: SchemaRegistry
) -> None:
    record = _issue(example("assessment_conclusion", "grade_10"), config)
    assert schemas.validate(PAYMENT, record) == []
    assert record == example("benefit_payment_record", "grade_10_disability_only")
    assert record["total_amount"] == "21582.40"


@pytest.mark.parametrize("grade", SUBSIDY_GRADES)
def test_issued_record_validates_for_every_grade_leaving(
    grade: int, config: BenefitsConfig, schemas: SchemaRegistry
) -> None:
    conclusion = example("assessment_conclusion", "grade_10")
    conclusion["disability_grade"] = grade
    record = _issue(conclusion, config, leaves_job=True, approved_date=None)
    assert schemas.validate(PAYMENT, record) == []
    assert "approved_date" not in record
    assert ("medical_subsidy" in record) == ("employment_subsidy" in record) == (grade >= 5)
    fund = [
        record[k]["amount"]
        for k in record
        if k.endswith("_subsidy") and record[k]["payer"] == "fund"
    ]
    assert Decimal(record["total_amount"]) == sum(map(Decimal, fund))
    assert record["employer_amount"] == record["employment_subsidy"]["amount"]


def test_issued_record_basis_names_grade_and_base(config: BenefitsConfig) -> None:
    conclusion = example("assessment_conclusion", "grade_10")
    conclusion["disability_grade"] = 9
    record = _issue(conclusion, config, leaves_job=True)
    assert record["medical_subsidy"] == {
        "amount": "31617.25",
        "basis": "浙江省一次性工伤医疗补助金标准（九级）：7个月 × 4516.75",
        "payer": "fund",
    }
    assert record["employment_subsidy"]["amount"] == "45167.50"
    assert record["employment_subsidy"]["payer"] == "employer"
    assert record["total_amount"] == "59366.05"  # 27748.80 + 31617.25: the fund's items
    assert record["employer_amount"] == "45167.50"


def test_not_graded_conclusion_pays_nothing(config: BenefitsConfig) -> None:
    conclusion = example("assessment_conclusion", "grade_10")
    conclusion["outcome"] = "not_graded"
    del conclusion["disability_grade"]
    with pytest.raises(ValueError, match="outcome is not graded"):
        _issue(conclusion, config)


def test_invalid_conclusion_refused_by_pointer(config: BenefitsConfig) -> None:
    conclusion = example("assessment_conclusion", "grade_10")
    conclusion["worker"]["id_number"] = "330784198603140512"  # wrong check character
    with pytest.raises(DocumentError) as caught:
        _issue(conclusion, config)
    assert [v.pointer for v in caught.value.violations] == ["/worker/id_number"]
    assert "330784198603140512" not in str(caught.value.problem_body())


def test_payment_before_the_conclusion_refused(config: BenefitsConfig) -> None:
    conclusion = example("assessment_conclusion", "grade_10")  # concluded 2026-10-20
    with pytest.raises(ValueError, match="paid_date: before"):
        _issue(conclusion, config, approved_date=None, paid_date=date(2026, 10, 19))


def test_paid_before_approved_refused_by_the_schema(config: BenefitsConfig) -> None:
    conclusion = example("assessment_conclusion", "grade_10")
    with pytest.raises(DocumentError) as caught:
        _issue(conclusion, config, approved_date=date(2026, 11, 3), paid_date=date(2026, 11, 2))
    assert caught.value.violations


# --- properties -------------------------------------------------------------------------------

fen_amounts = st.integers(min_value=0, max_value=10**8).map(lambda n: str(Decimal(n) / 100))
wage_months = st.lists(fen_amounts, min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(grade=st.integers(1, 10), wages=wage_months, leaves=st.booleans())
def test_total_is_the_sum_of_parts_in_fen(grade: int, wages: list[str], leaves: bool) -> None:
    config = parse_config(VECTORS["config"], "vectors")
    leaves = leaves and grade in SUBSIDY_GRADES  # grades 1-4 keep the job (art. 35)
    result = _run(grade, wages, leaves, config)
    parts = [result.disability_subsidy, result.medical_subsidy, result.employment_subsidy]
    fund = sum(p.amount for p in parts if p is not None and p.payer == "fund")
    assert result.total + result.employer_total == sum(p.amount for p in parts if p is not None)
    assert result.total == fund
    assert result.floor <= result.own_wage <= result.ceiling
    for amount in (result.own_wage, result.total, *(p.amount for p in parts if p)):
        assert amount.as_tuple().exponent == -2
    assert (result.medical_subsidy is not None) == (leaves and grade >= 5)


@settings(max_examples=100, deadline=None)
@given(wages=wage_months, leaves=st.booleans())
def test_amount_is_monotone_in_grade(wages: list[str], leaves: bool) -> None:
    """A more severe grade never gets a smaller disability subsidy; staying in the job, never
    a smaller total either (leaving adds the subsidies only from grade 5, so not that total)."""
    config = parse_config(VECTORS["config"], "vectors")
    results = [_run(g, wages, leaves and g in SUBSIDY_GRADES, config) for g in range(1, 11)]
    subsidies = [r.disability_subsidy.amount for r in results]
    assert subsidies == sorted(subsidies, reverse=True)
    if not leaves:
        assert [r.total for r in results] == subsidies
    if results[0].own_wage > 0:
        assert len(set(subsidies)) == 10


def test_issued_record_is_ready_for_send(config: BenefitsConfig, tmp_path: Path) -> None:
    """The thin adapter's send path takes the issued record as it is."""
    record = _issue(example("assessment_conclusion", "grade_10"), config)
    path = tmp_path / "payment.json"
    path.write_text(json.dumps({"type": "benefit_payment_record", "document": record}), "utf-8")
    parsed = hrss.parse_file(path)
    assert not parsed.errors and [r.data for r in parsed.records] == [record]
    assert parsed.records[0].subject == "GS-330784-2026-000731"


# --- the issue's vectors (tests/adapters/vectors/regulations.json) -----------------------------

LAW: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "regulations.json").read_text(encoding="utf-8")
)


def _config_with_area(area: str) -> BenefitsConfig:
    return dataclasses.replace(
        parse_config(VECTORS["config"], "vectors"), area_average_monthly_wage=Decimal(area)
    )


@pytest.mark.parametrize("row", LAW["subsidy"], ids=[r["id"] for r in LAW["subsidy"]])
def test_subsidy_vector(row: dict[str, Any]) -> None:
    config = _config_with_area(row["area_average"])
    result = _run(row["grade"], [row["average_wage"]], False, config)
    assert str(result.own_wage) == row["own_wage"]
    assert (result.clamp.value if result.clamp else None) == row["clamp"]
    assert str(result.disability_subsidy.amount) == row["amount"]
    assert result.disability_subsidy.payer == "fund"


@pytest.mark.parametrize("row", LAW["monthly_allowance"], ids=lambda r: f"grade_{r['grade']}")
def test_monthly_allowance_vector(row: dict[str, Any], config: BenefitsConfig) -> None:
    result = _run(row["grade"], [row["own_wage"]], False, config)
    assert result.monthly_allowance is not None
    assert (str(result.monthly_allowance.amount), result.monthly_allowance.payer) == (
        row["amount"],
        row["payer"],
    )


def test_no_monthly_allowance_from_grade_7(config: BenefitsConfig) -> None:
    assert all(_run(g, ["3083.20"], False, config).monthly_allowance is None for g in (7, 8, 9, 10))


@pytest.mark.parametrize("row", LAW["care_allowance"], ids=lambda r: r["dependency"])
def test_care_allowance_vector(row: dict[str, Any]) -> None:
    result = compute(
        1,
        ["3083.20"],
        leaves_job=False,
        payee_account_ref="REF-1",
        config=_config_with_area(row["area_average"]),
        care_dependency=row["dependency"],
    )
    assert result.care_allowance is not None
    assert (str(result.care_allowance.amount), result.care_allowance.payer) == (
        row["amount"],
        "fund",
    )


def test_the_employment_subsidy_is_the_employers() -> None:
    """Reproduced: the demo's commuting case paid 118,364.75 of which 45,167.50 was the
    employer's. The fund's total leaves the employer's item out; the record names both."""
    result = _run(9, ["4620.00"], True, _config_with_area("7125.00"))
    assert result.employment_subsidy is not None and result.medical_subsidy is not None
    assert result.employment_subsidy.payer == "employer"
    assert result.total == result.disability_subsidy.amount + result.medical_subsidy.amount
    assert result.employer_total == result.employment_subsidy.amount


def test_hospital_food_allowance_where_configured(config: BenefitsConfig) -> None:
    assert _run(10, REFORM_WAGES, False, config).hospital_food is None
    doc = copy.deepcopy(VECTORS["config"])
    doc["hospital_food_allowance"] = {"daily_rate": "30.00", "source": "illustrative"}
    fed = compute(
        10,
        REFORM_WAGES,
        leaves_job=False,
        payee_account_ref="R",
        config=parse_config(doc),
        hospital_days=9,
    )
    assert fed.hospital_food is not None and str(fed.hospital_food.amount) == "270.00"
    assert fed.total == Decimal("21582.40") + Decimal("270.00")
