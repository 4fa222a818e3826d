"""The national medical insurance platform's transaction-style JSON -> canonical
``medical_expense_settlement``, and canonical documents -> the bureau's receiving shape.

A settlement export is one transaction (``infno``) with an ``input`` block (the query) and an
``output`` block (``setlinfo``, ``diseinfo``, ``feedetail``). Every amount is read as a
``Decimal`` and the totals are checked against the line items (classed 甲/乙/丙) before
anything is sent. The format is documented in this package's README.md.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from adapters.common.coding import load_coding, split_pair
from adapters.common.errors import AdapterError, Problem
from adapters.common.people import with_id_kind
from adapters.common.records import Outgoing, Parsed, doc_type, outgoing
from adapters.common.xml import native_date, native_moment

SETTLEMENT = doc_type("medical_expense_settlement")
SETTLEMENT_INFNOS = frozenset({"2207", "2304", "5203"})  # 门诊结算 / 住院结算 / 结算信息查询
CENT = Decimal("0.01")
#: the largest amount the schemas allow (decimal-money: at most 15 digits before the point)
MAX_AMOUNT = Decimal("999999999999999.99")
#: diagnoses on the platform are in the medical insurance edition 2.0 (coding.toml)
CODING = load_coding("adapters.medical_insurance", "coding.toml")

GENDER = {"1": "male", "2": "female"}
INSUTYPE = {"310": "basic_medical", "390": "basic_medical", "GS": "work_injury"}
CLASS = {"01": "甲", "02": "乙", "03": "丙", "甲": "甲", "乙": "乙", "丙": "丙"}
#: 医疗收费项目类别 -> canonical category
CHARGE_ITEM = {
    "01": "bed",  # 床位费
    "02": "other",  # 诊察费
    "03": "examination",  # 检查费
    "04": "laboratory",  # 化验费
    "05": "treatment",  # 治疗费
    "06": "surgery",  # 手术费
    "07": "nursing",  # 护理费
    "08": "materials",  # 卫生材料费
    "09": "western_medicine",  # 西药费
    "10": "chinese_medicine",  # 中药饮片费
    "11": "chinese_medicine",  # 中成药费
    "12": "treatment",  # 一般诊疗费
    "13": "other",  # 挂号费
    "14": "other",  # 其他费
}


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, place: str, field: str, reason: str) -> AdapterError:
        return AdapterError.one(self.file, place, field, reason)

    def block(self, obj: object, name: str, place: str) -> dict[str, Any]:
        value = obj.get(name) if isinstance(obj, dict) else None
        if not isinstance(value, dict):
            raise self.fail(place, name, "is missing or not an object")
        return value

    def text(self, obj: dict[str, Any], name: str, place: str, required: bool = True) -> str | None:
        value = obj.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(place, name, "is missing")
            return None
        if not isinstance(value, str):
            raise self.fail(place, name, "must be a string")
        return value.strip()

    def req(self, obj: dict[str, Any], name: str, place: str) -> str:
        value = self.text(obj, name, place)
        assert value is not None
        return value

    def code(self, obj: dict[str, Any], name: str, place: str, mapping: dict[str, str]) -> str:
        value = self.req(obj, name, place)
        if value not in mapping:
            raise self.fail(place, name, "not one of " + " ".join(sorted(mapping)))
        return mapping[value]

    def money(
        self, obj: dict[str, Any], name: str, place: str, required: bool = True
    ) -> Decimal | None:
        value = obj.get(name)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise self.fail(place, name, "must be an amount in yuan")
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise self.fail(place, name, "not a decimal amount") from None
        # checked before quantize: quantize raises on an exponent beyond the context ("1e30")
        if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
            raise self.fail(place, name, "not a non-negative amount below 10^15 yuan")
        if amount != amount.quantize(CENT):
            raise self.fail(place, name, "not an amount with at most 2 decimals")
        return amount.quantize(CENT)

    def date(self, obj: dict[str, Any], name: str, place: str, required: bool = True) -> str | None:
        value = self.text(obj, name, place, required)
        if value is None:
            return None
        try:
            return native_date(value)
        except ValueError:
            raise self.fail(place, name, "not a date (YYYY-MM-DD)") from None

    def moment(self, obj: dict[str, Any], name: str, place: str) -> str:
        value = self.req(obj, name, place)
        try:
            return native_moment(value)
        except ValueError:
            raise self.fail(place, name, "not a time (YYYY-MM-DD HH:MM:SS)") from None


def _put(doc: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        doc[key] = value


def settlement(tx: object, file: str) -> Outgoing:
    r = _Reader(file)
    if not isinstance(tx, dict):
        raise r.fail("transaction", "(document)", "must be an object")
    infno = r.req(tx, "infno", "transaction")
    if infno not in SETTLEMENT_INFNOS:
        raise r.fail("transaction", "infno", "not one of " + " ".join(sorted(SETTLEMENT_INFNOS)))
    input_data = r.block(r.block(tx, "input", "transaction"), "data", "input")
    output = r.block(tx, "output", "transaction")
    s = r.block(output, "setlinfo", "output")
    at = "output.setlinfo"
    doc: dict[str, Any] = {}
    _put(doc, "case_id", r.text(input_data, "case_id", "input.data", required=False))
    doc["settlement_number"] = r.req(s, "setl_id", at)
    patient: dict[str, Any] = {
        "name": r.req(s, "psn_name", at),
        "id_number": r.req(s, "certno", at),
    }
    if s.get("gend") is not None:
        patient["gender"] = r.code(s, "gend", at, GENDER)
    _put(patient, "birth_date", r.date(s, "brdy", at, required=False))
    _put(patient, "phone", r.text(s, "tel", at, required=False))
    doc["patient"] = with_id_kind(patient)
    hospital: dict[str, Any] = {
        "name": r.req(s, "fixmedins_name", at),
        "credit_code": r.req(s, "fixmedins_uscc", at),
    }
    _put(hospital, "region_code", r.text(s, "fixmedins_admdvs", at, required=False))
    doc["hospital"] = hospital
    doc["insurance_kind"] = r.code(s, "insutype", at, INSUTYPE)
    med_type = r.req(s, "med_type", at)
    if med_type[:1] not in ("1", "2"):
        raise r.fail(at, "med_type", "not an outpatient (1x) or inpatient (2x) medical type")
    doc["visit_kind"] = "outpatient" if med_type.startswith("1") else "inpatient"
    _put(doc, "admission_date", r.date(s, "begndate", at, required=False))
    _put(doc, "discharge_date", r.date(s, "enddate", at, required=False))
    doc["settled_at"] = r.moment(s, "setl_time", at)

    diseinfo = output.get("diseinfo", [])
    if not isinstance(diseinfo, list):
        raise r.fail("output", "diseinfo", "must be a list")
    diagnoses = []
    for i, d in enumerate(diseinfo, start=1):
        place = f"output.diseinfo[{i}]"
        if not isinstance(d, dict):
            raise r.fail(place, "(item)", "must be an object")
        flag = r.req(d, "maindiag_flag", place)
        if flag not in ("0", "1"):
            raise r.fail(place, "maindiag_flag", "not one of 0 1")
        name = r.req(d, "diag_name", place)
        for code in split_pair(r.req(d, "diag_code", place)):
            edition = CODING["icd10"].edition(code)
            if edition is None:
                raise r.fail(place, "diag_code", CODING["icd10"].fault(code))
            diagnoses.append(
                {"code": code, "code_edition": edition, "name": name, "primary": flag == "1"}
            )
    if diagnoses:
        doc["diagnoses"] = diagnoses

    total = r.money(s, "medfee_sumamt", at)
    fund = r.money(s, "fund_pay_sumamt", at)
    personal = r.money(s, "psn_pay", at)
    own = r.money(s, "fulamt_ownpay_amt", at, required=False)
    assert total is not None and fund is not None and personal is not None
    problems: list[Problem] = []
    if fund + personal != total:
        problems.append(Problem(file, at, "medfee_sumamt", "is not fund_pay_sumamt + psn_pay"))

    items = output.get("feedetail")
    if not isinstance(items, list) or not items:
        raise r.fail("output", "feedetail", "the line items are missing")
    categories: dict[str, Decimal] = {}
    by_class = {"甲": Decimal(0), "乙": Decimal(0), "丙": Decimal(0)}
    for i, item in enumerate(items, start=1):
        place = f"output.feedetail[{i}]"
        if not isinstance(item, dict):
            raise r.fail(place, "(item)", "must be an object")
        amount = r.money(item, "det_item_fee_sumamt", place)
        assert amount is not None
        category = r.code(item, "med_chrgitm_type", place, CHARGE_ITEM)
        by_class[r.code(item, "chrgitm_lv", place, CLASS)] += amount
        categories[category] = categories.get(category, Decimal(0)) + amount
    if sum(by_class.values()) != total:
        problems.append(Problem(file, at, "medfee_sumamt", "is not the sum of the line items"))
    if own is not None and own != by_class["丙"]:
        problems.append(
            Problem(file, at, "fulamt_ownpay_amt", "is not the sum of the 丙 (class 03) line items")
        )
    if problems:
        raise AdapterError(problems)
    doc["total_amount"] = str(total)
    doc["fund_paid"] = str(fund)
    doc["personal_paid"] = str(personal)
    if by_class["丙"] or own is not None:
        doc["out_of_catalogue"] = str(by_class["丙"])
    doc["categories"] = [{"category": c, "amount": str(a)} for c, a in categories.items()]
    issuer: dict[str, Any] = {
        "name": r.req(s, "setl_org_name", at),
        "credit_code": r.req(s, "setl_org_uscc", at),
    }
    _put(issuer, "region_code", r.text(tx, "insuplc_admdvs", "transaction", required=False))
    doc["issuer"] = issuer
    return outgoing(SETTLEMENT, doc, doc["settlement_number"], file, "transaction")


def parse_bytes(raw: bytes, file: str) -> Outgoing:
    try:
        tx = json.loads(raw, parse_float=Decimal)  # numbers never pass through float
    except (ValueError, UnicodeDecodeError):
        raise AdapterError.one(file, "file", "(document)", "not valid JSON") from None
    return settlement(tx, file)


def parse_file(path: Path) -> Parsed:
    return Parsed(records=[parse_bytes(path.read_bytes(), str(path))])
