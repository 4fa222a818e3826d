"""SM4-GCM at rest on a real store (both stores): no clear personal data in the database,
recipients still get the exact signed bytes, rotation re-seals in the background while the
gateway serves, and a wrong key file is a clear error, never garbage."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
import pytest

from gateway.cli import main
from gateway.configuration.model import Config, CryptoSettings
from gateway.encryption import FileKeyRing, RecordDecryptError
from gateway.encryption.codec import key_id_of
from gateway.encryption.rotation import reseal_all
from gateway.messages import verify_all
from gateway.testing import GatewayHandle, default_config, running_gateway
from gateway.trust import KeyRegistry
from tests.exchange.conftest import DIAGNOSIS, example

HOSPITAL = "330784.health.h001"
MEDINSURANCE = "330784.medinsurance"
ZLB = "330784.zlb"
APPLICATION = "cn.gov.zj.injury.application_form.v1"
PROBLEM = "urn:zj-exchange:problem:"
DOCUMENT = example("medical_diagnosis", 0)
NEEDLES = (
    DOCUMENT["patient"]["id_number"],
    DOCUMENT["patient"]["name"],
    DOCUMENT["diagnoses"][0]["name"],
)


def _forms(text: str) -> list[bytes]:
    """``text`` as UTF-8, and as the base64url characters it yields at each of the three
    alignments inside a longer base64url string (a JWS payload)."""
    raw = text.encode("utf-8")
    forms = [raw]
    for pad in range(3):
        padded = b"\0" * pad + raw
        encoded = base64.urlsafe_b64encode(padded).rstrip(b"=")
        forms.append(encoded[-(-8 * pad // 6) : 8 * len(padded) // 6])
    return forms


def _clear_in(blob: bytes) -> list[str]:
    return [needle for needle in NEEDLES if any(form in blob for form in _forms(needle))]


def _with_crypto(crypto: CryptoSettings) -> Config:
    return dataclasses.replace(default_config(), crypto=crypto)


def _sqlite_files(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("gateway.sqlite3*")))


async def _raw_store(data_dir: Path, database: str | None) -> bytes:
    """Every byte the database holds: the SQLite files as they lie on disk, or for
    PostgreSQL the stored columns as the server returns them."""
    if database is None:
        return _sqlite_files(data_dir)
    conn = await asyncpg.connect(database)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        dumps = []
        for (table,) in tables:  # every column of every table, bytea as its raw bytes
            columns = await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = $1",
                table,
            )
            for name, kind in columns:
                cast = f'"{name}"' if kind == "bytea" else f"convert_to(\"{name}\"::text, 'UTF8')"
                rows = await conn.fetch(f'SELECT {cast} FROM "{table}"')
                dumps += [bytes(r[0]) for r in rows if r[0] is not None]
    finally:
        await conn.close()
    assert len(tables) >= 5  # messages, deliveries, audit_log, cases, ... all looked at
    return b"\n".join(dumps)


async def _submit(gw: GatewayHandle, count: int, first: int = 0) -> None:
    client = gw.client(HOSPITAL)
    for index in range(first, first + count):
        await client.submit(DIAGNOSIS, DOCUMENT, event_id=f"enc-{index}")


@pytest.mark.parametrize("at_rest", ["none", "sm4-gcm"])
async def test_no_clear_personal_data_in_the_database(
    tmp_path: Path, database: str | None, at_rest: str
) -> None:
    config = _with_crypto(CryptoSettings(at_rest=at_rest))  # type: ignore[arg-type]
    async with running_gateway(tmp_path, config=config, database=database) as gw:
        form = example("application_form", 2)  # opens a case: its state is stored too
        await gw.client(ZLB).submit(APPLICATION, form, subject=form["application_number"])
        await _submit(gw, 2)
        page = await gw.client(MEDINSURANCE).inbox()
        body = orjson.dumps(page["messages"][0]["message"])
        jwks = KeyRegistry.from_jwks(await gw.client(HOSPITAL).jwks())
        verified = verify_all(body, jwks, datetime.now(UTC), gateway_id=gw.gateway_id)
        assert verified.event.data == DOCUMENT  # the recipient gets the signed plaintext
        running = await _raw_store(tmp_path, database)  # SQLite: the WAL as well, still open
        if database is None:
            assert (tmp_path / "gateway.sqlite3-wal").stat().st_size > 0
    assert _clear_in(running) == ([] if at_rest == "sm4-gcm" else list(NEEDLES))
    found = _clear_in(await _raw_store(tmp_path, database))
    states = await _stored(tmp_path, database, "SELECT state FROM cases")
    assert len(states) == 1
    assert [key_id_of(state) for state in states] == [None if at_rest == "none" else "dev-1"]
    if at_rest == "none":  # the control: the same grep finds them when nothing is sealed
        assert found == list(NEEDLES)
    else:
        assert found == []


async def test_rotation_reseals_while_serving_and_old_keys_retire(
    tmp_path: Path, database: str | None
) -> None:
    ring = tmp_path / "at-rest.keys"
    FileKeyRing.generate(ring, "2026a")
    config = _with_crypto(CryptoSettings(at_rest="sm4-gcm", key_file=ring))
    async with running_gateway(tmp_path / "d", config=config, database=database) as gw:
        await _submit(gw, 3)
        FileKeyRing(ring).rotate("2026b")
        store = gw.store
        codec = gw.store.protection.codec  # type: ignore[attr-defined]
        assert codec.keyring.refresh() is True
        await _submit(gw, 4, first=3)  # new records under 2026b while old ones still name 2026a
        assert await reseal_all(store, batch=2) == 3  # type: ignore[arg-type]
        assert await reseal_all(store, batch=2) == 0  # type: ignore[arg-type]
        rows = await gw.store.audit_rows(0, 1)  # type: ignore[attr-defined]
        assert rows  # the audit chain is untouched by re-sealing
    FileKeyRing(ring).retire("2026a")
    async with running_gateway(tmp_path / "d", config=config, database=database) as gw:
        page = await gw.client(MEDINSURANCE).inbox()
        assert len(page["messages"]) == 7
        for message in page["messages"]:
            assert orjson.loads(base64.urlsafe_b64decode(message["message"]["payload"] + "==="))
    raw = await _raw_store(tmp_path / "d", database)
    assert _clear_in(raw) == []


async def test_a_wrong_key_file_is_a_clear_error(tmp_path: Path, database: str | None) -> None:
    ring = tmp_path / "at-rest.keys"
    FileKeyRing.generate(ring, "k1")
    config = _with_crypto(CryptoSettings(at_rest="sm4-gcm", key_file=ring))
    async with running_gateway(tmp_path / "d", config=config, database=database) as gw:
        await _submit(gw, 1)
    ring.unlink()
    FileKeyRing.generate(ring, "k1")  # the same id, another key
    async with running_gateway(tmp_path / "d", config=config, database=database) as gw:
        token = gw.client(MEDINSURANCE)._auth()
        async with gw.session.get(f"{gw.base_url}/v1/inbox", headers=token) as response:
            problem = await response.json(content_type=None)
        assert response.status == 500
        assert problem["type"] == PROBLEM + "storage-encryption"
        assert "message/1" in problem["detail"] and "k1" in problem["detail"]
        assert _clear_in(orjson.dumps(problem)) == []
    plain = _with_crypto(CryptoSettings(at_rest="none"))
    async with running_gateway(tmp_path / "d", config=plain, database=database) as gw:
        token = gw.client(MEDINSURANCE)._auth()
        async with gw.session.get(f"{gw.base_url}/v1/inbox", headers=token) as response:
            problem = await response.json(content_type=None)
        assert (response.status, problem["type"]) == (500, PROBLEM + "storage-encryption")
        assert "at_rest" in problem["detail"]


async def test_turning_encryption_on_seals_the_plaintext_records_in_the_background(
    tmp_path: Path, database: str | None
) -> None:
    async with running_gateway(tmp_path, database=database) as gw:
        await _submit(gw, 2)
    assert [key_id_of(b) for b in await _stored_bodies(tmp_path, database)] == [None, None]
    config = _with_crypto(CryptoSettings(at_rest="sm4-gcm"))
    async with running_gateway(tmp_path, config=config, database=database) as gw:
        for _ in range(100):  # the re-sealing task runs at start, while the gateway serves
            if [key_id_of(b) for b in await _stored_bodies(tmp_path, database)] == ["dev-1"] * 2:
                break
            await asyncio.sleep(0.05)
        assert len((await gw.client(MEDINSURANCE).inbox())["messages"]) == 2
        assert await reseal_all(gw.store) == 0  # type: ignore[arg-type]
        message = await gw.store.get_message(1)
        assert message is not None and message.body.startswith(b"{")
    bodies = await _stored_bodies(tmp_path, database)
    assert [key_id_of(b) for b in bodies] == ["dev-1", "dev-1"]
    assert _clear_in(b"".join(bodies)) == []


async def _stored_bodies(data_dir: Path, database: str | None) -> list[bytes]:
    return await _stored(data_dir, database, "SELECT body FROM messages ORDER BY seq")


async def _stored(data_dir: Path, database: str | None, query: str) -> list[bytes]:
    if database is None:
        with sqlite3.connect(data_dir / "gateway.sqlite3") as db:
            return [bytes(r[0]) for r in db.execute(query)]
    conn = await asyncpg.connect(database)
    try:
        return [bytes(r[0]) for r in await conn.fetch(query)]
    finally:
        await conn.close()


async def test_swapped_or_truncated_records_are_refused_by_name(
    tmp_path: Path, database: str | None
) -> None:
    config = _with_crypto(CryptoSettings(at_rest="sm4-gcm"))
    async with running_gateway(tmp_path, config=config, database=database) as gw:
        await _submit(gw, 2)
        first, second = await _stored_bodies(tmp_path, database)
        await _execute(tmp_path, database, 1, second)  # message 2's ciphertext under seq 1
        await _execute(tmp_path, database, 2, first[:-5])  # and message 2 cut short
        for seq in (1, 2):
            with pytest.raises(RecordDecryptError) as caught:
                await gw.store.get_message(seq)
            assert f"message/{seq} " in caught.value.detail
            assert _clear_in(caught.value.detail.encode()) == []
        token = gw.client(MEDINSURANCE)._auth()
        async with gw.session.get(f"{gw.base_url}/v1/inbox", headers=token) as response:
            problem = await response.json(content_type=None)
        assert (response.status, problem["type"]) == (500, PROBLEM + "storage-encryption")
        assert "message/1" in problem["detail"] and _clear_in(orjson.dumps(problem)) == []


async def _execute(data_dir: Path, database: str | None, seq: int, body: bytes) -> None:
    """Replace a stored body behind the gateway's back (someone with the database)."""
    if database is None:
        with sqlite3.connect(data_dir / "gateway.sqlite3") as db:
            db.execute("UPDATE messages SET body = ? WHERE seq = ?", (body, seq))
        return
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("UPDATE messages SET body = $1 WHERE seq = $2", body, seq)
    finally:
        await conn.close()


