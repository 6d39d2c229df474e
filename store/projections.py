"""Read models kept from the journal, in the same transaction as the append.

- the review queue, folded from `ReviewRequested`, `ReviewEscalated` and what closes a review;
- the order list and the line buckets, from the order's view carried by each batch.

Each order's rows remember the last `seq` they applied, so a retried or late batch changes
nothing; `rebuild` runs the same code over the whole journal, so rebuilt tables equal live ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Executable, FromClause, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.events import EventType, JournalEvent
from domain.view import OrderView
from store.db import Store, utc
from store.tables import OrderEvent, OrderLineBuckets, OrderListEntry, ReviewQueueEntry

REVIEW_CLOSED = {
    EventType.REVIEW_DECIDED,
    EventType.ORDER_CANCELLED,
    EventType.ORDER_FAILED,
    EventType.ORDER_COMPLETED,
}
PROJECTION_TABLES = (ReviewQueueEntry, OrderListEntry, OrderLineBuckets)


# The journal appends on a bare connection (`Store.connection`); `rebuild` and tests on a
# session. Both execute the same Core statements.
Executor = AsyncConnection | AsyncSession


async def project(
    session: Executor, events: list[JournalEvent], view: OrderView | None = None
) -> None:
    """Apply one order's freshly written events (and the view after them) to the read model."""
    for event in events:
        await _review_queue(session, event)
    if view is not None and events:
        await project_view(session, view, seq=events[-1].seq)


async def _review_queue(session: Executor, event: JournalEvent) -> None:
    if event.type == EventType.REVIEW_REQUESTED:
        await session.execute(
            delete(ReviewQueueEntry).where(ReviewQueueEntry.order_id == event.order_id)
        )
        await session.execute(
            insert(ReviewQueueEntry).values(
                order_id=event.order_id,
                step=event.data.get("step", ""),
                kind=event.data.get("kind", "step_failed"),
                reason=event.reason or "",
                since=utc(event.at),
                escalated=False,
            )
        )
    elif event.type == EventType.REVIEW_ESCALATED:
        await session.execute(
            update(ReviewQueueEntry)
            .where(ReviewQueueEntry.order_id == event.order_id)
            .values(escalated=True)
        )
    elif event.type in REVIEW_CLOSED:
        await session.execute(
            delete(ReviewQueueEntry).where(ReviewQueueEntry.order_id == event.order_id)
        )


async def project_view(session: Executor, view: OrderView, seq: int) -> None:
    """The order list row and line buckets from the order's view as of journal event `seq`."""
    row = {
        "order_id": view.order_id,
        "customer_id": view.customer_id,
        "order_type": view.order_type,
        "flow_version": view.flow.version,
        "status": view.status.value,
        "financial_status": view.financial_status.value,
        "fulfillment_status": view.fulfillment_status.value,
        "current_step": view.current_step,
        "needs_review": view.review is not None,
        "review_escalated": bool(view.review and view.review.escalated),
        "line_count": len(view.lines),
        "item_count": sum(line.active_quantity for line in view.lines),
        "currency": view.totals.currency,
        "total_minor": view.totals.total_minor,
        "captured_minor": view.totals.captured_minor,
        "refunded_minor": view.totals.refunded_minor,
        "placed_at": utc(view.placed_at),
        "updated_at": utc(view.updated_at),
        "seq": seq,
        "view": view.model_dump(mode="json"),
    }
    await _upsert_newer(session, OrderListEntry.__table__, ["order_id"], [row])
    line_rows = [
        {"order_id": view.order_id, "line_id": line.line_id, "sku": line.sku}
        | {"quantity": line.quantity, "seq": seq}
        | line.buckets.model_dump()
        for line in view.lines
    ]
    await _upsert_newer(session, OrderLineBuckets.__table__, ["order_id", "line_id"], line_rows)


async def _upsert_newer(
    session: Executor, table: FromClause, keys: list[str], rows: list[dict]
) -> None:
    """Insert the rows, or overwrite each unless it comes from an earlier journal event. The
    same event again overwrites: a retried workflow task's view is the one the order holds."""
    if not rows:
        return
    dialect = session.get_bind().dialect if isinstance(session, AsyncSession) else session.dialect
    statement = _upsert_statement(dialect.name, cast(Table, table), tuple(keys), tuple(rows[0]))
    await session.execute(statement, rows)


@functools.cache
def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]
) -> Executable:
    """One statement per table, its rows passed as parameters: built and compiled once
    (values written into the statement made SQLAlchemy compile every upsert anew, a fifth of
    the journal's time), and the update takes the proposed row (`excluded`), so the view's
    JSON is bound once, not twice."""
    insert = Store.insert_for(dialect, table)
    return insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: insert.excluded[name] for name in columns if name not in keys},
        where=table.c.seq <= insert.excluded.seq,
    )


async def review_queue(session: AsyncSession) -> list[ReviewQueueEntry]:
    """Orders waiting for a decision, oldest first."""
    rows = await session.scalars(select(ReviewQueueEntry).order_by(ReviewQueueEntry.since))
    return list(rows)


@dataclass(frozen=True)
class Rebuilt:
    orders: int
    events: int
    snapshots: int


async def rebuild(store: Store) -> Rebuilt:
    """Throw the read model away and fold the journal into it again, order by order."""
    orders = events_seen = snapshots = 0
    async with store.transaction() as session:
        for table in PROJECTION_TABLES:
            await session.execute(delete(table))
        order_ids = await session.scalars(select(OrderEvent.order_id).distinct())
        for order_id in list(order_ids):
            orders += 1
            rows = await session.scalars(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.seq)
            )
            batch: list[JournalEvent] = []
            for row in rows:
                events_seen += 1
                batch.append(row.as_event())
                if row.snapshot is not None:
                    # The same batches the worker wrote end where a snapshot was taken.
                    snapshots += 1
                    await project(session, batch, OrderView.model_validate(row.snapshot))
                    batch = []
            await project(session, batch)
    return Rebuilt(orders=orders, events=events_seen, snapshots=snapshots)
