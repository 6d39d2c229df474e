"""The customer notification outbox on both backends: one message per key."""

from __future__ import annotations

import asyncio
import uuid

from store import notifications
from store.db import Store


async def send(store: Store, order_id: str, message: str = "Your order is complete.") -> bool:
    return await notifications.enqueue(
        store,
        key=f"{order_id}:completed",
        order_id=order_id,
        customer_id="cus_alice",
        kind="order_completed",
        message=message,
    )


async def test_a_message_is_queued_once_per_key(any_store: Store) -> None:
    order_id = f"ord_{uuid.uuid4().hex[:12]}"
    assert await send(any_store, order_id) is True
    # A retried activity, even one with other words, finds the first message and stops.
    assert await send(any_store, order_id, "Something else") is False
    queued = await notifications.for_order(any_store, order_id)
    assert [(n.kind, n.message) for n in queued] == [("order_completed", "Your order is complete.")]


async def test_concurrent_sends_of_one_key_queue_one_message(any_store: Store) -> None:
    order_id = f"ord_{uuid.uuid4().hex[:12]}"
    sent = await asyncio.gather(*(send(any_store, order_id) for _ in range(5)))
    assert sorted(sent) == [False, False, False, False, True]
    assert len(await notifications.for_order(any_store, order_id)) == 1
