"""The fault drill under pytest: `make chaos` runs it alone, `make test` runs it too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.drill import Drill, DrillOptions
from tests.helpers.stores import postgres_answers

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.timeout(900)]


async def test_orders_survive_kills_restarts_outages_and_a_flaky_gateway(tmp_path: Path) -> None:
    if not postgres_answers():
        pytest.skip("the drill drops PostgreSQL connections; PostgreSQL does not answer")
    outcome = await Drill(DrillOptions(), tmp_path).run()
    print("\n" + outcome.summary())
    (tmp_path / "summary.txt").write_text(outcome.summary())
    assert outcome.problems == []
    assert len(outcome.placed) == DrillOptions().orders
    assert outcome.worker_kills >= 3 and outcome.server_restarts == 1
    assert outcome.store_outages == 1 and 503 in outcome.outage_codes
    assert outcome.gateway_faults > 0 and outcome.gateway_lost_replies > 0
    assert outcome.broker_restarts == 1 and outcome.relay_kills == 1
    assert outcome.events_on_broker == outcome.events_journaled > 0
    assert set(outcome.statuses) <= {"COMPLETED", "CANCELLED", "FAILED", "FULFILLING"}
