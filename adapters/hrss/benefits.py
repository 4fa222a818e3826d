"""The social insurance agency's benefit arithmetic (330784.hrss.benefits): the one-time
benefits of the Regulations on Work-Related Injury Insurance, articles 35-37, and the
Zhejiang implementing measures, and the benefit payment record that pays them.

Money is ``decimal.Decimal`` from the first input to the last output and is quantised to the
fen (0.01 yuan) with ROUND_HALF_UP, the rounding a cashier and the fund's auditors use. A
float is refused with ``TypeError`` wherever money or a grade comes in: binary floating point
cannot hold 3083.20, and an amount that is off by a fen is a complaint and an audit finding.

Three parts: the arithmetic (``compute``, pure), the configuration (``load_config``: the
area's average wage and Zhejiang's subsidy months, which change by year and by decree, so
they are data) and the record (``issue_payment_record``: a schema-valid
``benefit_payment_record`` from an assessment conclusion). See README.md, "Benefits".
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from adapters.common.records import doc_type, registry
from gateway.configuration.loader import Place
from gateway.problems import ConfigError
from gateway.validation.formats import gb2260_fault, is_decimal_money, uscc_fault

FEN = Decimal("0.01")
#: the schemas' decimal-money allows 15 integer digits; beyond that is not a wage
MONEY_LIMIT = Decimal(10) ** 15
REGULATIONS_FILE = Path(__file__).with_name("regulations.toml")
DEFAULT_CONFIG = Path(__file__).with_name("benefits.toml")
FUND = "fund"
EMPLOYER = "employer"


def _regulations() -> Mapping[str, Any]:
    """The national figures (regulations.toml), money and shares read as Decimal."""
    with REGULATIONS_FILE.open("rb") as handle:
        return tomllib.load(handle)


_LAW = _regulations()
#: articles 35-37: one-time disability subsidy, months of own wage by grade (1 most severe)
DISABILITY_MONTHS: Mapping[int, int] = MappingProxyType(
    {int(g): m for g, m in _LAW["disability_subsidy_months"].items()}
)
#: articles 35, 36: monthly disability allowance, share of own wage and who pays, grades 1-6
ALLOWANCE_SHARE: Mapping[int, Decimal] = MappingProxyType(
    {int(g): Decimal(v) for g, v in _LAW["monthly_allowance"]["share"].items()}
)
ALLOWANCE_PAYER: Mapping[int, str] = MappingProxyType(
    {int(g): v for g, v in _LAW["monthly_allowance"]["payer"].items()}
)
#: article 34: care allowance, share of the area's average wage by degree of dependency
CARE_SHARE: Mapping[str, Decimal] = MappingProxyType(
    {k: Decimal(v) for k, v in _LAW["care_allowance"]["share"].items()}
)
#: grades whose employment relationship may end with the medical and employment subsidies
SUBSIDY_GRADES = (5, 6, 7, 8, 9, 10)
#: grades 1-4 keep the employment relationship (art. 35 para. 1): they never "leave the job"
KEEPS_JOB_GRADES = (1, 2, 3, 4)
#: article 64: the own wage is at least 60% and at most 300% of the area's average wage
FLOOR_SHARE = Decimal(_LAW["own_wage_band"]["floor"])
CEILING_SHARE = Decimal(_LAW["own_wage_band"]["ceiling"])
GRADE_ZH = ("", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
DISABILITY_LABEL = "One-time disability subsidy (一次性伤残补助金)"
MEDICAL_LABEL = "One-time medical subsidy (一次性工伤医疗补助金)"
EMPLOYMENT_LABEL = "One-time employment subsidy (一次性伤残就业补助金)"

Money = str | Decimal


def to_fen(value: Decimal) -> Decimal:
    """Round to the fen, half up (0.005 -> 0.01), as the fund pays."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


# --- inputs -----------------------------------------------------------------------------------


