"""Platform settlement transactions -> adapter -> real gateway -> social insurance agency; and a
recognition decision pushed to the bureau's receiver, turned into its transaction shape."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web

from adapters.common import AdapterError, send_parsed
from adapters.link import Delivered, Receiver
from adapters.medical_insurance import parse_bytes, parse_file, to_native, transaction
from gateway.testing import default_config, running_gateway
from tests.adapters.conftest import (
    BENEFITS,
    MEDINSURANCE,
    RECOGNITION,
    example,
    pull_verified,
    sample,
)
from tests.exchange.conftest import serve

SAMPLE = "settlement_inpatient.json"


async def test_settlement_reaches_benefits_exactly(tmp_path: Path, database: str | None) -> None:
    parsed = parse_file(sample("medical_insurance", SAMPLE))
    async with running_gateway(tmp_path, database=database) as gw:
        report = await send_parsed(gw.client(MEDINSURANCE), parsed)
        assert report.ok and len(report.sent) == 1
        events = await pull_verified(gw, BENEFITS)
    assert len(events) == 1 and events[0].source == MEDINSURANCE
    assert events[0].subject == "GS-330784-2026-000731"
    assert events[0].data == example("medical_expense_settlement", "inpatient_finger")


async def test_recognition_decision_reaches_the_bureau_as_a_transaction(
    tmp_path: Path, database: str | None
) -> None:
    decision = example("recognition_decision", "press_recognised")
    got: list[Delivered] = []
    arrived = asyncio.Event()

    async def on_delivery(delivered: Delivered) -> None:
        got.append(delivered)
        arrived.set()

    box: dict[str, Receiver] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        return await box["r"].handle(request)

    app = web.Application()
    app.router.add_post("/inbound", handler)
    async with ClientSession() as session, serve(app) as url:
        config = default_config(push={MEDINSURANCE: f"{url}/inbound"})
        async with running_gateway(tmp_path, config=config, database=database) as gw:
            box["r"] = Receiver(
                MEDINSURANCE, gw.key(MEDINSURANCE), f"{gw.base_url}/.well-known/jwks.json",
                session, on_delivery, gw.gateway_id,
            )  # fmt: skip
            await gw.client(RECOGNITION).submit(
                "cn.gov.zj.injury.recognition_decision.v1", decision, subject=decision["case_id"]
            )
            await asyncio.wait_for(arrived.wait(), 10)
    event = got[0].verified.event
    assert got[0].verified.origin == RECOGNITION
    assert event.data == decision
    tx = transaction(event)
    assert tx["infno"] == "ZJX01" and tx["case_id"] == decision["case_id"]
    data = tx["input"]["data"]
    assert data["certno"] == decision["worker"]["id_number"]
    assert data["rcgn_rslt"] == "1" and data["acdt_type"] == decision["injury"]["accident_kind"]
    first = decision["diagnoses"][0]
    assert data["diseinfo"][0] == {
        "diag_code": "S62.6",
        "diag_name": first["name"],
        "maindiag_flag": "1",
    }
    ext, raw = to_native(event)
    assert ext == "json" and json.loads(raw) == tx


def _tx() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sample("medical_insurance", SAMPLE).read_text("utf-8"))
    return data


def _parse(tx: dict[str, Any]) -> Any:
    return parse_bytes(json.dumps(tx, ensure_ascii=False).encode(), "setl.json")


def test_total_not_matching_line_items_is_refused() -> None:
    tx = _tx()
    tx["output"]["feedetail"][1]["det_item_fee_sumamt"] = "4000.01"
    with pytest.raises(AdapterError) as info:
        _parse(tx)
    assert str(info.value) == (
        "setl.json: output.setlinfo: field medfee_sumamt: is not the sum of the line items"
    )
    assert "4000.01" not in str(info.value)


def test_out_of_catalogue_must_be_the_class_c_items() -> None:
    tx = _tx()
    tx["output"]["feedetail"][4]["chrgitm_lv"] = "02"  # the 丙 item reclassed 乙
    with pytest.raises(AdapterError, match=r"field fulamt_ownpay_amt: is not the sum of the 丙"):
        _parse(tx)


def test_fund_plus_personal_must_be_total() -> None:
    tx = _tx()
    tx["output"]["setlinfo"]["psn_pay"] = "926.21"
    with pytest.raises(AdapterError, match="field medfee_sumamt: is not fund_pay_sumamt"):
        _parse(tx)


def test_line_item_faults_name_the_item_and_field() -> None:
    tx = _tx()
    tx["output"]["feedetail"][2]["chrgitm_lv"] = "04"
    with pytest.raises(AdapterError, match=r"setl.json: output.feedetail\[3\]: field chrgitm_lv"):
        _parse(tx)
    tx = _tx()
    tx["output"]["feedetail"][0]["det_item_fee_sumamt"] = "540.001"
    with pytest.raises(AdapterError, match=r"output.feedetail\[1\]: field det_item_fee_sumamt"):
        _parse(tx)


def test_amounts_as_json_numbers_are_exact_decimals() -> None:
    raw = sample("medical_insurance", SAMPLE).read_text("utf-8")
    raw = raw.replace('"medfee_sumamt": "12846.30"', '"medfee_sumamt": 12846.30')
    raw = raw.replace('"det_item_fee_sumamt": "540.00"', '"det_item_fee_sumamt": 540.0')
    record = parse_bytes(raw.encode(), "setl.json")
    assert record.data["total_amount"] == "12846.30"


def test_schema_faults_are_refused_locally_and_not_json_is_named() -> None:
    tx = _tx()
    tx["output"]["setlinfo"]["certno"] = "330784198603140512"
    with pytest.raises(AdapterError, match=r"setl.json: transaction: field /patient/id_number"):
        _parse(tx)
    with pytest.raises(AdapterError, match=r"setl.json: file: field \(document\): not valid JSON"):
        parse_bytes(b"{", "setl.json")
    tx = _tx()
    del tx["output"]["setlinfo"]["setl_id"]
    with pytest.raises(AdapterError, match=r"output.setlinfo: field setl_id: is missing"):
        _parse(tx)
