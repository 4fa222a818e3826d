import dataclasses
from pathlib import Path

from gateway.configuration import Condition, Route, load_config
from gateway.routing import Router, resolve_pointer

REPO = Path(__file__).resolve().parents[2]
T = "cn.gov.zj.injury.{}.v1".format


def _event(doc_type: str, source: str, data: dict[str, object] | None = None) -> dict[str, object]:
    return {"id": "e1", "source": source, "type": doc_type, "subject": None, "data": data or {}}


def test_diagnosis_goes_to_the_procedures_and_medical_insurance() -> None:
    config = load_config(REPO / "config")
    router = Router(config.routes, config.departments)
    decision = router.decide(_event(T("medical_diagnosis"), "330784.health.h001"))
    assert set(decision.recipients) == {
        "330784.hrss.recognition",
        "330700.hrss.assessment",
        "330784.medinsurance",
    }
    assert decision.matched == ("diagnosis-to-procedures",)


def test_recipients_filtered_by_what_they_may_receive() -> None:
    config = load_config(REPO / "config")
    route = Route("leaky", T("medical_diagnosis"), ("330784.market", "330784.hrss.recognition"))
    router = Router((route,), config.departments)
    decision = router.decide(_event(T("medical_diagnosis"), "330784.health.h001"))
    assert decision.recipients == ("330784.hrss.recognition",)
    assert decision.refused == {"330784.market": "may not receive this type"}


def test_conditions_on_data_fields() -> None:
    config = load_config(REPO / "config")
    commuting = Route(
        "commuting",
        T("application_form"),
        ("330784.hrss.recognition",),
        when=(Condition("/data/injury/accident_kind", ("commuting",)),),
    )
    router = Router((commuting,), config.departments)
    hit = router.decide(
        _event(T("application_form"), "330784.zlb", {"injury": {"accident_kind": "commuting"}})
    )
    miss = router.decide(
        _event(T("application_form"), "330784.zlb", {"injury": {"accident_kind": "workplace"}})
    )
    assert hit.recipients == ("330784.hrss.recognition",)
    assert miss.recipients == ()


def test_to_pointer_takes_recipients_from_the_message_and_drops_the_sender() -> None:
    config = load_config(REPO / "config")
    router = Router(config.routes, config.departments)
    decision = router.decide(
        _event(
            T("case_notice"),
            "330784.hrss.recognition",
            {"recipients": ["330784.zlb", "330784.hrss.recognition", "330784.nosuch"]},
        )
    )
    assert decision.recipients == ("330784.zlb",)
    assert decision.refused["330784.hrss.recognition"] == "is the sender"
    assert decision.refused["330784.nosuch"] == "not a known department"


def test_disabled_department_is_not_a_recipient() -> None:
    config = load_config(REPO / "config")
    departments = dict(config.departments)
    departments["330784.medinsurance"] = dataclasses.replace(
        departments["330784.medinsurance"], enabled=False
    )
    router = Router(config.routes, departments)
    decision = router.decide(_event(T("medical_diagnosis"), "330784.health.h001"))
    assert "330784.medinsurance" not in decision.recipients


def test_lookup_uses_the_type_index() -> None:
    config = load_config(REPO / "config")
    many = tuple(Route(f"r{i}", f"cn.gov.zj.other.t{i}.v1", ("330784.zlb",)) for i in range(5000))
    router = Router(many + config.routes, config.departments)
    assert len(router._by_type[T("medical_diagnosis")]) == 1


def test_indexed_decision_is_the_scan_of_every_route_in_configuration_order() -> None:
    """1,000 routes of one type, conditioned on one or two places, with several values, a
    list value and none: the index applies exactly the routes a scan would, in order."""
    config = load_config(REPO / "config")
    diagnosis = T("medical_diagnosis")
    to = ("330784.hrss.recognition",)
    routes = [Route("plain", diagnosis, to)]
    for i in range(1000):
        when = (Condition("/subject", (f"C-{i % 50}", f"D-{i}")),)
        if i % 3 == 0:
            when += (Condition("/data/kind", ("a",)),)
        routes.append(Route(f"r{i}", diagnosis, to, None, when))
    routes.append(Route("listed", diagnosis, to, None, (Condition("/data/tags", (["x"],)),)))
    router = Router(tuple(routes), config.departments)
    for subject, data in [
        ("C-7", {"kind": "a"}),
        ("C-7", {"kind": "b"}),
        ("D-999", {}),
        ("nothing", {"tags": ["x"]}),
        (None, {"kind": "a"}),
    ]:
        event = {**_event(diagnosis, "330784.health.h001"), "subject": subject, "data": data}
        scanned = tuple(
            r.name
            for r in routes
            if all(resolve_pointer(event, c.pointer) in c.values for c in r.when)
        )
        assert router.decide(event).matched == scanned


def test_resolve_pointer_escapes() -> None:
    doc = {"a/b": {"m~n": [1, 2]}}
    assert resolve_pointer(doc, "/a~1b/m~0n/1") == 2


def test_explain_says_why_each_route_did_or_did_not_apply() -> None:
    config = load_config(REPO / "config")
    routes = (
        Route("other-type", T("medical_diagnosis"), ("330784.hrss.recognition",)),
        Route(
            "commuting",
            T("application_form"),
            ("330784.police.traffic", "330784.market"),
            when=(
                Condition("/data/injury/kind", ("commuting",)),
                Condition("/data/injury/road", (True,)),
            ),
        ),
    )
    router = Router(routes, config.departments)
    event = _event(T("application_form"), "330784.zlb", {"injury": {"kind": "workplace"}})
    other, commuting = (e.as_json() for e in router.explain(event))
    # a route of another type: the type is the reason, its conditions are not looked at
    assert other == {
        "route": "other-type",
        "type": T("medical_diagnosis"),
        "matched": False,
        "checks": [
            {
                "pointer": "/type",
                "expected": [T("medical_diagnosis")],
                "present": True,
                "actual": T("application_form"),
                "holds": False,
            }
        ],
        "targets": {},
    }
    assert commuting["matched"] is False
    assert [(c["pointer"], c["present"], c["actual"], c["holds"]) for c in commuting["checks"]] == [
        ("/type", True, T("application_form"), True),
        ("/data/injury/kind", True, "workplace", False),
        ("/data/injury/road", False, None, False),
    ]
    event["data"] = {"injury": {"kind": "commuting", "road": True}}
    _, commuting = (e.as_json() for e in router.explain(event))
    assert commuting["matched"] is True
    police_receives = T("application_form") in config.departments["330784.police.traffic"].receives
    assert commuting["targets"] == {
        "330784.police.traffic": None if police_receives else "may not receive this type",
        "330784.market": "may not receive this type",
    }
    assert set(router.decide(event).recipients) == {
        t for t, why in commuting["targets"].items() if why is None
    }
