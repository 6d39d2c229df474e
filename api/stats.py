"""GET /stats: how many orders are where, how fast they come in, how long reviews wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.deps import StoreDep, require_role
from domain.statuses import OrderStatus
from store import order_list

router = APIRouter(tags=["stats"], dependencies=[Depends(require_role("operator"))])


class OrderRate(BaseModel):
    """Orders placed per minute, averaged over the last 5 and 60 minutes."""

    last_5m: float
    last_60m: float


class ReviewQueueStats(BaseModel):
    depth: int
    escalated: int
    oldest_since: datetime | None
    oldest_age_s: float | None


class Stats(BaseModel):
    as_of: datetime
    orders: int
    by_status: dict[OrderStatus, int]
    orders_per_minute: OrderRate
    review_queue: ReviewQueueStats


@router.get("/stats", response_model=Stats)
async def stats(store: StoreDep) -> Stats:
    now = datetime.now(UTC)
    counts = await order_list.counts_by_status(store)
    by_status = {status: counts.get(status.value, 0) for status in OrderStatus}
    last_5m = await order_list.placed_since(store, now - timedelta(minutes=5))
    last_60m = await order_list.placed_since(store, now - timedelta(minutes=60))
    backlog = await order_list.review_backlog(store)
    oldest = backlog.oldest_since
    return Stats(
        as_of=now,
        orders=sum(by_status.values()),
        by_status=by_status,
        orders_per_minute=OrderRate(
            last_5m=round(last_5m / 5, 2), last_60m=round(last_60m / 60, 2)
        ),
        review_queue=ReviewQueueStats(
            depth=backlog.depth,
            escalated=backlog.escalated,
            oldest_since=oldest,
            oldest_age_s=round((now - oldest).total_seconds(), 3) if oldest else None,
        ),
    )
