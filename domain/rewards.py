"""Loyalty points: earned per delivered line, pending until the return window closes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


def points_for(amount_minor: int, points_per_unit: int) -> int:
    """Points for an amount: `points_per_unit` per whole currency unit, rounded down."""
    return amount_minor * points_per_unit // 100


class RewardEntry(BaseModel):
    key: str  # idempotency key: one entry per key, however often it is written
    order_id: str
    line_id: str | None
    kind: Literal["awarded", "clawed_back"]
    points: int  # negative for a claw-back
    status: Literal["pending", "granted"]
    created_at: datetime
    granted_at: datetime | None = None


class CustomerRewards(BaseModel):
    customer_id: str
    granted_points: int
    pending_points: int
    entries: list[RewardEntry]
