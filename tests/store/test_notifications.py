"""The customer notification outbox on both backends: one message per key."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from domain.events import JournalEvent
from domain.notifications import Notification
from store import journal, notifications
from store.db import Store


async def send(store: Store, order_id: str, message: str = "Your order is complete.") -> bool:
    return await notifications.enqueue(store, completed_notice(order_id, message))


def completed_notice(order_id: str, message: str = "Your order is complete.") -> Notification:
    return Notification(
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


async def test_a_journal_batch_queues_its_notices_with_its_events_once(any_store: Store) -> None:
    order_id = f"ord_{uuid.uuid4().hex[:12]}"
    completed = JournalEvent(
        order_id=order_id, seq=1, type="OrderCompleted", at=datetime.now(UTC), data={}
    )
    notice = completed_notice(order_id)
    await journal.append(any_store, [completed], notices=[notice])
    # The batch again, as a local activity retried after its worker died: nothing doubles.
    await journal.append(any_store, [completed], notices=[notice])
    queued = await notifications.for_order(any_store, order_id)
    assert [(n.key, n.kind) for n in queued] == [(f"{order_id}:completed", "order_completed")]
    assert [e.type for e in await journal.read(any_store, order_id)] == ["OrderCompleted"]
