"""The command line with SM2: keys generate --alg SM2, sign, verify, keys token; the message
``gateway sign`` makes verifies with GmSSL, the second implementation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from gateway.cli import main
from gateway.clock import SystemClock
from gateway.messages.jws import b64url_decode
from gateway.packaged import default_schema_dir
from gateway.trust import KeyRecord, KeyRegistry, SigningKey, TokenVerifier
from tests.trust.test_sm2 import gmssl_verify

DIAGNOSIS = "cn.gov.zj.injury.medical_diagnosis.v1"
HOSPITAL = "330784.health.h001"
DOCUMENT = sorted((default_schema_dir() / "examples/medical_diagnosis/valid").glob("*.json"))[0]


def test_generate_sign_verify_and_token_with_sm2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "h.jwk"
    assert (
        main(["keys", "generate", HOSPITAL, "--name", "gm", "--alg", "SM2", "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    public = orjson.loads(out.with_name(f"{HOSPITAL}.gm.public.jwk").read_bytes())
    assert public["crv"] == "SM2" and public["alg"] == "SM2" and "d" not in public
    assert '"crv":"SM2"' in printed and '"alg":"SM2"' in printed  # the curl body registering it
    key = SigningKey.load(out)
    assert key.alg == "SM2"

    assert (
        main(["sign", "--as", HOSPITAL, "--key", str(out), "--type", DIAGNOSIS, str(DOCUMENT)]) == 0
    )
    message = orjson.loads(capsys.readouterr().out)
    signature = message["signatures"][0]
    assert orjson.loads(b64url_decode(signature["protected"], "/"))["alg"] == "SM2"
    signing_input = f"{signature['protected']}.{message['payload']}".encode("ascii")
    raw = b64url_decode(signature["signature"], "/")
    assert len(raw) == 64 and gmssl_verify(key.public_jwk(), signing_input, raw)

    record = KeyRecord(key.kid, HOSPITAL, key.public_jwk(), datetime(2020, 1, 1, tzinfo=UTC))
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(orjson.dumps(KeyRegistry([record]).jwks(datetime.now(UTC))))
    signed = tmp_path / "message.json"
    signed.write_bytes(orjson.dumps(message))
    assert main(["verify", "--jwks", str(jwks), str(signed)]) == 0
    assert f"origin: {HOSPITAL}" in capsys.readouterr().out
    message["payload"] = message["payload"][:-4] + "AAAA"
    signed.write_bytes(orjson.dumps(message))
    assert main(["verify", "--jwks", str(jwks), str(signed)]) == 1
    assert "INVALID" in capsys.readouterr().out

    assert main(["keys", "token", str(out)]) == 0
    token = capsys.readouterr().out.strip()
    verifier = TokenVerifier(KeyRegistry([record]), "330000.exchange", SystemClock())
    assert verifier.verify(token) == HOSPITAL
