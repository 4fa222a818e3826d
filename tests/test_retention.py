from datetime import timedelta
from pathlib import Path

from gateway.clock import ManualClock
from gateway.retention import purge_once
from gateway.testing import running_gateway
from tests.exchange.conftest import DIAGNOSIS, example


async def test_purges_finished_messages_older_than_retention_only(
    tmp_path: Path, database: str | None
) -> None:
    clock = ManualClock()
    async with running_gateway(
        tmp_path, clock=clock, run_dispatcher=False, database=database
    ) as gw:
        store = gw.store
        receipt = await gw.client("330784.health.h001").submit(
            DIAGNOSIS, example("medical_diagnosis"), event_id="old"
        )
        seq = receipt["sequence"]
        clock.advance(timedelta(days=100))
        # still pending for its recipients: kept however old
        assert await purge_once(store, clock, timedelta(days=90)) == 0
        for recipient in receipt["recipients"]:
            assert await gw.client(recipient).ack([seq]) == 1
        assert await purge_once(store, clock, timedelta(days=101)) == 0  # not old enough
        assert await purge_once(store, clock, timedelta(days=90)) == 1
        assert await store.get_message(seq) is None
