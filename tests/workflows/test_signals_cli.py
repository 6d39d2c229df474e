"""Signals with plain JSON through the `temporal` CLI, as an operator would send them."""

from __future__ import annotations

from tests.helpers.orders import (
    events,
    order_body,
    place,
    shipments_booked,
    temporal_signal,
    wait_for_status,
    wait_until,
)
from tests.helpers.stack import Stack


async def signal(stack: Stack, workflow_id: str, name: str, payload: str) -> None:
    await temporal_signal(
        stack.settings.resolved_temporal_address,
        stack.settings.temporal_namespace,
        workflow_id,
        name,
        payload,
    )


async def test_cli_signals_hold_and_release_and_a_malformed_one_is_journaled(
    slow_stack: Stack,
) -> None:
    async with slow_stack.http() as http:
        placed = await place(http, order_body())
        order_id = placed["order_id"]
        workflow_id = f"order-{order_id}"
        await wait_until(http, order_id, shipments_booked)

        await signal(
            slow_stack,
            workflow_id,
            "hold",
            '{"reason": "INCORRECT_ADDRESS", "note": "from the CLI"}',
        )
        held = await wait_until(http, order_id, lambda v: v["status"] == "ON_HOLD")
        assert held["holds"][0]["reason"] == "INCORRECT_ADDRESS"

        await signal(slow_stack, workflow_id, "hold", '{"reason": 42}')
        await signal(slow_stack, workflow_id, "cancel", '"cancel it please"')
        await signal(slow_stack, workflow_id, "release", '{"reason": "OTHER"}')
        await signal(slow_stack, workflow_id, "explode", '{"now": true}')

        await signal(slow_stack, workflow_id, "release", "{}")
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED", timeout=60)
        journal = await events(http, order_id)

    assert done["status"] == "COMPLETED"
    held_event = next(e for e in journal if e["type"] == "OrderHeld")
    assert held_event["actor"] == "operator (signal)" and held_event["reason"] == "from the CLI"
    rejected = [e for e in journal if e["type"] == "InterventionRejected"]
    assert [e["data"]["intervention"] for e in rejected] == ["hold", "cancel", "release", "explode"]
    assert "unknown signal 'explode'" in rejected[3]["reason"]
    assert "reason" in rejected[0]["reason"]
    assert "no hold for OTHER" in rejected[2]["reason"]
    assert all(e["data"]["via"] == "signal" for e in rejected)
