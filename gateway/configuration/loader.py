"""Read the TOML configuration directory into a ``Config``.

Hand-written field checks rather than a schema library: the messages must name the file and
the TOML path (``departments.toml: departments[3].delivery.mode``) in words an operator
acts on, and the shape is small.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from gateway.configuration.model import (
    AtRest,
    BreakerPolicy,
    CaseSettings,
    Condition,
    Config,
    CryptoSettings,
    DeliverySettings,
    Department,
    EventSettings,
    GatewaySettings,
    KeyConfig,
    RetryPolicy,
    Route,
    TransportLimits,
)
from gateway.problem_types import CONFIGURATION
from gateway.problems import ConfigError
from gateway.trust.digests import DIGESTS, DigestName

# Identifiers and text: ASCII digits only (``\d`` would take any script's digits) and matched
# whole with ``fullmatch`` (``$`` would also take a trailing newline). The admin API's OpenAPI
# description states the same patterns (gateway/api/openapi.json).
DEPARTMENT_ID = re.compile(r"^[0-9]{6}(\.[a-z][a-z0-9_-]*){1,2}\Z")
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
TYPE_NAME = re.compile(r"^cn\.gov\.zj\.[a-z0-9_.]+\.v[0-9]+\Z")
DURATION = re.compile(r"^([0-9]{1,9}(?:\.[0-9]{1,6})?)(ms|s|m|h|d)\Z")
# a name or other text shown in lists, logs and notices: no control characters (C0, C1, the
# Unicode line and paragraph separators) and no unpaired surrogates
TEXT = re.compile("[^\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
EXTENSION_NAME = re.compile(r"[a-z0-9]+")
#: push attempts in flight to one recipient, per instance
MAX_CONCURRENCY = 256
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Place:
    """Where in which file a value sits, so every error can say so."""

    def __init__(self, file: str, path: str = "") -> None:
        self.file = file
        self.path = path

    def at(self, key: str | int) -> Place:
        if isinstance(key, int):
            return Place(self.file, f"{self.path}[{key}]")
        return Place(self.file, f"{self.path}.{key}" if self.path else key)

    def fail(self, what: str) -> ConfigError:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return ConfigError(f"{where}: {what}", problem=CONFIGURATION)

    def table(self, value: Any) -> dict[str, Any]:
        """``value`` if it is a TOML table; else an error naming this place."""
        if not isinstance(value, dict):
            raise self.fail("must be a table")
        return value

    def only(self, table: Mapping[str, Any], allowed: set[str]) -> None:
        """Refuse keys outside ``allowed``: a misspelt key must not be silently ignored."""
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(
                f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )


def _table(value: Any, place: Place) -> dict[str, Any]:
    return place.table(value)


def _known_keys(table: dict[str, Any], allowed: set[str], place: Place) -> None:
    place.only(table, allowed)


def _str(table: dict[str, Any], key: str, place: Place, default: str | None = None) -> str:
    value = table.get(key, default)
    if value is None:
        raise place.at(key).fail("is required")
    if not isinstance(value, str) or not value:
        raise place.at(key).fail("must be a non-empty string")
    if TEXT.fullmatch(value) is None:  # names are shown in lists, logs and notices
        raise place.at(key).fail("must not hold control characters")
    return value


def _opt_str(table: dict[str, Any], key: str, place: Place) -> str | None:
    return _str(table, key, place) if key in table else None


def _bool(table: dict[str, Any], key: str, place: Place, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise place.at(key).fail("must be true or false")
    return value


#: the largest whole number a setting may hold: a signed 32-bit integer, so every number read
#: from a file or an administrator's JSON fits every store and every timer
MAX_SETTING = 2**31 - 1
#: the longest duration a setting may hold (ten years)
MAX_DURATION = timedelta(days=3650)


def _int(
    table: dict[str, Any],
    key: str,
    place: Place,
    default: int,
    minimum: int = 1,
    maximum: int = MAX_SETTING,
) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise place.at(key).fail(f"must be an integer from {minimum} to {maximum}")
    return value


def _number(table: dict[str, Any], key: str, place: Place, default: float) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise place.at(key).fail("must be a positive number")
    return float(value)


def parse_duration(text: Any, place: Place) -> timedelta:
    """``"5s"``, ``"30m"``, ``"6h"``, ``"3d"``: readable in a config file, unlike seconds."""
    match = DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise place.fail('must be a duration such as "500ms", "5s", "30m", "6h" or "3d"')
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():
        raise place.fail(f"must be at most {MAX_DURATION.days} days")
    return timedelta(seconds=seconds)


def _duration(table: dict[str, Any], key: str, place: Place, default: timedelta) -> timedelta:
    return parse_duration(table[key], place.at(key)) if key in table else default


def _time(table: dict[str, Any], key: str, place: Place) -> datetime | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise place.at(key).fail("must be a TOML offset date-time such as 2026-01-01T00:00:00Z")
    return value.astimezone(UTC)


def _types(table: dict[str, Any], key: str, place: Place) -> frozenset[str]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise place.at(key).fail("must be a list of document types")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not TYPE_NAME.fullmatch(item):
            raise (
                place.at(key)
                .at(index)
                .fail("must be a document type such as cn.gov.zj.injury.medical_diagnosis.v1")
            )
    if len(set(value)) != len(value):  # a set: a repeat would be silently dropped
        raise place.at(key).fail("names a document type twice")
    return frozenset(value)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def _gateway(doc: dict[str, Any], place: Place, base: Path) -> GatewaySettings:
    table = _table(doc.get("gateway", {}), place.at("gateway"))
    here = place.at("gateway")
    allowed = {
        "id",
        "key_file",
        "dev_keys",
        "clock_skew",
        "max_message_bytes",
        "retention",
        "token_lifetime",
    }
    _known_keys(table, allowed, here)
    gateway_id = _str(table, "id", here)
    if not DEPARTMENT_ID.fullmatch(gateway_id):
        raise here.at("id").fail("must look like <region code>.<agency>, e.g. 330000.exchange")
    key_file = _opt_str(table, "key_file", here)
    return GatewaySettings(
        id=gateway_id,
        key_file=(base / key_file) if key_file else None,
        dev_keys=_bool(table, "dev_keys", here, False),
        clock_skew=_duration(table, "clock_skew", here, timedelta(minutes=5)),
        max_message_bytes=_int(table, "max_message_bytes", here, 1_048_576, minimum=1024),
        retention=_duration(table, "retention", here, timedelta(days=90)),
        token_lifetime=_duration(table, "token_lifetime", here, timedelta(minutes=5)),
    )


def _retry(doc: dict[str, Any], place: Place) -> RetryPolicy:
    here = place.at("retry")
    table = _table(doc.get("retry", {}), here)
    _known_keys(table, {"initial", "multiplier", "cap", "max_age"}, here)
    default = RetryPolicy()
    return RetryPolicy(
        initial=_duration(table, "initial", here, default.initial),
        multiplier=_number(table, "multiplier", here, default.multiplier),
        cap=_duration(table, "cap", here, default.cap),
        max_age=_duration(table, "max_age", here, default.max_age),
    )


def _breaker(doc: dict[str, Any], place: Place) -> BreakerPolicy:
    here = place.at("breaker")
    table = _table(doc.get("breaker", {}), here)
    _known_keys(table, {"failures", "cooldown"}, here)
    default = BreakerPolicy()
    return BreakerPolicy(
        failures=_int(table, "failures", here, default.failures),
        cooldown=_duration(table, "cooldown", here, default.cooldown),
    )


def _cases(doc: dict[str, Any], place: Place, base: Path) -> CaseSettings:
    here = place.at("cases")
    table = _table(doc.get("cases", {}), here)
    _known_keys(table, {"definition", "key_file", "check_interval"}, here)
    definition = _opt_str(table, "definition", here)
    key_file = _opt_str(table, "key_file", here)
    return CaseSettings(
        definition=(base / definition) if definition else None,
        key_file=(base / key_file) if key_file else None,
        check_interval=_duration(table, "check_interval", here, timedelta(minutes=1)),
    )


def _crypto(doc: dict[str, Any], place: Place, base: Path) -> CryptoSettings:
    here = place.at("crypto")
    table = _table(doc.get("crypto", {}), here)
    _known_keys(table, {"digest", "at_rest", "key_file", "refuse_plaintext"}, here)
    digest = _str(table, "digest", here, "sha256")
    if digest not in DIGESTS:
        raise here.at("digest").fail(f"must be one of {', '.join(DIGESTS)}")
    digest_name: DigestName = "sm3" if digest == "sm3" else "sha256"
    at_rest = _str(table, "at_rest", here, "none")
    if at_rest not in ("none", "sm4-gcm"):
        raise here.at("at_rest").fail('must be "none" or "sm4-gcm"')
    key_file = _opt_str(table, "key_file", here)
    return CryptoSettings(
        digest=digest_name,
        at_rest=cast(AtRest, at_rest),
        key_file=(base / key_file) if key_file else None,
        refuse_plaintext=_bool(table, "refuse_plaintext", here, False),
    )


def _events(doc: dict[str, Any], place: Place) -> EventSettings:
    here = place.at("events")
    table = _table(doc.get("events", {}), here)
    _known_keys(
        table, {"max_name_length", "max_extensions", "max_extension_bytes", "extensions"}, here
    )
    default = EventSettings()
    names = table.get("extensions", sorted(default.extensions or ()))
    if not isinstance(names, list) or not all(
        isinstance(n, str) and EXTENSION_NAME.fullmatch(n) for n in names
    ):
        raise here.at("extensions").fail(
            "must be a list of CloudEvents attribute names (lower-case letters and digits)"
        )
    return EventSettings(
        max_name_length=_int(table, "max_name_length", here, default.max_name_length),
        max_extensions=_int(table, "max_extensions", here, default.max_extensions, minimum=0),
        max_extension_bytes=_int(table, "max_extension_bytes", here, default.max_extension_bytes),
        extensions=frozenset(names),
    )


def _http(doc: dict[str, Any], place: Place) -> TransportLimits:
    here = place.at("http")
    table = _table(doc.get("http", {}), here)
    default = TransportLimits()
    seconds = ("head_timeout", "body_timeout", "idle_timeout", "write_timeout")
    counts = (
        "connections_per_peer",
        "max_line_size",
        "max_headers",
        "streams_per_department",
        "page_bytes",
    )
    _known_keys(table, {*seconds, *counts}, here)
    values: dict[str, Any] = {
        k: _duration(table, k, here, timedelta(seconds=getattr(default, k))).total_seconds()
        for k in seconds
    }
    values.update({k: _int(table, k, here, getattr(default, k)) for k in counts})
    return TransportLimits(**values)


def _delivery(table: dict[str, Any], place: Place) -> DeliverySettings:
    _known_keys(table, {"mode", "endpoint", "timeout", "concurrency"}, place)
    mode = table.get("mode", "pull")
    if mode not in ("push", "pull"):
        raise place.at("mode").fail('must be "push" or "pull"')
    endpoint = _opt_str(table, "endpoint", place)
    if mode == "push" and endpoint is None:
        raise place.at("endpoint").fail('is required when mode is "push"')
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise place.at("endpoint").fail("must be an http:// or https:// URL")
    timeout = _duration(table, "timeout", place, timedelta(seconds=10)).total_seconds()
    return DeliverySettings(
        mode=mode,
        endpoint=endpoint,
        timeout_seconds=timeout,
        concurrency=_int(table, "concurrency", place, 4, maximum=MAX_CONCURRENCY),
    )


def parse_delivery(doc: Any, file: str) -> DeliverySettings:
    """A department's ``delivery`` table (``mode``, ``endpoint``, ``timeout``, ``concurrency``)
    given on its own, as the admin API and the console take it; ``ConfigError`` naming the
    field otherwise."""
    place = Place(file)
    return _delivery(_table(doc, place), place)


def _key(table: dict[str, Any], place: Place) -> KeyConfig:
    _known_keys(table, {"name", "jwk", "not_before", "not_after", "revoked_at"}, place)
    name = _str(table, "name", place)
    if not KEY_NAME.fullmatch(name):
        raise place.at("name").fail("must be letters, digits, '.', '_' or '-' (max 64)")
    jwk = _table(table.get("jwk"), place.at("jwk"))
    if "d" in jwk:
        raise place.at("jwk").fail("holds a private key ('d'); configure public keys only")
    return KeyConfig(
        name=name,
        jwk=dict(jwk),
        not_before=_time(table, "not_before", place),
        not_after=_time(table, "not_after", place),
        revoked_at=_time(table, "revoked_at", place),
    )


def _department(table: dict[str, Any], place: Place) -> Department:
    allowed = {"id", "name", "name_zh", "sends", "receives", "delivery", "keys", "enabled"}
    _known_keys(table, allowed, place)
    dept_id = _str(table, "id", place)
    if not DEPARTMENT_ID.fullmatch(dept_id):
        raise place.at("id").fail("must look like <GB/T 2260 region code>.<agency>[.<unit>]")
    keys_raw = table.get("keys", [])
    if not isinstance(keys_raw, list):
        raise place.at("keys").fail("must be an array of tables ([[departments.keys]])")
    keys = tuple(
        _key(_table(k, place.at("keys").at(i)), place.at("keys").at(i))
        for i, k in enumerate(keys_raw)
    )
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise place.at("keys").fail("key names must be unique within a department")
    delivery = _delivery(
        _table(table.get("delivery", {}), place.at("delivery")), place.at("delivery")
    )
    return Department(
        id=dept_id,
        name=_str(table, "name", place),
        name_zh=_str(table, "name_zh", place) if "name_zh" in table else "",
        sends=_types(table, "sends", place),
        receives=_types(table, "receives", place),
        delivery=delivery,
        keys=keys,
        enabled=_bool(table, "enabled", place, True),
    )


def parse_departments(doc: dict[str, Any], file: str) -> dict[str, Department]:
    place = Place(file)
    raw = doc.get("departments", [])
    if not isinstance(raw, list):
        raise place.at("departments").fail("must be an array of tables ([[departments]])")
    departments: dict[str, Department] = {}
    for index, item in enumerate(raw):
        here = place.at("departments").at(index)
        dept = _department(_table(item, here), here)
        if dept.id in departments:
            raise here.at("id").fail(f"department {dept.id} is defined twice")
        departments[dept.id] = dept
    return departments


def _condition(pointer: str, value: Any, place: Place) -> Condition:
    if not pointer.startswith("/") or TEXT.fullmatch(pointer) is None:
        raise place.fail(f"condition key {pointer!r} must be a JSON Pointer such as /data/kind")
    values = tuple(value) if isinstance(value, list) else (value,)
    if not values or not all(_condition_value(v) for v in values):
        raise place.at(pointer).fail(
            "must be a string, a number, true or false, or a non-empty list of them "
            "(whole numbers within 64 bits)"
        )
    return Condition(pointer=pointer, values=values)


def _condition_value(value: Any) -> bool:
    """A value an event's member can equal: text, a number (a whole one within 64 bits, as
    the stores and the JSON writer take them), or a boolean."""
    if isinstance(value, bool | str | float):
        return True
    return isinstance(value, int) and -(2**63) <= value < 2**64


def parse_routes(
    doc: dict[str, Any], file: str, departments: dict[str, Department]
) -> tuple[Route, ...]:
    """Routes are checked against the departments so a typo never silently drops messages."""
    place = Place(file)
    raw = doc.get("routes", [])
    if not isinstance(raw, list):
        raise place.at("routes").fail("must be an array of tables ([[routes]])")
    routes: list[Route] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        here = place.at("routes").at(index)
        table = _table(item, here)
        _known_keys(table, {"name", "type", "to", "to_pointer", "when"}, here)
        name = _str(table, "name", here)
        if name in seen:
            raise here.at("name").fail(f"route name {name!r} is used twice")
        seen.add(name)
        doc_type = _str(table, "type", here)
        if not TYPE_NAME.fullmatch(doc_type):
            raise here.at("type").fail("must be a document type")
        to = table.get("to", [])
        if not isinstance(to, list) or not all(isinstance(t, str) for t in to):
            raise here.at("to").fail("must be a list of department ids")
        for position, target in enumerate(to):
            if target not in departments:
                raise here.at("to").at(position).fail(f"unknown department {target!r}")
        to_pointer = _opt_str(table, "to_pointer", here)
        if not to and to_pointer is None:
            raise here.fail("needs 'to' or 'to_pointer'")
        when = _table(table.get("when", {}), here.at("when"))
        conditions = tuple(_condition(k, v, here.at("when")) for k, v in when.items())
        routes.append(Route(name, doc_type, tuple(to), to_pointer, conditions))
    return tuple(routes)


@dataclass(frozen=True, slots=True)
class GatewayFile:
    """What ``gateway.toml`` holds."""

    settings: GatewaySettings
    retry: RetryPolicy
    breaker: BreakerPolicy
    cases: CaseSettings
    crypto: CryptoSettings
    events: EventSettings
    http: TransportLimits


def load_gateway_file(directory: Path) -> GatewayFile:
    path = directory / "gateway.toml"
    doc = _read_toml(path)
    place = Place(str(path))
    _known_keys(doc, {"gateway", "retry", "breaker", "cases", "crypto", "events", "http"}, place)
    return GatewayFile(
        settings=_gateway(doc, place, directory),
        retry=_retry(doc, place),
        breaker=_breaker(doc, place),
        cases=_cases(doc, place, directory),
        crypto=_crypto(doc, place, directory),
        events=_events(doc, place),
        http=_http(doc, place),
    )


def load_departments_file(directory: Path) -> dict[str, Department]:
    path = directory / "departments.toml"
    return parse_departments(_read_toml(path), str(path))


def load_routes_file(directory: Path, departments: dict[str, Department]) -> tuple[Route, ...]:
    path = directory / "routes.toml"
    return parse_routes(_read_toml(path), str(path), departments)


def config_directory(directory: Path) -> Path:
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: configuration directory not found")
    return directory


def assemble(
    directory: Path,
    gateway: GatewayFile,
    departments: dict[str, Department],
    routes: tuple[Route, ...],
) -> Config:
    return Config(
        gateway=gateway.settings,
        departments=departments,
        routes=routes,
        retry=gateway.retry,
        breaker=gateway.breaker,
        directory=directory,
        cases=gateway.cases,
        crypto=gateway.crypto,
        events=gateway.events,
        http=gateway.http,
    )


def load_config(directory: Path) -> Config:
    """Load ``gateway.toml``, ``departments.toml`` and ``routes.toml`` from ``directory``;
    ``ConfigError`` at the first error (``gateway.configuration.check`` collects them all)."""
    directory = config_directory(directory)
    gateway = load_gateway_file(directory)
    departments = load_departments_file(directory)
    return assemble(directory, gateway, departments, load_routes_file(directory, departments))
