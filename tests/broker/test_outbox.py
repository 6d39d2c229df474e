"""The outbox on both backends: the journal's append writes one record per event it inserts,
in the same transaction, and a retried batch none; the relay's lease is held by one at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, insert, select

from store import journal, outbox
from store.db import Store, utc
from store.migrate import alembic_config, upgrade
from store.tables import JournalOutbox, OrderEvent
from tests.broker.relaying import events, order_ids


async def records(store: Store, order_id: str) -> list[int]:
    """The order's records' seqs, in the records' id order."""
    async with store.read() as session:
        found = await session.scalars(
            select(JournalOutbox.seq)
            .where(JournalOutbox.order_id == order_id)
            .order_by(JournalOutbox.id)
        )
        return list(found)


async def test_each_event_appended_gets_one_record(any_store: Store) -> None:
    [order_id] = order_ids(1)
    await journal.append(any_store, events(order_id, 1, 3))
    assert await records(any_store, order_id) == [1, 2, 3]

    await journal.append(any_store, events(order_id, 1, 3))  # retried
    await journal.append(any_store, events(order_id, 1, 5))  # retried, with two new events
    assert await records(any_store, order_id) == [1, 2, 3, 4, 5]
    assert [e.seq for e in await journal.read(any_store, order_id)] == [1, 2, 3, 4, 5]


async def test_a_mixed_batch_gets_records_per_order_in_seq_order(any_store: Store) -> None:
    first, second = order_ids(2)
    await journal.append(any_store, events(first, 1, 2) + events(second, 1, 3))
    await journal.append(any_store, events(second, 3, 4) + events(first, 2, 3))
    assert await records(any_store, first) == [1, 2, 3]
    assert await records(any_store, second) == [1, 2, 3, 4]


async def test_events_another_transaction_wrote_meanwhile_get_no_record_here(
    any_store: Store,
) -> None:
    # A retried journal activity whose first attempt is still writing: this append finds
    # nothing written yet (PostgreSQL) or waits for the write lock (SQLite); either way the
    # rows the other transaction wrote are not this append's, and get no record from it.
    [order_id] = order_ids(1)
    rows = [e.model_dump() | {"at": utc(e.at), "snapshot": None} for e in events(order_id, 1, 3)]
    async with any_store.engine.connect() as other:
        await other.execute(insert(OrderEvent), rows)
        appending = asyncio.create_task(journal.append(any_store, events(order_id, 1, 5)))
        await asyncio.sleep(0.3)
        await other.commit()
    await appending
    assert await records(any_store, order_id) == [4, 5]
    assert [e.seq for e in await journal.read(any_store, order_id)] == [1, 2, 3, 4, 5]


async def test_the_relay_reads_records_with_their_events(own_store: Store) -> None:
    first, second = order_ids(2)
    await journal.append(own_store, events(first, 1, 2))
    await journal.append(own_store, events(second, 1, 1))
    await journal.append(own_store, events(first, 3, 3))
    due = await outbox.due(own_store, limit=10)
    assert [(d.event.order_id, d.event.seq) for d in due] == [
        (first, 1),
        (first, 2),
        (second, 1),
        (first, 3),
    ]
    assert [d.event for d in due if d.event.order_id == first] == await journal.read(
        own_store, first
    )
    assert (await outbox.backlog(own_store)).due == 4

    await outbox.done(own_store, [d.id for d in due[:3]])
    assert [(d.event.order_id, d.event.seq) for d in await outbox.due(own_store, 10)] == [
        (first, 3)
    ]


async def test_one_relay_holds_the_lease_until_it_lapses_or_is_let_go(any_store: Store) -> None:
    await outbox.release_lease(any_store, "a")  # whoever held it before on this store
    await outbox.release_lease(any_store, "b")
    assert await outbox.take_lease(any_store, "a", seconds=30)
    assert not await outbox.take_lease(any_store, "b", seconds=30)
    assert await outbox.take_lease(any_store, "a", seconds=0.3)  # renewed
    assert await outbox.lease_holder(any_store) == "a"
    await asyncio.sleep(0.4)
    assert await outbox.take_lease(any_store, "b", seconds=30)  # lapsed
    assert not await outbox.take_lease(any_store, "a", seconds=30)
    await outbox.release_lease(any_store, "a")  # not its to let go
    assert not await outbox.take_lease(any_store, "a", seconds=30)
    await outbox.release_lease(any_store, "b")
    assert await outbox.lease_holder(any_store) is None
    assert await outbox.take_lease(any_store, "a", seconds=30)
    await outbox.release_lease(any_store, "a")


async def test_events_journaled_before_the_outbox_existed_get_their_records(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0008")
    first, second = order_ids(2)
    engine = create_engine(url)
    with engine.begin() as connection:
        for order_id in (second, first):
            connection.execute(
                insert(OrderEvent),
                [
                    e.model_dump() | {"at": utc(e.at), "snapshot": None}
                    for e in events(order_id, 1, 3)
                ],
            )
    engine.dispose()
    await asyncio.to_thread(upgrade, url)
    store = Store(url)
    try:
        due = await outbox.due(store, limit=10)
        for order_id in (first, second):
            assert [d.event for d in due if d.event.order_id == order_id] == await journal.read(
                store, order_id
            )
        assert len(due) == 6
        assert (await outbox.backlog(store)).oldest is not None
    finally:
        await store.close()
