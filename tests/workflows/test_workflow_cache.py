"""Orders evicted from the worker's workflow cache carry on where they were.

The worker keeps only the orders being worked on in memory (`OMS_WORKER_MAX_CACHED_WORKFLOWS`,
256 by default) rather than every open order. An order dropped from a full cache replays its
history on its next task; it must then take the same path, with no effect done twice.
"""

from __future__ import annotations

import asyncio

import httpx

from tests.helpers.orders import journal_types, order_body, place, wait_for_status
from tests.helpers.stack import free_port, running_stack

ORDERS = 4


async def forced_evictions(port: int) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("temporal_sticky_cache_total_forced_eviction")
    )


async def test_orders_evicted_from_a_one_order_cache_complete_and_charge_once(
    temporal_env, sqlite_url
) -> None:
    port = free_port()
    async with running_stack(
        temporal_env, sqlite_url, worker_max_cached_workflows=1, worker_metrics_port=port
    ) as stack:
        async with stack.http() as http:
            placed = await asyncio.gather(*(place(http, order_body()) for _ in range(ORDERS)))
            ids = [order["order_id"] for order in placed]
            views = await asyncio.gather(
                *(wait_for_status(http, order_id, "COMPLETED", "FAILED") for order_id in ids)
            )
            journals = [await journal_types(http, order_id) for order_id in ids]
        # Four orders in flight through one cached workflow: each task of one evicted another.
        assert await forced_evictions(port) >= ORDERS - 1
        for order_id, view, journal in zip(ids, views, journals, strict=True):
            assert view["status"] == "COMPLETED", view
            assert journal.count("OrderPlaced") == 1 and journal.count("OrderCompleted") == 1
            ledger = sorted(
                (op.kind, op.amount_minor) for op in await stack.gateway.ledger(order_id)
            )
            total = view["totals"]["total_minor"]
            assert ledger == [("authorize", total), ("capture", total)], order_id
