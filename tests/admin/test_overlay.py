"""The administrative overlay is a value: a change returns a new state, and applying it makes
a new acceptance context from the configuration as loaded, changing neither."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.administration import AdminState
from gateway.assembly import build_context, load_static
from gateway.options import Options
from gateway.testing import default_config

HOSPITAL = "330784.health.h001"
KID = f"{HOSPITAL}/dev"
AT = datetime(2026, 7, 24, tzinfo=UTC)


def test_changes_return_new_states_and_apply_changes_nothing(tmp_path: Path) -> None:
    config, schemas, gateway_key = load_static(Options(data_dir=tmp_path, config=default_config()))
    base = build_context(config, schemas, tmp_path, gateway_key)
    empty = AdminState()
    state = empty.with_enabled(HOSPITAL, False).with_revoked(KID, AT)
    assert empty == AdminState() and empty.is_empty() and not state.is_empty()

    context = state.apply(base)
    assert context.keys is not base.keys
    assert base.keys.get(KID).revoked_at is None  # type: ignore[union-attr]
    assert context.keys.get(KID).revoked_at == AT  # type: ignore[union-attr]
    assert base.config.departments[HOSPITAL].enabled
    assert not context.config.departments[HOSPITAL].enabled
    assert state.with_enabled(HOSPITAL, True).apply(base).config.departments[HOSPITAL].enabled


def test_the_earlier_revocation_and_expiry_win() -> None:
    later = AT + timedelta(hours=1)
    assert AdminState().with_revoked(KID, AT).with_revoked(KID, later).revoked[KID] == AT
    assert AdminState().with_expiry(KID, later).with_expiry(KID, AT).expiries[KID] == AT


def test_route_versions_number_themselves_and_survive_a_round_trip() -> None:
    state = AdminState().with_routes([], "admin:a", "2026-07-24T00:00:00Z", "first")
    state = state.with_routes([], "admin:b", "2026-07-24T01:00:00Z", "second")
    assert [v["version"] for v in state.route_versions] == [1, 2]
    assert state.active_routes == 2 and state.with_active_routes(0).active_routes is None
    again = AdminState.from_bytes(state.to_bytes(), version=3)
    assert again == state.with_version(3)
