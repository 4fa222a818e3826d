"""What each simulated system exports when asked: native files built from the adapters' own
samples (HL7 v2, CDA, police XML, insurance JSON, canonical JSON) and the schemas' examples.

The samples belong to one case: the press injury of 11 July 2026 (GS-330784-2026-000731),
one worker, one employer. A story's documents are those samples rewritten by its
``Dossier``: the worker, the employer, the diagnosis and every date (shifted by the days
between the two injuries), so every material a case receives is about its applicant and its
accident, as the case layer's cross-checks require. Nothing here is read by the gateway: it
only sees what the adapters make of these files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any

from adapters.simulated.systems import DemoError, Native
from gateway.packaged import default_schema_dir

SAMPLE_CASE = "GS-330784-2026-000731"
SAMPLE_INJURY = date(2026, 7, 11)
PREFIX = "cn.gov.zj.injury."
_CASE_MARK = "\x00case\x00"

#: requested type -> (adapter family, sample file) for materials kept as native exports
SAMPLES = {
    "resident_id_info": ("police", "resident_identity.xml"),
    "police_certificate": ("police", "police_certificate.xml"),
    "business_licence": ("market", "business_licence.json"),
    "medical_diagnosis": ("health", "diagnosis_certificate.json"),
    "outpatient_record": ("health", "cda_c0002_outpatient.xml"),
    "admission_discharge_record": ("health", "adt_a03_discharge.hl7"),
    "imaging_lab_report": ("health", "oru_r01_lab.hl7"),
    "medical_expense_settlement": ("medical_insurance", "settlement_inpatient.json"),
}

#: requested type -> schema example, for systems whose export is canonical JSON
EXAMPLES = {
    "insurance_enrollment": "huarui_chen",
    "labour_contract": "huarui_fixed_term",
    "payee_bank_account": "chen_abc_debit",
}


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    id_number: str
    phone: str

    @property
    def birth(self) -> str:
        """``YYYYMMDD`` from the ID number (GB 11643 positions 7-14)."""
        return self.id_number[6:14]

    @property
    def female(self) -> bool:
        """GB 11643: the 17th character is even for a woman."""
        return int(self.id_number[16]) % 2 == 0


SAMPLE_PERSON = Person("陈志强", "330784198603140511", "13857912346")
SAMPLE_EMPLOYER = ("永康市华锐五金制品有限公司", "91330784MA28E7P37C")
SAMPLE_ACCOUNT = "NFRA-330784-2026-0715-0031"
#: the samples' diagnoses and treatment, which a story replaces with its own injury's
SAMPLE_INJURY_TEXTS = (
    "S62.6",
    "右手中指中节指骨粉碎性骨折",
    "S61.0",
    "右手中指开放性伤口",
    "79.34^右中指中节指骨骨折切开复位克氏针内固定术",
    "行右中指骨折切开复位内固定术，术后休息，定期复查。",
)


@dataclass(frozen=True, slots=True)
class Dossier:
    """How one case's documents differ from the samples'."""

    case_id: str
    person: Person
    employer: tuple[str, str]  # name, unified social credit code
    injury: date
    account: str  # the payee account reference the form cites
    injury_texts: tuple[str, ...]  # in the order of SAMPLE_INJURY_TEXTS

    @classmethod
    def for_form(cls, case_id: str, form: dict[str, Any], texts: tuple[str, ...]) -> Dossier:
        applicant = form["applicant"]
        return cls(
            case_id=case_id,
            person=Person(applicant["name"], applicant["id_number"], applicant["phone"]),
            employer=(form["employer"]["name"], form["employer"]["credit_code"]),
            injury=date.fromisoformat(form["injury"]["date"]),
            account=form["payee_account_ref"]["reference"],
            injury_texts=texts,
        )

    def rewrite(self, text: str) -> str:
        text = text.replace(SAMPLE_CASE, _CASE_MARK).replace(SAMPLE_ACCOUNT, self.account)
        text = _shift_dates(text, self.injury - SAMPLE_INJURY)
        for old, new in zip(SAMPLE_INJURY_TEXTS, self.injury_texts, strict=True):
            text = text.replace(old, new) if new else text
        text = self._person(text)
        for old, new in zip(SAMPLE_EMPLOYER, self.employer, strict=True):
            text = text.replace(old, new)
        return text.replace(_CASE_MARK, self.case_id)

    def _person(self, text: str) -> str:
        old, new = SAMPLE_PERSON, self.person
        pairs = [
            (old.name, new.name),
            (old.id_number, new.id_number),
            (old.phone, new.phone),
            (old.birth, new.birth),
            (_iso(old.birth), _iso(new.birth)),
        ]
        if new.female:  # the samples' worker is a man; each format says so its own way
            pairs += [
                ("<Gender>1</Gender>", "<Gender>2</Gender>"),
                (f"|{new.birth}|M|", f"|{new.birth}|F|"),
                (
                    'code="1" codeSystem="2.16.156.10011.2.3.3.4" displayName="男"',
                    'code="2" codeSystem="2.16.156.10011.2.3.3.4" displayName="女"',
                ),
                ('"gender": "male"', '"gender": "female"'),
                ('"gend": "1"', '"gend": "2"'),
            ]
        for before, after in pairs:
            text = text.replace(before, after)
        return text


def _iso(compact: str) -> str:
    return f"{compact[:4]}-{compact[4:6]}-{compact[6:]}"


_ISO_DAY = re.compile(r"(?<!\d)(20\d\d)-(\d\d)-(\d\d)(?!\d)")
_COMPACT_DAY = re.compile(r"(?<!\d)(20\d\d)(\d\d)(\d\d)")
_MONTH = re.compile(r"(?<![\d-])(20\d\d)-(\d\d)(?![\d-])")


def _shift_dates(text: str, by: timedelta) -> str:
    """Every date of the 2000s in ``text`` moved by ``by`` (ISO days, compact days as in
    HL7 and CDA, and months), so a document keeps its dates in the same order and distance
    from the injury."""

    def day(match: re.Match[str], template: str) -> str:
        try:
            moved = date(*map(int, match.groups())) + by
        except ValueError:
            return match.group(0)  # digits that are not a date
        return moved.strftime(template)

    def month(match: re.Match[str]) -> str:
        moved = date(int(match.group(1)), int(match.group(2)), 15) + by
        return moved.strftime("%Y-%m")

    text = _ISO_DAY.sub(lambda m: day(m, "%Y-%m-%d"), text)
    text = _COMPACT_DAY.sub(lambda m: day(m, "%Y%m%d"), text)
    return _MONTH.sub(month, text)


def sample(family: str, file: str) -> str:
    """An adapter family's sample: package data that ships with it, so the demo runs
    installed as well as from a checkout."""
    return resources.files(f"adapters.{family}").joinpath("samples", file).read_text("utf-8")


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


def material(doc_type: str, dossier: Dossier) -> Native:
    """The export a department's system writes for a material request of this case."""
    name = short(doc_type)
    case_id = dossier.case_id
    if name in SAMPLES:
        family, file = SAMPLES[name]
        return Native(f"{case_id}-{file}", dossier.rewrite(sample(family, file)).encode("utf-8"))
    if name in EXAMPLES:
        document = example(name, EXAMPLES[name])
        document["case_id"] = SAMPLE_CASE
        rewritten = json.loads(dossier.rewrite(json.dumps(document, ensure_ascii=False)))
        return thin(name, rewritten, f"{case_id}-{name}.json")
    raise DemoError(f"no simulated system keeps {name}")


