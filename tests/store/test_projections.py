"""The read model on both backends: the order list and line buckets follow the journal,
ignore retried and late batches, and a rebuild from the journal alone gives the same rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select

from api.models import OrderCreate
from api.placement import price_order
from domain.events import JournalEvent
from domain.holds import Review
from domain.order_state import place
from domain.orders import Order
from domain.view import OrderView
from store import journal
from store.db import Store
from store.projections import rebuild
from store.tables import OrderLineBuckets, OrderListEntry, ReviewQueueEntry
from tests.helpers.orders import order_body

T0 = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


async def placed(store: Store, customer: str = "cus_alice", **body: Any) -> Order:
    request = OrderCreate.model_validate(order_body(customer=customer) | body)
    order_input = await price_order(store, f"ord_{uuid.uuid4().hex[:16]}", request)
    return place(order_input.model_copy(update={"placed_at": T0}))


def batch(order: Order, first: int, *types: str, **data: Any) -> list[JournalEvent]:
    return [
        JournalEvent(
            order_id=order.order_id,
            seq=first + n,
            type=type_,
            at=T0 + timedelta(seconds=first + n),
            data=data,
        )
        for n, type_ in enumerate(types)
    ]


async def row(store: Store, order_id: str) -> OrderListEntry | None:
    async with store.read() as session:
        return await session.get(OrderListEntry, order_id)


async def lines(store: Store, order_id: str) -> dict[str, dict[str, int]]:
    async with store.read() as session:
        rows = await session.scalars(
            select(OrderLineBuckets).where(OrderLineBuckets.order_id == order_id)
        )
        return {
            r.line_id: {"reserved": r.reserved, "pending": r.pending, "seq": r.seq} for r in rows
        }


async def test_the_order_list_row_is_the_view_after_the_batch(any_store: Store) -> None:
    order = await placed(any_store)
    await journal.append(
        any_store, batch(order, 1, "OrderPlaced", "FraudChecked"), view=order.view()
    )
    entry = await row(any_store, order.order_id)
    assert entry is not None
    assert (entry.status, entry.financial_status, entry.fulfillment_status) == (
        "RECEIVED",
        "PENDING",
        "UNFULFILLED",
    )
    assert (entry.customer_id, entry.order_type, entry.flow_version) == ("cus_alice", "standard", 2)
    assert (entry.line_count, entry.item_count, entry.total_minor) == (1, 2, 2 * 1900)
    assert entry.seq == 2 and entry.needs_review is False
    assert OrderView.model_validate(entry.view) == order.view()
    assert await lines(any_store, order.order_id) == {
        "ln_1": {"reserved": 0, "pending": 2, "seq": 2}
    }


async def test_a_retried_or_late_batch_changes_nothing(any_store: Store) -> None:
    order = await placed(any_store)
    first = batch(order, 1, "OrderPlaced")
    stale = order.view()
    await journal.append(any_store, first, view=stale)

    order.line("ln_1").move("pending", "reserved", 2)
    order.current_step = "authorize_payment"
    second = batch(order, 2, "StockReserved")
    await journal.append(any_store, second, view=order.view())
    # The first batch again, with the older view: already written, nothing moves back.
    await journal.append(any_store, first, view=stale)
    entry = await row(any_store, order.order_id)
    assert entry is not None and entry.seq == 2 and entry.current_step == "authorize_payment"
    assert await lines(any_store, order.order_id) == {
        "ln_1": {"reserved": 2, "pending": 0, "seq": 2}
    }


async def test_a_retried_workflow_task_leaves_its_view_in_the_journal_and_the_list(
    any_store: Store,
) -> None:
    # The worker wrote the batch and died before Temporal heard; the task ran again later,
    # made the same events at a later time, and wrote the batch again.
    order = await placed(any_store)
    first_try = batch(order, 1, "OrderPlaced", "FraudChecked")
    await journal.append(any_store, first_try, view=order.view())
    order.updated_at = T0 + timedelta(seconds=10)
    retried = [e.model_copy(update={"at": order.updated_at}) for e in first_try]
    await journal.append(any_store, retried, view=order.view())

    entry = await row(any_store, order.order_id)
    assert entry is not None and entry.seq == 2
    assert OrderView.model_validate(entry.view).updated_at == order.updated_at
    # The journal keeps the events as first written, and the view the order now holds.
    written = await journal.read(any_store, order.order_id)
    assert [e.at for e in written] == [e.at for e in first_try]
    live = await table_rows(any_store, {order.order_id})
    await rebuild(any_store)
    assert await table_rows(any_store, {order.order_id}) == live


async def test_projection_keeps_the_newest_view_whatever_order_batches_arrive_in(
    any_store: Store,
) -> None:
    from store.projections import project

    order = await placed(any_store)
    older = order.view()
    order.line("ln_1").move("pending", "reserved", 2)
    newer = order.view()
    async with any_store.transaction() as session:
        await project(session, batch(order, 5, "StockReserved"), newer)
        await project(session, batch(order, 3, "OrderPlaced"), older)
    entry = await row(any_store, order.order_id)
    assert entry is not None and entry.seq == 5
    assert await lines(any_store, order.order_id) == {
        "ln_1": {"reserved": 2, "pending": 0, "seq": 5}
    }
    # Projected without a journal behind it: gone, or the rebuild test would (rightly) drop it.
    async with any_store.transaction() as session:
        for table in (OrderListEntry, OrderLineBuckets):
            await session.execute(delete(table).where(table.order_id == order.order_id))


async def table_rows(
    store: Store, order_ids: set[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The read model's rows, all or those of some orders (the SQLite file is shared with the
    session's stack, whose orders may still be moving while a store test runs)."""
    found: dict[str, list[dict[str, Any]]] = {}
    async with store.read() as session:
        for table, key in (
            (OrderListEntry, (OrderListEntry.order_id,)),
            (OrderLineBuckets, (OrderLineBuckets.order_id, OrderLineBuckets.line_id)),
            (ReviewQueueEntry, (ReviewQueueEntry.order_id,)),
        ):
            query = select(table).order_by(*key)
            if order_ids is not None:
                query = query.where(table.order_id.in_(order_ids))
            rows = await session.scalars(query)
            found[table.__tablename__] = [
                {c.name: getattr(r, c.name) for c in table.__table__.columns} for r in rows
            ]
    return found


