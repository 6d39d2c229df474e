"""Read models kept from the journal, in the same transaction as the append.

Only events newer than what the projection has seen are applied, so a retried batch
changes nothing; the projections can be rebuilt from the journal alone.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events import JournalEvent
from store.tables import ReviewQueueEntry

REVIEW_CLOSED = {"ReviewDecided", "OrderCancelled", "OrderFailed", "OrderCompleted"}


async def project(session: AsyncSession, events: list[JournalEvent]) -> None:
    for event in events:
        if event.type == "ReviewRequested":
            await session.execute(
                delete(ReviewQueueEntry).where(ReviewQueueEntry.order_id == event.order_id)
            )
            session.add(
                ReviewQueueEntry(
                    order_id=event.order_id,
                    step=event.data.get("step", ""),
                    kind=event.data.get("kind", "step_failed"),
                    reason=event.reason or "",
                    since=event.at.astimezone(UTC),
                    escalated=False,
                )
            )
            await session.flush()
        elif event.type == "ReviewEscalated":
            await session.execute(
                update(ReviewQueueEntry)
                .where(ReviewQueueEntry.order_id == event.order_id)
                .values(escalated=True)
            )
        elif event.type in REVIEW_CLOSED:
            await session.execute(
                delete(ReviewQueueEntry).where(ReviewQueueEntry.order_id == event.order_id)
            )


async def review_queue(session: AsyncSession) -> list[ReviewQueueEntry]:
    """Orders waiting for a decision, oldest first."""
    rows = await session.scalars(select(ReviewQueueEntry).order_by(ReviewQueueEntry.since))
    return list(rows)