def traffic(form: dict[str, Any], case_id: str, liability: str) -> Native:
    """The traffic police's determination of the accident the form cites (its number, date
    and time), the applicant bearing ``liability`` and the other rider the rest."""
    content = sample("police", "traffic_determination.xml")
    ref = form["traffic_determination_ref"]
    injury = form["injury"]
    other = {"主要责任": "次要责任", "全部责任": "无责任"}.get(liability, liability)
    applicant = form["applicant"]
    replaced = (
        content.replace("永公交简认字[2026]第01876号", ref["document_number"])
        .replace("简易程序", "一般程序")
        .replace("2026-09-14 17:48:00", f"{injury['date']} {injury['time']}:00")
        .replace("20260914", ref["issued_date"].replace("-", ""))
        .replace("李秀英", applicant["name"])
        .replace("330784197911020867", applicant["id_number"])
        .replace(
            "<Liability>同等责任</Liability>\n      <Injured>否",
            f"<Liability>{other}</Liability>\n      <Injured>否",
        )
        .replace(
            "<Liability>同等责任</Liability>\n      <Injured>是",
            f"<Liability>{liability}</Liability>\n      <Injured>是",
        )
        .replace(
            "</TrafficAccidentDetermination>",
            f"  <CaseId>{case_id}</CaseId>\n</TrafficAccidentDetermination>",
        )
    )
    return Native(f"{case_id}-traffic_determination.xml", replaced.encode("utf-8"))