async def test_rebuild_from_the_journal_alone_gives_the_live_tables(any_store: Store) -> None:
    # Several orders, several batches each, one left in review and one reviewed and done.
    mine: set[str] = set()
    for n in range(3):
        order = await placed(any_store, customer=f"cus_{n}")
        mine.add(order.order_id)
        await journal.append(any_store, batch(order, 1, "OrderPlaced"), view=order.view())
        order.line("ln_1").move("pending", "reserved", 2)
        order.review = Review(step="check_fraud", reason="score 70", kind="fraud", since=T0)
        await journal.append(
            any_store,
            batch(order, 2, "StockReserved", "ReviewRequested", step="check_fraud", kind="fraud"),
            view=order.view(),
        )
        if n == 0:
            order.review = None
            await journal.append(any_store, batch(order, 4, "ReviewDecided"), view=order.view())
    live = await table_rows(any_store, mine)
    assert len(live["order_list"]) == 3 and live["order_line_buckets"] and live["review_queue"]

    report = await rebuild(any_store)
    assert report.orders >= 3 and report.snapshots >= 7
    assert await table_rows(any_store, mine) == live


async def test_pages_walk_newest_first_with_filters_on_both_backends(any_store: Store) -> None:
    from store.order_list import OrderFilter, page

    customer = f"cus_{uuid.uuid4().hex[:8]}"
    orders = []
    for n in range(5):
        order = await placed(any_store, customer=customer)
        # Two orders share a placement time: the order id breaks the tie.
        order.placed_at = T0 + timedelta(seconds=min(n, 3))
        await journal.append(any_store, batch(order, 1, "OrderPlaced"), view=order.view())
        orders.append(order)
    expected = [
        o.order_id for o in sorted(orders, key=lambda o: (o.placed_at, o.order_id), reverse=True)
    ]
    walked, after = [], None
    while True:
        rows, after = await page(any_store, OrderFilter(customer_id=customer), 2, after)
        walked += [r.order_id for r in rows]
        if after is None:
            break
    assert walked == expected

    # A bound in another zone means the same instant; the upper bound is exclusive.
    plus_two = timezone(timedelta(hours=2))
    window = OrderFilter(
        customer_id=customer,
        placed_from=(T0 + timedelta(seconds=1)).astimezone(plus_two),
        placed_to=T0 + timedelta(seconds=3),
    )
    rows, after = await page(any_store, window, 10)
    assert {r.order_id for r in rows} == {orders[1].order_id, orders[2].order_id}
    assert after is None
    rows, _ = await page(any_store, OrderFilter(customer_id=customer, statuses=["CANCELLED"]), 10)
    assert rows == []
