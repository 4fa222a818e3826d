"""The hostile corpus's runner: turns a vector (``vectors.jsonl``, or a schema's invalid
example) into bytes on the wire and checks what came back.

A vector names one request and the problem it must get::

    {"id": "...", "area": "transport|json|jws|event|document|token|sse|admin",
     "<kind>": {...}, "expect": {"status": 400, "type": "malformed-request"}}

Kinds, each built from a valid message or request so that exactly one thing is wrong:

- ``raw``: pieces of bytes written to a socket (a piece is a string, one byte per character
  U+0000-U+00FF, or ``{"repeat": "a", "times": 100000}``); ``"hold": true`` then sends
  nothing more and waits for the gateway's answer (a client that dribbles).
- ``body``: pieces POSTed to ``/v1/messages`` (``content_type`` optional).
- ``payload``: pieces as the JWS payload, signed by ``signer`` (default the hospital).
- ``event``: the valid event with ``set``/``remove`` applied to its attributes, signed.
- ``edit``: the valid event's JSON text with ``[old, new]`` replacements (duplicate or shadow
  members no JSON object can hold), signed.
- ``data``: the valid event with ``set``/``remove`` (JSON Pointers) applied to ``data``.
- ``jws``: the valid signed message; ``header`` set/remove rebuilds the protected header (and
  signs it again unless ``"resign": false``); ``set``/``remove`` then edit the outer object.
- ``http``: ``method``, ``path``, ``auth`` (``none``, ``department``, ``admin``, ``auditor``,
  ``token:<variant>``, ``literal:<value>``), ``headers``, ``body`` pieces.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from joserfc import jwt

from gateway.messages.jws import b64url_encode, sign_segments
from gateway.testing import GatewayHandle
from gateway.trust import SigningKey, issue_token
from tests.exchange.conftest import DIAGNOSIS, example

HERE = Path(__file__).parent
REPO = HERE.parents[1]
HOSPITAL = "330784.health.h001"
PROBLEM = "urn:zj-exchange:problem:"


def load_vectors() -> list[dict[str, Any]]:
    lines = (HERE / "vectors.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip() and not line.startswith("//")]


def invalid_examples() -> list[dict[str, Any]]:
    """Every invalid example kept beside the schemas, as a ``document`` vector: signed by a
    department that may send the type, it must be refused 422 naming the pointer its
    ``expected.json`` gives."""
    found = []
    for expected_path in sorted((REPO / "schemas" / "examples").glob("*/invalid/expected.json")):
        name = expected_path.parents[1].name
        expected = json.loads(expected_path.read_text(encoding="utf-8"))
        for file, why in sorted(expected.items()):
            found.append(
                {
                    "id": f"example-{name}-{Path(file).stem}",
                    "area": "document",
                    "example": str((expected_path.parent / file).relative_to(REPO)),
                    "expect": {"status": 422, "pointer": "/data" + why["pointer"]},
                }
            )
    return found


def type_of(name: str) -> str:
    """The document type of a directory under schemas/examples."""
    return f"cn.gov.zj.injury.{name}.v1"


def pieces(spec: Any) -> bytes:
    if isinstance(spec, str):
        return spec.encode("latin-1")
    if isinstance(spec, dict):
        return pieces(spec["repeat"]) * int(spec["times"])
    return b"".join(pieces(item) for item in spec)


def _pointer_parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def apply(target: Any, changes: dict[str, Any]) -> Any:
    """``set`` (pointer: value) and ``remove`` (pointers) applied to a copy of ``target``."""
    result = copy.deepcopy(target)
    for pointer, value in changes.get("set", {}).items():
        *parents, last = _pointer_parts(pointer)
        node = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    for pointer in changes.get("remove", []):
        *parents, last = _pointer_parts(pointer)
        node = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[int(last) if isinstance(node, list) else last]
    return result


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    def problem(self) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads(self.body)
        return doc


class Corpus:
    """Builds and sends vectors against one running gateway."""

    def __init__(self, gw: GatewayHandle, admin_tokens: dict[str, str]) -> None:
        self.gw = gw
        self.admin_tokens = admin_tokens

    # --- building -----------------------------------------------------------------------

    def key(self, department: str) -> SigningKey:
        return self.gw.key(department)

    def event(self) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": f"hostile-{uuid.uuid4().hex}",
            "source": HOSPITAL,
            "type": DIAGNOSIS,
            "subject": "GS-330784-2026-000001",
            "time": self.gw.clock.now().isoformat(),
            "dataschema": f"urn:zj-exchange:schema:{DIAGNOSIS}",
            "datacontenttype": "application/json",
            "data": example("medical_diagnosis"),
        }

    def signed(self, payload: bytes, signer: str = HOSPITAL) -> bytes:
        key = self.key(signer)
        payload_b64 = b64url_encode(payload)
        signature = sign_segments({"alg": key.alg, "kid": key.kid}, payload_b64, key)
        return orjson.dumps({"payload": payload_b64, "signatures": [signature]})

    def message_body(self, vector: dict[str, Any]) -> bytes:
        signer = vector.get("signer", HOSPITAL)
        if "payload" in vector:
            return self.signed(pieces(vector["payload"]), signer)
        if "event" in vector:
            return self.signed(orjson.dumps(apply(self.event(), vector["event"])), signer)
        if "edit" in vector:
            text = orjson.dumps(self.event()).decode()
            for old, new in vector["edit"]:
                assert old in text, old
                text = text.replace(old, new, 1)
            return self.signed(text.encode(), signer)
        if "data" in vector:
            event = self.event()
            event["data"] = apply(event["data"], vector["data"])
            return self.signed(orjson.dumps(event), signer)
        if "example" in vector:
            return self.example_body(REPO / vector["example"])
        return self.jws_body(vector["jws"], signer)

    def example_body(self, path: Path) -> bytes:
        doc_type = type_of(path.parents[1].name)
        sender = next(d.id for d in self.gw.config.departments.values() if doc_type in d.sends)
        event = self.event()
        event.update(
            source=sender,
            type=doc_type,
            dataschema=f"urn:zj-exchange:schema:{doc_type}",
            data=json.loads(path.read_text(encoding="utf-8")),
        )
        return self.signed(orjson.dumps(event), sender)

    def jws_body(self, spec: dict[str, Any], signer: str) -> bytes:
        key = self.key(signer)
        payload_b64 = b64url_encode(orjson.dumps(self.event()))
        header = apply({"alg": key.alg, "kid": key.kid}, spec.get("header", {}))
        signature = sign_segments({"alg": key.alg, "kid": key.kid}, payload_b64, key)
        if "header" in spec:
            if spec.get("resign", True):
                signature = sign_segments(header, payload_b64, key)
            else:
                signature["protected"] = b64url_encode(orjson.dumps(header))
        outer = {"payload": payload_b64, "signatures": [signature]}
        return orjson.dumps(apply(outer, spec))

    # --- tokens -------------------------------------------------------------------------

    def token(self, variant: str) -> str:
        key = self.key(HOSPITAL)
        now = self.gw.clock.now()
        gateway = self.gw.gateway_id
        claims: dict[str, Any] = {
            "iss": HOSPITAL,
            "aud": gateway,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + 120,
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": key.alg, "kid": key.kid}
        match variant:
            case "valid":
                return issue_token(key, gateway, now=now)
            case "expired":
                claims.update(iat=claims["iat"] - 3600, exp=claims["iat"] - 3000)
            case "long-lifetime":
                claims["exp"] = claims["iat"] + 86400
            case "wrong-audience":
                claims["aud"] = "330000.other"
            case "audience-list":
                claims["aud"] = [gateway]
            case "wrong-issuer":
                claims["iss"] = "330784.police.traffic"
            case "no-jti":
                del claims["jti"]
            case "long-jti":
                claims["jti"] = "j" * 200
            case "future":
                claims.update(iat=claims["iat"] + 3600, exp=claims["iat"] + 3700)
            case "other-key":  # the hospital's claims, signed with another department's key
                return jwt.encode(
                    header, claims, self.key("330784.police.traffic").key, algorithms=[key.alg]
                )
            case "unknown-kid":
                header["kid"] = f"{HOSPITAL}/no-such-key"
            case "bad-kid":
                header["kid"] = "not a kid"
            case _:
                raise AssertionError(f"unknown token variant {variant}")
        return jwt.encode(header, claims, key.key, algorithms=[key.alg])

    def authorization(self, auth: str) -> dict[str, str]:
        if auth == "none":
            return {}
        if auth == "department":
            return {"Authorization": f"Bearer {self.token('valid')}"}
        if auth in self.admin_tokens:
            return {"Authorization": f"Bearer {self.admin_tokens[auth]}"}
        if auth.startswith("token:"):
            return {"Authorization": f"Bearer {self.token(auth.removeprefix('token:'))}"}
        if auth.startswith("literal:"):
            return {"Authorization": auth.removeprefix("literal:")}
        raise AssertionError(f"unknown auth {auth}")

    # --- sending ------------------------------------------------------------------------

    async def send(self, vector: dict[str, Any]) -> Answer:
        if "raw" in vector:
            return await self.raw(pieces(vector["raw"]), hold=vector.get("hold", False))
        if "http" in vector:
            return await self.http(vector["http"])
        body = pieces(vector["body"]) if "body" in vector else self.message_body(vector)
        content_type = vector.get("content_type", "application/jose+json")
        return await self.http(
            {"method": "POST", "path": "/v1/messages", "headers": {"Content-Type": content_type}},
            body,
        )

    async def http(self, spec: dict[str, Any], body: bytes | None = None) -> Answer:
        headers = {**self.authorization(spec.get("auth", "none")), **spec.get("headers", {})}
        if body is None and "body" in spec:
            body = pieces(spec["body"])
        if spec.get("replay"):
            # use the token once, so the request below is its second use
            async with self.gw.session.get(
                f"{self.gw.base_url}/v1/inbox", headers=headers
            ) as first:
                assert first.status == 200
        async with self.gw.session.request(
            spec.get("method", "GET"),
            f"{self.gw.base_url}{spec['path']}",
            headers=headers,
            data=body,
            skip_auto_headers=["Content-Type"] if body is not None else [],
        ) as response:
            return Answer(response.status, response.content_type, await response.read())

    async def raw(self, request: bytes, *, hold: bool) -> Answer:
        """Write ``request`` to a fresh connection and read one answer (its head, then
        Content-Length bytes). A held request waits for the gateway's timeout."""
        host, port = self.gw.base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10 if hold else 5)
            lines = head.decode("latin-1").split("\r\n")
            fields = {
                name.lower(): value
                for name, _, value in (line.partition(": ") for line in lines[1:])
            }
            length = int(fields.get("content-length", "0"))
            body = await asyncio.wait_for(reader.readexactly(length), 5)
        finally:
            writer.close()
        status = int(lines[0].split()[1])
        return Answer(status, fields.get("content-type", "").split(";")[0], body)
