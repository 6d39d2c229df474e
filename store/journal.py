"""The journal: every order's past-tense events, unique by (order_id, seq).

Appends are idempotent: a retried batch inserts nothing it already wrote. Each event
inserted gets its outbox record in the same transaction (`store.outbox`), for the relay
that publishes the journal (oms/relay.py).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sqlalchemy import Executable, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import JournalEvent
from domain.notifications import Notification
from domain.view import OrderView
from store.db import Store, utc
from store.notifications import enqueue_on
from store.projections import project, project_view
from store.tables import JournalOutbox, OrderEvent


async def append(
    store: Store,
    events: list[JournalEvent],
    view: OrderView | None = None,
    notices: list[Notification] | None = None,
) -> None:
    """Write the events not yet written; `view` is the order after the last of them, and
    `notices` the customer's messages they call for, queued once per key with them."""
    if not events:
        return
    async with store.connection() as connection:
        for notice in notices or ():
            await enqueue_on(connection, store.dialect, notice)
        for order_id in dict.fromkeys(event.order_id for event in events):
            seen = await connection.scalar(
                select(func.max(OrderEvent.seq)).where(OrderEvent.order_id == order_id)
            )
            mine = [e for e in events if e.order_id == order_id]
            fresh = [e for e in mine if e.seq > (seen or 0)]
            snapshot = view if view is not None and view.order_id == order_id else None
            if not fresh:
                # A retried batch: its events are written already. When the workflow task that
                # made it was retried (its worker died after writing), the events were made
                # again at a later time, so the view they carry is the one the order now holds.
                if snapshot is not None:
                    await _resnapshot(connection, snapshot, mine[-1].seq)
                continue
            rows = [
                event.model_dump(mode="python") | {"at": utc(event.at), "snapshot": None}
                for event in fresh
            ]
            # The snapshot belongs to one order's batch: a mixed call (tests) carries none.
            if snapshot is not None:
                rows[-1]["snapshot"] = snapshot.model_dump(mode="json")
            inserted = await connection.execute(_insert_events(store.dialect), rows)
            # Only the rows this call wrote (a concurrent retry may have written the others)
            # get a record, in seq order, so that an order's records follow its journal.
            now = datetime.now(UTC)
            records = [
                {"order_id": order_id, "seq": seq, "created_at": now}
                for seq in sorted(row.seq for row in inserted)
            ]
            if records:
                await connection.execute(_OUTBOX, records)
            await project(connection, fresh, snapshot)


@functools.cache
def _insert_events(dialect: str) -> Executable:
    """The journal's insert, its rows passed as parameters so it is compiled once; it returns
    the rows it wrote (PostgreSQL reports no row count for `ON CONFLICT DO NOTHING`)."""
    statement = Store.insert_for(dialect, OrderEvent.__table__).on_conflict_do_nothing()
    return statement.returning(OrderEvent.seq)


_OUTBOX = insert(JournalOutbox)


async def _resnapshot(connection: AsyncConnection, view: OrderView, seq: int) -> None:
    written = await connection.execute(
        update(OrderEvent)
        .where(OrderEvent.order_id == view.order_id, OrderEvent.seq == seq)
        .where(OrderEvent.snapshot.is_not(None))
        .values(snapshot=view.model_dump(mode="json"))
    )
    if written.rowcount:
        await project_view(connection, view, seq)


async def read(store: Store, order_id: str, after_seq: int = 0) -> list[JournalEvent]:
    async with store.read() as session:
        rows = await session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.seq > after_seq)
            .order_by(OrderEvent.seq)
        )
        return [row.as_event() for row in rows]


async def first(store: Store, order_id: str) -> JournalEvent | None:
    """The order's first event (its `OrderPlaced`), or None before its first batch is written."""
    async with store.read() as session:
        row = await session.scalar(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.seq)
        )
        return None if row is None else row.as_event()
