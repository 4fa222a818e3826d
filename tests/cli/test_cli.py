"""The command line: validate, sign, verify and keys generate, with their failure modes."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from gateway.assembly import dev_key_path
from gateway.cli import main
from gateway.clock import SystemClock
from gateway.packaged import default_schema_dir
from gateway.trust import KeyRecord, KeyRegistry, SigningKey, TokenVerifier

DIAGNOSIS = "cn.gov.zj.injury.medical_diagnosis.v1"
HOSPITAL = "330784.health.h001"
EXAMPLES = default_schema_dir() / "examples" / "medical_diagnosis"


def _valid() -> Path:
    return sorted((EXAMPLES / "valid").glob("*.json"))[0]


def _invalid() -> Path:
    return sorted(p for p in (EXAMPLES / "invalid").glob("*.json") if p.name != "expected.json")[0]


def test_validate_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(_valid()), "--type", DIAGNOSIS]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_reports_every_problem_with_its_pointer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = json.loads((EXAMPLES / "invalid" / "expected.json").read_text())[_invalid().name]
    assert main(["validate", str(_invalid()), "--type", DIAGNOSIS]) == 1
    out = capsys.readouterr().out
    assert f"{expected['pointer']}:" in out


def test_keys_generate_writes_a_0600_private_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "k.jwk"
    assert main(["keys", "generate", HOSPITAL, "--name", "2026a", "--out", str(out)]) == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    printed = capsys.readouterr().out
    assert '"d"' not in printed and "d =" not in printed
    assert orjson.loads(out.read_bytes())["kid"] == f"{HOSPITAL}/2026a"


def test_keys_generate_writes_into_data_keys_and_names_the_admin_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["keys", "generate", HOSPITAL, "--name", "2026a"]) == 0
    keys = tmp_path / "data" / "keys"
    private, public = keys / f"{HOSPITAL}.2026a.jwk", keys / f"{HOSPITAL}.2026a.public.jwk"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    assert "d" in orjson.loads(private.read_bytes())
    assert set(orjson.loads(public.read_bytes())) == {"kty", "crv", "x", "alg", "use"}
    printed = capsys.readouterr().out
    public_file = f"data/keys/{HOSPITAL}.2026a.public.jwk"
    assert f"gateway admin keys add {HOSPITAL} --name 2026a --jwk {public_file}" in printed
    assert f"/admin/v1/departments/{HOSPITAL}/keys" in printed
    assert '"d"' not in printed and "departments.toml" not in printed
    # never over an existing key; another directory with --dir
    assert main(["keys", "generate", HOSPITAL, "--name", "2026a"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["keys", "generate", HOSPITAL, "--name", "2026a", "--dir", "elsewhere"]) == 0
    assert (tmp_path / "elsewhere" / f"{HOSPITAL}.2026a.jwk").is_file()
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().splitlines()
    assert "/data/" in ignored  # data/keys/ in a checkout is never committed


def test_keys_generate_refuses_a_bad_department(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "generate", "not a department"]) == 2
    assert "error:" in capsys.readouterr().err


def test_sign_then_verify_and_validate_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dev keys appear in the data directory the first time the configuration is used
    assert main(["verify", "--data-dir", str(tmp_path), str(_valid())]) == 1
    capsys.readouterr()
    key = dev_key_path(tmp_path, HOSPITAL)
    assert key.exists()
    assert (
        main(
            [
                "sign",
                "--as",
                HOSPITAL,
                "--key",
                str(key),
                "--type",
                DIAGNOSIS,
                "--subject",
                "CASE-1",
                str(_valid()),
            ]
        )
        == 0
    )
    message = tmp_path / "msg.json"
    message.write_text(capsys.readouterr().out)
    assert main(["validate", str(message)]) == 0
    capsys.readouterr()
    assert main(["verify", "--data-dir", str(tmp_path), str(message)]) == 0
    assert f"origin: {HOSPITAL}" in capsys.readouterr().out

    tampered = orjson.loads(message.read_bytes())
    tampered["payload"] = tampered["payload"][:-4] + "AAAA"
    message.write_bytes(orjson.dumps(tampered))
    assert main(["verify", "--data-dir", str(tmp_path), str(message)]) == 1
    assert "INVALID" in capsys.readouterr().out


def test_bad_key_file_is_a_precise_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jwk"
    bad.write_text("{not json")
    code = main(["sign", "--as", HOSPITAL, "--key", str(bad), "--type", DIAGNOSIS, str(_valid())])
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.jwk" in err and "Traceback" not in err
    assert (
        main(
            [
                "sign",
                "--as",
                HOSPITAL,
                "--key",
                str(tmp_path / "missing.jwk"),
                "--type",
                DIAGNOSIS,
                str(_valid()),
            ]
        )
        == 2
    )


def test_bad_configuration_is_a_precise_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "gateway.toml").write_text("[gateway]\nid = 'x'\n")
    code = main(["verify", "--config", str(tmp_path), str(_valid())])
    assert code == 2
    assert "gateway.toml" in capsys.readouterr().err


def test_keys_token_is_accepted_by_the_gateway(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "h.jwk"
    assert main(["keys", "generate", HOSPITAL, "--name", "t", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["keys", "token", str(out)]) == 0
    token = capsys.readouterr().out.strip()
    key = SigningKey.load(out)
    registry = KeyRegistry()
    registry.add(
        KeyRecord(key.kid, HOSPITAL, key.public_jwk(), datetime(2000, 1, 1, tzinfo=UTC), None, None)
    )
    verifier = TokenVerifier(registry, "330000.exchange", SystemClock(), timedelta(minutes=5))
    assert verifier.verify(token) == HOSPITAL


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    """A second `make run` beside the first: one `error:` line naming the address, exit 2,
    no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        tmp = str(tmp_path)
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--data-dir", tmp],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"error: cannot listen on 127.0.0.1:{port}: address already in use" in done.stderr
