"""SQLite writers run on the event loop (store.sqlite_inline): while another process holds the
write lock they wait without stopping the loop, then write; past the limit they fail."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from domain.events import JournalEvent
from domain.notifications import Notification
from store import db, journal, notifications
from store.db import Store


@pytest.fixture
def other_process(own_store: Store) -> Iterator[sqlite3.Connection]:
    """A connection of its own, as the API's or another worker's would be."""
    connection = sqlite3.connect(own_store.engine.url.database or "", isolation_level=None)
    yield connection
    connection.close()


def events(order_id: str) -> list[JournalEvent]:
    return [
        JournalEvent(order_id=order_id, seq=1, type="OrderPlaced", at=datetime.now(UTC), data={})
    ]


async def test_a_writer_waits_for_another_process_without_stopping_the_loop(
    own_store: Store, other_process: sqlite3.Connection
) -> None:
    other_process.execute("BEGIN IMMEDIATE")  # the other process holds the write lock
    append = asyncio.create_task(journal.append(own_store, events("ord_waits")))
    ticks = 0
    for _ in range(20):
        await asyncio.sleep(0.01)
        ticks += 1
    assert not append.done()
    assert ticks == 20  # the loop kept running while the writer waited
    other_process.execute("COMMIT")
    await asyncio.wait_for(append, timeout=5)
    assert [event.type for event in await journal.read(own_store, "ord_waits")] == ["OrderPlaced"]


async def test_a_writer_gives_up_when_the_lock_is_never_released(
    own_store: Store, other_process: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "LOCK_WAIT_S", 0.2)
    other_process.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="database is locked"):
        await journal.append(own_store, events("ord_gives_up"))
    other_process.execute("ROLLBACK")
    assert await journal.read(own_store, "ord_gives_up") == []
    await journal.append(own_store, events("ord_gives_up"))  # and writes once it is free
    assert len(await journal.read(own_store, "ord_gives_up")) == 1


async def test_an_orm_transaction_waits_the_same_way(
    own_store: Store, other_process: sqlite3.Connection
) -> None:
    other_process.execute("BEGIN IMMEDIATE")
    write = asyncio.create_task(
        notifications.enqueue(
            own_store,
            Notification(key="n-1", order_id="ord_n", customer_id="cus_n", kind="k", message="m"),
        )
    )
    await asyncio.sleep(0.1)
    assert not write.done()
    other_process.execute("COMMIT")
    assert await asyncio.wait_for(write, timeout=5) is True
    assert [n.key for n in await notifications.for_order(own_store, "ord_n")] == ["n-1"]
