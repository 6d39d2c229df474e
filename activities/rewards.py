"""Rewards activities: loyalty points awarded and clawed back per line, granted per order;
every entry is written once per key."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from store import rewards
from store.db import Store


class PointsEntry(BaseModel):
    key: str
    customer_id: str
    order_id: str
    line_id: str | None = None
    points: int  # positive, for an award and a claw-back alike


class GrantRequest(BaseModel):
    order_id: str
    customer_id: str


class RewardsActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn
    async def award_points(self, entry: PointsEntry) -> int:
        """Pending points for a line; returns the points awarded under this key."""
        return await self._add(entry, "awarded")

    @activity.defn
    async def claw_back_points(self, entry: PointsEntry) -> int:
        """Take points back (a returned line); returns the points taken back, positive."""
        return -await self._add(entry, "clawed_back")

    @activity.defn
    async def grant_points(self, request: GrantRequest) -> int:
        """Grant the order's pending points; returns the net points granted (0 on a retry)."""
        return await rewards.grant(self.store, request.order_id)

    async def _add(self, entry: PointsEntry, kind: rewards.EntryKind) -> int:
        try:
            return await rewards.add_entry(self.store, kind=kind, **entry.model_dump())
        except ValueError as error:
            raise ApplicationError(
                str(error), type="InvalidRewardEntry", non_retryable=True
            ) from error
