"""What each simulated system exports when asked: native files built from the adapters'
own samples (HL7 v2, police XML, CSV, canonical JSON) and the schemas' examples.

The samples belong to the reform's case (GS-330784-2026-000731); for another case the
system writes the same export with that case's id, as a real system files a record under
the case that asked for it. Nothing here is read by the gateway: it only sees what the
adapters make of these files.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from typing import Any

from adapters.simulated.systems import DemoError, Native
from gateway.packaged import default_schema_dir

SAMPLE_CASE = b"GS-330784-2026-000731"
PREFIX = "cn.gov.zj.injury."

#: requested type -> (adapter family, sample file) for materials kept as native exports
SAMPLES = {
    "resident_id_info": ("police", "resident_identity.xml"),
    "traffic_accident_determination": ("police", "traffic_determination.xml"),
    "police_certificate": ("police", "police_certificate.xml"),
    "business_licence": ("market", "business_licence.json"),
    "medical_diagnosis": ("health", "diagnosis_certificate.json"),
    "admission_discharge_record": ("health", "adt_a03_discharge.hl7"),
    "imaging_lab_report": ("health", "oru_r01_lab.hl7"),
    "payee_bank_account": ("insurance_regulator", "payee_accounts.csv"),
    "medical_expense_settlement": ("medical_insurance", "settlement_inpatient.json"),
}

#: requested type -> schema example, for the hrss systems (their export is canonical JSON)
EXAMPLES = {
    "insurance_enrollment": "huarui_chen",
    "labour_contract": "huarui_fixed_term",
}


def short(doc_type: str) -> str:
    return doc_type.removeprefix(PREFIX).removesuffix(".v1")


def example(name: str, file: str) -> dict[str, Any]:
    path = default_schema_dir() / "examples" / name / "valid" / f"{file}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def thin(name: str, document: dict[str, Any], file: str) -> Native:
    """The export of a system built for the exchange: ``{"type", "document"}`` JSON."""
    body = json.dumps({"type": name, "document": document}, ensure_ascii=False, indent=2)
    return Native(file, body.encode("utf-8"))


def material(doc_type: str, case_id: str) -> Native:
    """The export a department's system writes for a material request."""
    name = short(doc_type)
    if name in SAMPLES:
        family, file = SAMPLES[name]
        # the adapters' samples ship with them (package data), so the demo runs installed
        content = resources.files(f"adapters.{family}").joinpath("samples", file).read_bytes()
        return Native(f"{case_id}-{file}", content.replace(SAMPLE_CASE, case_id.encode()))
    if name in EXAMPLES:
        document = example(name, EXAMPLES[name])
        document["case_id"] = case_id
        return thin(name, document, f"{case_id}-{name}.json")
    raise DemoError(f"no simulated system keeps {name}")


def application(form_file: str, submitted_at: str) -> Native:
    """The citizen portal's export of one application form."""
    form = example("application_form", form_file)
    form["submitted_at"] = submitted_at
    return thin("application_form", form, f"{form['application_number']}.json")


def recognition(file: str, day: date) -> Native:
    decision = example("recognition_decision", file)
    for key in ("application_received_date", "accepted_date", "decided_date"):
        decision[key] = day.isoformat()
    return thin("recognition_decision", decision, f"{decision['decision_number']}.json")


def conclusion(file: str, applied: date, day: date) -> dict[str, Any]:
    document = example("assessment_conclusion", file)
    document["applied_date"] = applied.isoformat()
    document["examined_date"] = day.isoformat()
    document["concluded_date"] = day.isoformat()
    return document