def money(value: object, what: str) -> Decimal:
    """A non-negative amount of at most two decimals, from a decimal string or a Decimal.

    ``what`` names the input in the error (``wages[3]``); the value itself is personal data
    (a wage) and is never quoted.
    """
    if isinstance(value, float):
        raise TypeError(f"{what}: a float cannot hold money exactly; pass a decimal string")
    if isinstance(value, str):
        if not is_decimal_money(value):
            raise ValueError(f"{what}: not an amount in yuan (digits, at most 2 decimals, no sign)")
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or not 0 <= value < MONEY_LIMIT or value != to_fen(value):
            raise ValueError(f"{what}: not a non-negative amount with at most two decimals")
        return value
    raise TypeError(f"{what}: must be a decimal string or a Decimal")


def check_grade(grade: object) -> int:
    """A disability grade 1-10 as an int (a float or bool grade is a caller's bug)."""
    if not isinstance(grade, int) or isinstance(grade, bool):
        raise TypeError("grade: must be an int from 1 to 10")
    if grade not in DISABILITY_MONTHS:
        raise ValueError("grade: must be from 1 to 10")
    return grade


def average_wage(wages: Sequence[Money]) -> Decimal:
    """The average monthly contribution wage over the months before the injury, to the fen.

    Twelve months normally; a worker insured for fewer months has the average of the months
    contributed (so 1 to 12 values), which is how the agencies apply article 64.
    """
    if isinstance(wages, str | bytes) or not isinstance(wages, Sequence):
        raise TypeError("wages: must be a sequence of monthly contribution wages")
    if not 1 <= len(wages) <= 12:
        raise ValueError("wages: must hold the contribution wages of 1 to 12 months")
    amounts = [money(w, f"wages[{i}]") for i, w in enumerate(wages)]
    return to_fen(sum(amounts, Decimal(0)) / len(amounts))


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issuer:
    """The agency that issues (and pays) the record."""

    name: str
    credit_code: str
    region_code: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "credit_code": self.credit_code, "region_code": self.region_code}


@dataclass(frozen=True, slots=True)
class BenefitsConfig:
    """What the law leaves to the province and the year: the area's average monthly wage
    (the clamp's and the Zhejiang subsidies' base) and the subsidy months by grade 5-10."""

    area_name: str
    wage_year: int
    area_average_monthly_wage: Decimal
    medical_subsidy_months: Mapping[int, int]
    employment_subsidy_months: Mapping[int, int]
    issuer: Issuer
    #: 住院伙食补助费 per day in hospital (art. 30 para. 4), where the definition sets one
    hospital_food_daily: Decimal | None = None

    def __post_init__(self) -> None:
        money(self.area_average_monthly_wage, "area_average_monthly_wage")
        if self.area_average_monthly_wage <= 0:
            raise ValueError("area_average_monthly_wage: must be positive")
        for table in (self.medical_subsidy_months, self.employment_subsidy_months):
            if sorted(table) != list(SUBSIDY_GRADES):
                raise ValueError("subsidy months: must be given for grades 5 to 10 exactly")


def _table(doc: Mapping[str, Any], key: str, place: Place) -> Mapping[str, Any]:
    return place.at(key).table(doc.get(key))


def _known(doc: Mapping[str, Any], allowed: set[str], place: Place) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise place.at(unknown[0]).fail(f"unknown key; allowed: {', '.join(sorted(allowed))}")


def _text(doc: Mapping[str, Any], key: str, place: Place) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise place.at(key).fail("must be a non-empty string of at most 100 characters")
    return value


def _months(doc: Mapping[str, Any], key: str, place: Place) -> Mapping[int, int]:
    """``{"5": 22, ..., "10": 4}``: whole months for each of the grades 5 to 10."""
    table, here = _table(doc, key, place), place.at(key)
    _known(table, {str(g) for g in SUBSIDY_GRADES}, here)
    months = {}
    for grade in SUBSIDY_GRADES:
        value = table.get(str(grade))
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 120:
            raise here.at(str(grade)).fail("must be a whole number of months from 1 to 120")
        months[grade] = value
    return MappingProxyType(months)


