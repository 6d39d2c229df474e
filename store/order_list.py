"""Reading the order list projection: filtered pages, newest first, and the counts behind /stats.

Pages are keyset pages over (placed_at, order_id): an order placed while someone pages is
newer than every page they have not read yet, so it can never push a row onto a second page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from domain.view import OrderView
from store.db import Store, utc
from store.tables import OrderListEntry, ReviewQueueEntry


@dataclass(frozen=True)
class OrderFilter:
    statuses: Sequence[str] = ()
    customer_id: str | None = None
    order_type: str | None = None
    placed_from: datetime | None = None  # inclusive
    placed_to: datetime | None = None  # exclusive
    needs_review: bool | None = None


@dataclass(frozen=True)
class Position:
    """Where a page ended: the next page starts after this row."""

    placed_at: datetime
    order_id: str


async def page(
    store: Store, where: OrderFilter, limit: int, after: Position | None = None
) -> tuple[list[OrderListEntry], Position | None]:
    """Up to `limit` orders, newest first, and the position to continue from (None at the end)."""
    query = select(OrderListEntry)
    if where.statuses:
        query = query.where(OrderListEntry.status.in_(list(where.statuses)))
    if where.customer_id is not None:
        query = query.where(OrderListEntry.customer_id == where.customer_id)
    if where.order_type is not None:
        query = query.where(OrderListEntry.order_type == where.order_type)
    if where.placed_from is not None:
        query = query.where(OrderListEntry.placed_at >= utc(where.placed_from))
    if where.placed_to is not None:
        query = query.where(OrderListEntry.placed_at < utc(where.placed_to))
    if where.needs_review is not None:
        query = query.where(OrderListEntry.needs_review == where.needs_review)
    if after is not None:
        placed_at = utc(after.placed_at)
        query = query.where(
            or_(
                OrderListEntry.placed_at < placed_at,
                and_(
                    OrderListEntry.placed_at == placed_at, OrderListEntry.order_id < after.order_id
                ),
            )
        )
    query = query.order_by(OrderListEntry.placed_at.desc(), OrderListEntry.order_id.desc())
    async with store.read() as session:
        rows = list(await session.scalars(query.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], Position(placed_at=utc(last.placed_at), order_id=last.order_id)


async def view(store: Store, order_id: str) -> tuple[OrderView, int] | None:
    """The order as the projection last saw it, and the journal seq it reflects."""
    async with store.read() as session:
        entry = await session.get(OrderListEntry, order_id)
    if entry is None:
        return None
    return OrderView.model_validate(entry.view), entry.seq


@dataclass(frozen=True)
class ReviewBacklog:
    depth: int
    escalated: int
    oldest_since: datetime | None


async def counts_by_status(store: Store) -> dict[str, int]:
    async with store.read() as session:
        rows = await session.execute(
            select(OrderListEntry.status, func.count().label("orders")).group_by(
                OrderListEntry.status
            )
        )
        return {row.status: row.orders for row in rows}


async def placed_since(store: Store, since: datetime) -> int:
    async with store.read() as session:
        count = await session.scalar(
            select(func.count()).where(OrderListEntry.placed_at >= utc(since))
        )
    return count or 0


async def review_backlog(store: Store) -> ReviewBacklog:
    async with store.read() as session:
        depth, escalated, oldest = (
            await session.execute(
                select(
                    func.count(),
                    func.count().filter(ReviewQueueEntry.escalated.is_(True)),
                    func.min(ReviewQueueEntry.since),
                )
            )
        ).one()
    return ReviewBacklog(
        depth=depth, escalated=escalated, oldest_since=utc(oldest) if oldest else None
    )
