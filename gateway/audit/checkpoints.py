"""Signed checkpoints of the audit chain.

The chain alone shows that entries fit together; someone who rewrites the whole file can
recompute every hash. A checkpoint is the gateway's signature over (seq, hash, time) of the
chain head at that moment, kept outside the database (``<data-dir>/audit-checkpoints.jsonl``)
and given to auditors, so a rewritten history no longer matches what the gateway signed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.clock import utc_iso
from gateway.messages.jws import sign_compact, verify_compact
from gateway.problems import GatewayError
from gateway.trust import KeyRecord, SigningKey

FILE_NAME = "audit-checkpoints.jsonl"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    token: str  # compact JWS over {"seq", "hash", "at"} by the gateway key


def sign_checkpoint(seq: int, digest: str, at: datetime, key: SigningKey) -> Checkpoint:
    claims = orjson.dumps({"seq": seq, "hash": digest, "at": utc_iso(at)})
    token = sign_compact({"alg": key.alg, "kid": key.kid}, claims, key)
    return Checkpoint(seq, digest, utc_iso(at), token)


def verify_checkpoint(checkpoint: Checkpoint, gateway_key: KeyRecord) -> bool:
    """The signature holds and covers exactly the checkpoint's seq, hash and time."""
    try:
        header, payload = verify_compact(checkpoint.token, gateway_key.key)
        claims: Any = orjson.loads(payload)
    except (GatewayError, orjson.JSONDecodeError):
        return False
    if header.get("kid") != gateway_key.kid:
        return False
    expected = {"seq": checkpoint.seq, "hash": checkpoint.hash, "at": checkpoint.at}
    return bool(claims == expected)


def first_mismatch(
    signed: Sequence[Checkpoint], hashes: Mapping[int, str], entries: int, gateway_key: KeyRecord
) -> str | None:
    """What is wrong between the signed checkpoints and the chain's ``hashes`` (seq -> hash of
    every entry; ``entries`` of them verified), or None when every checkpoint holds: each one
    signed by the gateway, naming an entry that is still there with the hash it signed."""
    for point in signed:
        if not verify_checkpoint(point, gateway_key):
            return f"the checkpoint at entry {point.seq} is not signed by the gateway"
        if point.seq not in hashes:
            return (
                f"entry {point.seq} is signed in a checkpoint but missing from the "
                f"chain (entries after {entries} were removed)"
            )
        if hashes[point.seq] != point.hash:
            return f"history up to entry {point.seq} differs from the signed checkpoint"
    return None


def append(data_dir: Path, checkpoint: Checkpoint) -> None:
    line = orjson.dumps(
        {
            "seq": checkpoint.seq,
            "hash": checkpoint.hash,
            "at": checkpoint.at,
            "token": checkpoint.token,
        }
    )
    fd = os.open(data_dir / FILE_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as handle:
        handle.write(line + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def load(data_dir: Path) -> list[Checkpoint]:
    """Every checkpoint in the file; ``ValueError`` naming the line if one is unreadable."""
    path = data_dir / FILE_NAME
    if not path.exists():
        return []
    result = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = orjson.loads(raw)
            point = Checkpoint(item["seq"], item["hash"], item["at"], item["token"])
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path.name} line {number} is not a checkpoint") from exc
        if not (
            isinstance(point.seq, int)
            and isinstance(point.hash, str)
            and isinstance(point.at, str)
            and isinstance(point.token, str)
        ):
            raise ValueError(f"{path.name} line {number} is not a checkpoint")
        result.append(point)
    return result