def _wage(doc: Mapping[str, Any], key: str, place: Place) -> Decimal:
    value = doc.get(key)
    if not isinstance(value, str) or not is_decimal_money(value) or Decimal(value) <= 0:
        raise place.at(key).fail('must be a positive amount as a string, such as "7125.00"')
    return Decimal(value)


def _issuer(doc: Mapping[str, Any], place: Place) -> Issuer:
    table, here = _table(doc, "issuer", place), place.at("issuer")
    _known(table, {"name", "credit_code", "region_code"}, here)
    issuer = Issuer(*(_text(table, k, here) for k in ("name", "credit_code", "region_code")))
    for key, fault in (("credit_code", uscc_fault), ("region_code", gb2260_fault)):
        reason = fault(getattr(issuer, key))
        if reason:
            raise here.at(key).fail(reason)
    return issuer


def parse_config(doc: Mapping[str, Any], source: str = "benefits.toml") -> BenefitsConfig:
    """The typed configuration from a parsed TOML document; a fault names the key."""
    place = Place(source)
    _known(
        doc,
        {
            "area",
            "medical_subsidy_months",
            "employment_subsidy_months",
            "issuer",
            "hospital_food_allowance",
        },
        place,
    )
    area, here = _table(doc, "area", place), place.at("area")
    _known(area, {"name", "wage_year", "average_monthly_wage"}, here)
    year = area.get("wage_year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise here.at("wage_year").fail("must be a year such as 2026")
    return BenefitsConfig(
        area_name=_text(area, "name", here),
        wage_year=year,
        area_average_monthly_wage=_wage(area, "average_monthly_wage", here),
        medical_subsidy_months=_months(doc, "medical_subsidy_months", place),
        employment_subsidy_months=_months(doc, "employment_subsidy_months", place),
        issuer=_issuer(doc, place),
        hospital_food_daily=_food(doc, place),
    )


def _food(doc: Mapping[str, Any], place: Place) -> Decimal | None:
    if "hospital_food_allowance" not in doc:
        return None
    table, here = _table(doc, "hospital_food_allowance", place), place.at("hospital_food_allowance")
    _known(table, {"daily_rate", "source"}, here)
    _text(table, "source", here)
    return _wage(table, "daily_rate", here)


def load_config(path: Path = DEFAULT_CONFIG) -> BenefitsConfig:
    """Read ``benefits.toml``; TOML floats are read as Decimal so none exists even briefly."""
    try:
        with path.open("rb") as handle:
            doc = tomllib.load(handle, parse_float=Decimal)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(doc, path.name)


# --- arithmetic -------------------------------------------------------------------------------


class Clamp(Enum):
    """Which bound of article 64 replaced the worker's average wage, if any."""

    FLOOR = "floor"  # raised to 60% of the area's average monthly wage
    CEILING = "ceiling"  # lowered to 300% of it


@dataclass(frozen=True, slots=True)
class Component:
    """One one-time benefit: ``months`` x ``base`` = ``amount``, paid by ``payer``."""

    months: int
    base: Decimal
    amount: Decimal
    payer: str = FUND


@dataclass(frozen=True, slots=True)
class Allowance:
    """A monthly benefit: ``share`` x ``base`` = ``amount`` a month, paid by ``payer``. Figures
    for the ordinary procedure (the simplified route does not pay monthly benefits)."""

    share: Decimal
    base: Decimal
    amount: Decimal
    payer: str


@dataclass(frozen=True, slots=True)
class BenefitResult:
    """Every figure of the computation, so the payment can be explained and re-checked."""

    grade: int
    average_wage: Decimal  # the months' average, to the fen, before the clamp
    floor: Decimal  # 60% of the area's average monthly wage
    ceiling: Decimal  # 300% of it
    own_wage: Decimal
    clamp: Clamp | None
    area_average_monthly_wage: Decimal
    leaves_job: bool
    disability_subsidy: Component
    medical_subsidy: Component | None
    employment_subsidy: Component | None
    total: Decimal  # what the fund pays now
    payee_account_ref: str
    employer_total: Decimal = Decimal("0.00")  # what the employer owes (arts. 36, 37)
    hospital_food: Component | None = None
    monthly_allowance: Allowance | None = None
    care_allowance: Allowance | None = None

    def breakdown(self) -> str:
        """The computation in lines a worker or an auditor can follow and redo by hand."""
        lines = [
            f"Disability grade {self.grade} ({GRADE_ZH[self.grade]}级伤残)",
            f"Average monthly contribution wage: {self.average_wage}",
            f"Own wage (本人工资): {self.own_wage} ({self._clamp_note()})",
            _line(DISABILITY_LABEL, self.disability_subsidy, ""),
            _line(MEDICAL_LABEL, self.medical_subsidy, self._why_none()),
            _line(EMPLOYMENT_LABEL, self.employment_subsidy, self._why_none()),
            f"Paid by the fund (基金支付): {self.total}",
            f"Owed by the employer (用人单位支付): {self.employer_total}",
            f"Paid to account reference: {self.payee_account_ref}",
        ]
        return "\n".join(lines)

    def _clamp_note(self) -> str:
        band = f"{self.floor} to {self.ceiling}, 60%-300% of {self.area_average_monthly_wage}"
        if self.clamp is Clamp.FLOOR:
            return f"raised to the floor; band {band}"
        if self.clamp is Clamp.CEILING:
            return f"lowered to the ceiling; band {band}"
        return f"within the band {band}"

    def _why_none(self) -> str:
        if self.grade not in SUBSIDY_GRADES:
            return "grades 1-4 keep the employment relationship"
        return "the worker stays in the job"


def _line(label: str, part: Component | None, why_none: str) -> str:
    if part is None:
        return f"{label}: none ({why_none})"
    return f"{label}: {part.months} x {part.base} = {part.amount}"


def _clamped(average: Decimal, floor: Decimal, ceiling: Decimal) -> tuple[Decimal, Clamp | None]:
    """Exactly at a bound is inside the band: the clamp applies only beyond it."""
    if average < floor:
        return floor, Clamp.FLOOR
    if average > ceiling:
        return ceiling, Clamp.CEILING
    return average, None


def _part(months: int, base: Decimal, payer: str = FUND) -> Component:
    return Component(months, base, to_fen(months * base), payer)


def monthly_allowance(grade: int, own_wage: Decimal) -> Allowance | None:
    """伤残津贴 for grades 1-6 (arts. 35, 36): a share of the own wage; the fund pays grades
    1-4, the employer grades 5-6. None for grades 7-10."""
    if grade not in ALLOWANCE_SHARE:
        return None
    share = ALLOWANCE_SHARE[grade]
    return Allowance(share, own_wage, to_fen(share * own_wage), ALLOWANCE_PAYER[grade])


def care_allowance(dependency: str, area_wage: Decimal) -> Allowance | None:
    """生活护理费 (art. 34): a share of the area's average monthly wage, paid by the fund;
    None when the conclusion found no care dependency."""
    if dependency == "none":
        return None
    if dependency not in CARE_SHARE:
        raise ValueError("care_dependency: must be none, partial, most or total")
    share = CARE_SHARE[dependency]
    return Allowance(share, area_wage, to_fen(share * area_wage), FUND)


def _leaving_parts(
    grade: int, leaves_job: bool, config: BenefitsConfig
) -> tuple[Component | None, Component | None]:
    """Zhejiang's medical and employment subsidies: grades 5-10 whose employment ends.

    The base is the area's average monthly wage, not the worker's own: the provincial
    measures fix these subsidies as months of the pooling area's average wage so that two
    workers of the same grade leaving the same year get the same amount (see benefits.toml).
    """
    if not leaves_job or grade not in SUBSIDY_GRADES:
        return None, None
    base = config.area_average_monthly_wage
    return (
        _part(config.medical_subsidy_months[grade], base),
        # the one-time disability employment subsidy is the employer's (arts. 36, 37)
        _part(config.employment_subsidy_months[grade], base, EMPLOYER),
    )


def compute(
    grade: int,
    wages: Sequence[Money],
    *,
    leaves_job: bool,
    payee_account_ref: str,
    config: BenefitsConfig,
    care_dependency: str = "none",
    hospital_days: int = 0,
) -> BenefitResult:
    """The one-time benefits of a grade, from the contribution wages before the injury, each
    naming its payer; with the monthly figures of grades 1-6 for the ordinary procedure.
    ``leaves_job`` is refused for grades 1-4, whose employment the law keeps (art. 35)."""
    grade = check_grade(grade)
    if not isinstance(leaves_job, bool):
        raise TypeError("leaves_job: must be True or False")
    if leaves_job and grade in KEEPS_JOB_GRADES:
        raise ValueError("leaves_job: grades 1-4 keep the employment relationship (art. 35)")
    if not isinstance(hospital_days, int) or isinstance(hospital_days, bool) or hospital_days < 0:
        raise ValueError("hospital_days: must be a whole number of days, 0 or more")
    if not isinstance(payee_account_ref, str) or not 1 <= len(payee_account_ref) <= 64:
        raise ValueError("payee_account_ref: must be a reference of 1 to 64 characters")
    area = config.area_average_monthly_wage
    floor, ceiling = to_fen(area * FLOOR_SHARE), to_fen(area * CEILING_SHARE)
    average = average_wage(wages)
    own, clamp = _clamped(average, floor, ceiling)
    disability = _part(DISABILITY_MONTHS[grade], own)
    medical, employment = _leaving_parts(grade, leaves_job, config)
    food = None
    if hospital_days and config.hospital_food_daily is not None:
        food = Component(
            hospital_days,
            config.hospital_food_daily,
            to_fen(hospital_days * config.hospital_food_daily),
        )
    parts = [p for p in (disability, medical, employment, food) if p is not None]
    return BenefitResult(
        grade=grade,
        average_wage=average,
        floor=floor,
        ceiling=ceiling,
        own_wage=own,
        clamp=clamp,
        area_average_monthly_wage=area,
        leaves_job=leaves_job,
        disability_subsidy=disability,
        medical_subsidy=medical,
        employment_subsidy=employment,
        total=sum((p.amount for p in parts if p.payer == FUND), Decimal("0.00")),
        payee_account_ref=payee_account_ref,
        employer_total=sum((p.amount for p in parts if p.payer == EMPLOYER), Decimal("0.00")),
        hospital_food=food,
        monthly_allowance=monthly_allowance(grade, own),
        care_allowance=care_allowance(care_dependency, area),
    )


# --- the benefit payment record ---------------------------------------------------------------

CONCLUSION = doc_type("assessment_conclusion")
PAYMENT = doc_type("benefit_payment_record")


@dataclass(frozen=True, slots=True)
class PayeeAccount:
    """Which verified account to pay: the reference of the financial regulator's
    ``payee_bank_account`` document; the full number never travels in the payment record."""

    reference: str
    bank_name: str | None = None
    account_last4: str | None = None

    def as_json(self) -> dict[str, str]:
        ref = {"reference": self.reference}
        if self.bank_name is not None:
            ref["bank_name"] = self.bank_name
        if self.account_last4 is not None:
            ref["account_last4"] = self.account_last4
        return ref


def _graded(conclusion: Mapping[str, Any]) -> int:
    """The grade of a schema-valid conclusion; ``not_graded`` means nothing is payable."""
    registry().check(CONCLUSION, conclusion)
    if conclusion["outcome"] != "graded":
        raise ValueError("assessment conclusion: outcome is not graded, so no benefit is due")
    grade: int = conclusion["disability_grade"]
    return grade


def _check_dates(conclusion: Mapping[str, Any], approved: date | None, paid: date) -> None:
    """Nothing is approved or paid before the grade it pays for was concluded."""
    concluded = date.fromisoformat(conclusion["concluded_date"])
    for name, day in (("approved_date", approved), ("paid_date", paid)):
        if day is not None and type(day) is not date:
            raise TypeError(f"{name}: must be a datetime.date")
        if day is not None and day < concluded:
            raise ValueError(f"{name}: before the assessment conclusion's concluded_date")


def _subsidy(part: Component | None, kind: str, grade: int) -> dict[str, str] | None:
    if part is None:
        return None
    basis = f"浙江省一次性{kind}标准（{GRADE_ZH[grade]}级）：{part.months}个月 × {part.base}"
    return {"amount": str(part.amount), "basis": basis, "payer": part.payer}


def _food_item(part: Component | None) -> dict[str, Any] | None:
    if part is None:
        return None
    return {
        "days": part.months,
        "daily_rate": str(part.base),
        "amount": str(part.amount),
        "payer": part.payer,
    }


def record_from(
    conclusion: Mapping[str, Any],
    result: BenefitResult,
    payee: PayeeAccount,
    payment_number: str,
    dates: tuple[date | None, date],
    issuer: Issuer,
) -> dict[str, Any]:
    """The record's fields in the schema's order; optional ones only when they exist."""
    record: dict[str, Any] = {
        "case_id": conclusion["case_id"],
        "payment_number": payment_number,
        "worker": copy.deepcopy(conclusion["worker"]),
        "recognition_decision_number": conclusion.get("recognition_decision_number"),
        "assessment_conclusion_number": conclusion["conclusion_number"],
        "disability_grade": result.grade,
        "own_monthly_wage": str(result.own_wage),
        "disability_subsidy": {
            "months": result.disability_subsidy.months,
            "amount": str(result.disability_subsidy.amount),
            "payer": result.disability_subsidy.payer,
        },
        "medical_subsidy": _subsidy(result.medical_subsidy, "工伤医疗补助金", result.grade),
        "employment_subsidy": _subsidy(result.employment_subsidy, "伤残就业补助金", result.grade),
        "hospital_food_allowance": _food_item(result.hospital_food),
        "total_amount": str(result.total),
        "employer_amount": str(result.employer_total) if result.employer_total else None,
        "approved_date": dates[0].isoformat() if dates[0] else None,
        "paid_date": dates[1].isoformat(),
        "payee_account_ref": payee.as_json(),
        "issuer": issuer.as_json(),
    }
    return {k: v for k, v in record.items() if v is not None}


def issue_payment_record(
    conclusion: Mapping[str, Any],
    wages: Sequence[Money],
    *,
    leaves_job: bool,
    payee: PayeeAccount,
    payment_number: str,
    paid_date: date,
    approved_date: date | None = None,
    config: BenefitsConfig | None = None,
    hospital_days: int = 0,
) -> dict[str, Any]:
    """A ``benefit_payment_record`` for an assessment conclusion, valid against its schema.

    The conclusion is validated first (``DocumentError`` naming JSON Pointers, never values)
    and so is the record before it is returned: a record this function gives back can be
    signed and sent as it is.
    """
    config = config or load_config()
    grade = _graded(conclusion)
    _check_dates(conclusion, approved_date, paid_date)
    result = compute(
        grade,
        wages,
        leaves_job=leaves_job,
        payee_account_ref=payee.reference,
        config=config,
        hospital_days=hospital_days,
    )
    dates = (approved_date, paid_date)
    record = record_from(conclusion, result, payee, payment_number, dates, config.issuer)
    registry().check(PAYMENT, record)
    return record