async def test_a_key_that_records_still_name_is_not_retired(
    tmp_path: Path, database: str | None
) -> None:
    """``gateway keys at-rest retire`` before the re-sealing pass has moved every record would
    make those records unreadable for good: it looks in the store and refuses, naming how many."""
    ring = tmp_path / "at-rest.keys"
    FileKeyRing.generate(ring, "2026a")
    config = _with_crypto(CryptoSettings(at_rest="sm4-gcm", key_file=ring))
    async with running_gateway(tmp_path / "d", config=config, database=database) as gw:
        await _submit(gw, 2)
    FileKeyRing(ring).rotate("2026b")
    where = ["--data-dir", str(tmp_path / "d")] + (
        [] if database is None else ["--database", database]
    )
    retire = ["keys", "at-rest", "retire", str(ring), "--id", "2026a", *where]
    assert await asyncio.to_thread(main, retire) == 2
    assert FileKeyRing(ring).ids() == ["2026a", "2026b"]  # the key is still there
    async with running_gateway(tmp_path / "d", config=config, database=database) as gw:
        await reseal_all(gw.store)  # type: ignore[arg-type]  # (or the pass at start did)
    bodies = await _stored_bodies(tmp_path / "d", database)
    assert [key_id_of(body) for body in bodies] == ["2026b", "2026b"]
    assert await asyncio.to_thread(main, retire) == 0
    assert FileKeyRing(ring).ids() == ["2026b"]


