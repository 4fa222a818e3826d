"""Receipts in an SM3 deployment: ``payload_sm3`` instead of ``payload_sha256``, checked by
``verify_receipt``; a receipt stating both, or neither, is refused. Signed with SM2 here."""

from __future__ import annotations

import orjson
import pytest

from gateway.messages import (
    SignedMessage,
    countersign,
    make_receipt,
    sign_message,
    verify_receipt,
)
from gateway.problems import EnvelopeError, MessageError
from gateway.trust import KeyRegistry, SigningKey
from gateway.trust.digests import hexdigest
from tests.messages.conftest import GATEWAY, HOSPITAL, NOW, record


def test_an_sm3_receipt_states_and_proves_the_sm3_digest(payload: bytes) -> None:
    hospital = SigningKey.generate(f"{HOSPITAL}/gm", "SM2")
    gateway = SigningKey.generate(f"{GATEWAY}/gm", "SM2")
    registry = KeyRegistry([record(hospital), record(gateway)])
    message = SignedMessage.parse(sign_message(payload, hospital))
    _, signature = countersign(message, gateway, GATEWAY, NOW, 7, ["330784.medinsurance"])
    receipt = make_receipt(message, signature, "sm3")
    doc = orjson.loads(receipt)
    assert doc["payload_sm3"] == hexdigest("sm3", payload) and "payload_sha256" not in doc
    checked = verify_receipt(receipt, payload, registry, gateway_id=GATEWAY)
    assert (checked.digest, checked.payload_digest, checked.sequence) == (
        "sm3",
        doc["payload_sm3"],
        7,
    )
    wrong = dict(doc, payload_sm3=hexdigest("sha256", payload))
    with pytest.raises(MessageError) as caught:
        verify_receipt(orjson.dumps(wrong), payload, registry, gateway_id=GATEWAY)
    assert caught.value.slug == "receipt-mismatch"
    both = dict(doc, payload_sha256=hexdigest("sha256", payload))
    with pytest.raises(EnvelopeError, match="exactly one of"):
        verify_receipt(orjson.dumps(both), payload, registry, gateway_id=GATEWAY)
