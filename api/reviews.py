"""The review queue: orders waiting for a human, oldest first (from the journal's projection)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.deps import StoreDep, require_role
from store.db import utc
from store.projections import review_queue

router = APIRouter(
    prefix="/reviews", tags=["reviews"], dependencies=[Depends(require_role("operator"))]
)


class ReviewPublic(BaseModel):
    order_id: str
    step: str
    kind: str
    reason: str
    since: datetime
    age_s: float
    escalated: bool


class ReviewsPublic(BaseModel):
    data: list[ReviewPublic]
    count: int


@router.get("", response_model=ReviewsPublic)
async def list_reviews(store: StoreDep) -> ReviewsPublic:
    async with store.read() as session:
        entries = await review_queue(session)
    now = datetime.now(UTC)
    data = []
    for entry in entries:
        since = utc(entry.since)
        data.append(
            ReviewPublic(
                order_id=entry.order_id,
                step=entry.step,
                kind=entry.kind,
                reason=entry.reason,
                since=since,
                age_s=round((now - since).total_seconds(), 3),
                escalated=entry.escalated,
            )
        )
    return ReviewsPublic(data=data, count=len(data))
