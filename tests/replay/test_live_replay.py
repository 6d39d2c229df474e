"""A live order's history replays, even when its first shipment's booking answers last.

The recorded histories in `tests/histories/` came from the scenarios' usual timing; this
one makes the carrier slow for the first of two shipments, so the order's local
activities (bookings, journal batches) finish in a different order than they were asked
for, then replays the finished order in the strict sandbox, as the replay suite does.
"""

from __future__ import annotations

import asyncio

from adapters.carrier import Booking, SimulatedCarrier
from tests.helpers.orders import order_body, place, wait_for_status
from tests.helpers.stack import running_stack
from workers.replay import strict_replayer


class FirstBookingAnswersLast(SimulatedCarrier):
    async def book(self, *, shipment_id: str, **request) -> Booking:  # noqa: ANN003
        if shipment_id.endswith("-1"):
            await asyncio.sleep(0.5)
        return await super().book(shipment_id=shipment_id, **request)


async def test_an_order_whose_shipments_book_out_of_order_replays(temporal_env, sqlite_url) -> None:
    async with running_stack(
        temporal_env, sqlite_url, make_carrier=FirstBookingAnswersLast
    ) as stack:
        async with stack.http() as http:
            placed = await place(
                http,
                order_body(
                    lines=[
                        {"sku": "MUG-CERAMIC", "quantity": 2},  # from EWR
                        {"sku": "LAMP-DESK", "quantity": 1},  # from LAX
                    ]
                ),
            )
            view = await wait_for_status(http, placed["order_id"], "COMPLETED", "FAILED")
        assert view["status"] == "COMPLETED"
        assert len(view["shipments"]) == 2
        handle = stack.client.get_workflow_handle(f"order-{placed['order_id']}")
        history = await handle.fetch_history()
    result = await strict_replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, repr(result.replay_failure)