def application(form: dict[str, Any], submitted_at: str) -> Native:
    """The citizen portal's export of one application form."""
    form = dict(form, submitted_at=submitted_at)
    return thin("application_form", form, f"{form['application_number']}.json")


def recognition(file: str, day: date, dossier: Dossier, form: dict[str, Any]) -> Native:
    """The recognition centre's decision on this case (the example for its kind of injury,
    about this worker, employer and accident)."""
    decision = example("recognition_decision", file)
    for key in ("application_received_date", "accepted_date", "decided_date"):
        decision[key] = day.isoformat()
    decision["case_id"] = dossier.case_id
    decision["worker"] = _worker(dossier)
    decision["employer"] = form["employer"]
    decision["injury"]["date"] = form["injury"]["date"]
    decision["injury"]["body_part"] = form["injury"]["body_part"]
    decision["diagnosis_date"] = form["injury"]["date"]
    decision["diagnoses"] = _diagnoses(dossier)
    decision["decision_number"] = decision["decision_number"].replace("2026", str(day.year))
    return thin("recognition_decision", decision, f"{dossier.case_id}-decision.json")


def conclusion(
    file: str, dossier: Dossier, form: dict[str, Any], dates: tuple[date, date], grade: int | None
) -> dict[str, Any]:
    """The assessment committee's conclusion for this worker (``dates``: recognised,
    concluded)."""
    recognised, day = dates
    document = example("assessment_conclusion", file)
    document["case_id"] = dossier.case_id
    document["worker"] = _worker(dossier)
    document["employer"] = form["employer"]
    document["applied_date"] = recognised.isoformat()
    document["examined_date"] = day.isoformat()
    document["concluded_date"] = day.isoformat()
    document["diagnoses"] = _diagnoses(dossier)
    document["conclusion_number"] = document["conclusion_number"].replace("2026", str(day.year))
    document.pop("recognition_decision_number", None)
    if grade is not None:
        document["disability_grade"] = grade
    return document


def statement(form: dict[str, Any], case_id: str, at: datetime, reasons: str) -> Native:
    """The employer's dispute, from its own channel."""
    document = example("employer_statement", "dispute_commuting")
    document.update(
        case_id=case_id,
        employer={k: form["employer"][k] for k in ("name", "credit_code", "region_code")},
        reasons=reasons,
        stated_by=form["employer"]["contact_name"],
        stated_at=at.isoformat(timespec="seconds"),
    )
    return thin("employer_statement", document, f"{case_id}-statement.json")


def _worker(dossier: Dossier) -> dict[str, Any]:
    person = dossier.person
    return {
        "name": person.name,
        "id_number": person.id_number,
        "gender": "female" if person.female else "male",
        "birth_date": _iso(person.birth),
        "phone": person.phone,
    }


def _diagnoses(dossier: Dossier) -> list[dict[str, Any]]:
    codes = dossier.injury_texts
    return [
        {"code": codes[0], "name": codes[1], "primary": True},
        {"code": codes[2], "name": codes[3], "primary": False},
    ]