async def test_rotation_under_load_keeps_every_record_readable(
    tmp_path: Path, database: str | None
) -> None:
    """Messages and a case are written while the re-sealing pass runs after a rotation:
    none is lost or left unreadable, and a second pass leaves everything under the new key."""
    ring = tmp_path / "at-rest.keys"
    FileKeyRing.generate(ring, "2026a")
    config = _with_crypto(CryptoSettings(at_rest="sm4-gcm", key_file=ring))
    async with running_gateway(tmp_path / "d", config=config, database=database) as gw:
        form = example("application_form", 2)
        await gw.client(ZLB).submit(APPLICATION, form, subject=form["application_number"])
        await _submit(gw, 4)
        FileKeyRing(ring).rotate("2026b")
        codec = gw.store.protection.codec  # type: ignore[attr-defined]
        assert codec.keyring.refresh() is True
        await asyncio.gather(_submit(gw, 6, first=4), reseal_all(gw.store, batch=1))  # type: ignore[arg-type]
        await reseal_all(gw.store)  # type: ignore[arg-type]
        page = await gw.client(MEDINSURANCE).inbox()
        assert len(page["messages"]) == 10  # every diagnosis, written before or during
        bodies = await _stored_bodies(tmp_path / "d", database)
        assert len(bodies) >= 11  # 11 submitted, and what the case layer sent on its own
        for seq in range(1, len(bodies) + 1):
            message = await gw.store.get_message(seq)
            assert message is not None and message.body.startswith(b"{")
    states = await _stored(tmp_path / "d", database, "SELECT state FROM cases")
    assert len(states) == 1
    assert {key_id_of(blob) for blob in [*bodies, *states]} == {"2026b"}
