"""The journal on both backends: ordered reads and idempotent appends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from domain.events import JournalEvent
from store import journal
from store.db import Store

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def event(order_id: str, seq: int, type_: str | None = None, **data: object) -> JournalEvent:
    return JournalEvent(
        order_id=order_id,
        seq=seq,
        type=type_ or f"Event{seq}",
        at=T0 + timedelta(seconds=seq),
        data=data,
    )


async def test_append_then_read_in_seq_order(any_store: Store) -> None:
    order_id = uid("ord")
    written = [
        event(order_id, 3, "PaymentAuthorized", authorization_id="auth_1"),
        JournalEvent(
            order_id=order_id,
            seq=1,
            type="OrderPlaced",
            at=T0,
            actor="api:cus_alice",
            reason="placed via API",
            data={"lines": [{"sku": "MUG-CERAMIC", "quantity": 1}], "total_minor": 1200},
        ),
        event(order_id, 2, "FraudChecked", score=10),
    ]
    await journal.append(any_store, written)

    read = await journal.read(any_store, order_id)
    assert [e.seq for e in read] == [1, 2, 3]
    assert [e.type for e in read] == ["OrderPlaced", "FraudChecked", "PaymentAuthorized"]
    placed = read[0]
    assert (placed.actor, placed.reason) == ("api:cus_alice", "placed via API")
    assert placed.data == {"lines": [{"sku": "MUG-CERAMIC", "quantity": 1}], "total_minor": 1200}
    assert read[2].data == {"authorization_id": "auth_1"}
    assert [e.at for e in read] == [T0, T0 + timedelta(seconds=2), T0 + timedelta(seconds=3)]
    assert all(e.at.utcoffset() == timedelta(0) for e in read)

    first = await journal.first(any_store, order_id)
    assert first == placed
    assert await journal.first(any_store, uid("ord")) is None


async def test_timestamps_keep_their_instant_and_read_back_in_utc(any_store: Store) -> None:
    # SQLite stores no offset: a +02:00 time must not come back two hours off, or naive.
    order_id = uid("ord")
    at = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    await journal.append(any_store, [JournalEvent(order_id=order_id, seq=1, type="T", at=at)])
    [read] = await journal.read(any_store, order_id)
    assert read.at == at
    assert read.at.utcoffset() == timedelta(0)
    assert read.model_dump(mode="json")["at"] == "2026-06-01T10:00:00Z"


async def test_read_after_seq_returns_only_later_events(any_store: Store) -> None:
    order_id = uid("ord")
    await journal.append(any_store, [event(order_id, seq) for seq in range(1, 6)])
    assert [e.seq for e in await journal.read(any_store, order_id, after_seq=3)] == [4, 5]
    assert await journal.read(any_store, order_id, after_seq=5) == []


async def test_a_retried_batch_inserts_nothing_twice(any_store: Store) -> None:
    order_id = uid("ord")
    batch = [event(order_id, seq) for seq in (1, 2, 3)]
    await journal.append(any_store, batch)
    await journal.append(any_store, batch)
    assert [e.seq for e in await journal.read(any_store, order_id)] == [1, 2, 3]


async def test_an_overlapping_batch_adds_only_the_new_events(any_store: Store) -> None:
    order_id = uid("ord")
    await journal.append(any_store, [event(order_id, seq, f"First{seq}") for seq in (1, 2, 3)])
    # The overlap carries different content: the first write of a seq stands.
    await journal.append(any_store, [event(order_id, seq, f"Second{seq}") for seq in (2, 3, 4, 5)])
    read = await journal.read(any_store, order_id)
    assert [(e.seq, e.type) for e in read] == [
        (1, "First1"),
        (2, "First2"),
        (3, "First3"),
        (4, "Second4"),
        (5, "Second5"),
    ]


async def test_events_of_other_orders_are_not_returned(any_store: Store) -> None:
    mine, theirs = uid("ord"), uid("ord")
    await journal.append(any_store, [event(mine, 1, "Mine1"), event(theirs, 1, "Theirs1")])
    await journal.append(any_store, [event(theirs, 2, "Theirs2"), event(mine, 2, "Mine2")])
    assert [(e.order_id, e.type) for e in await journal.read(any_store, mine)] == [
        (mine, "Mine1"),
        (mine, "Mine2"),
    ]
    assert [e.type for e in await journal.read(any_store, theirs)] == ["Theirs1", "Theirs2"]
    assert await journal.read(any_store, uid("ord")) == []


async def test_appending_nothing_is_a_no_op(any_store: Store) -> None:
    await journal.append(any_store, [])
