"""`oms patches` counts running orders per patch from the TemporalChangeVersion attribute."""

from __future__ import annotations

import asyncio
import time

from oms.patches import count_patches
from tests.helpers.orders import order_body, place, wait_until
from tests.helpers.stack import Stack
from workflows.patches import IN_PROCESS, PATCHES, RETURN_WINDOW


async def test_a_waiting_order_counts_under_the_patches_it_took(stack: Stack) -> None:
    async with stack.http() as http:
        order_id = (await place(http, order_body("tok_risk_elevated")))["order_id"]
        await wait_until(http, order_id, lambda view: view["status"] == "NEEDS_REVIEW")
    queue = stack.settings.task_queue
    deadline = time.monotonic() + 20  # visibility is eventually consistent
    while True:
        counts = {c.patch: c for c in await count_patches(stack.client, queue)}
        waiting = counts[IN_PROCESS.id]
        if waiting.running_with >= 1 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert set(counts) == {p.id for p in PATCHES}
    # It runs in process; it has not reached the return window, so that patch is still ahead.
    assert waiting.running_with >= 1
    assert counts[RETURN_WINDOW.id].running_without >= 1
    async with stack.http() as http:
        await http.post(f"/orders/{order_id}/review", json={"decision": "cancel"})
