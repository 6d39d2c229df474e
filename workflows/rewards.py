"""An order's loyalty points: awarded per delivered line, pending until the return window
closes, then granted; returned units take theirs back first. The order keeps them itself
(`workflows.after_delivery`); older orders keep them in `workflows.legacy.rewards`. Every
ledger write is keyed, so a retried activity is a no-op.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.rewards import PointsEntry
    from domain.lines import OrderLine
    from domain.rewards import points_for


class RewardLine(BaseModel):
    """Units of a line that earn (or give back) points."""

    key: str
    line_id: str
    quantity: int
    unit_price_minor: int


def reward_line(line: OrderLine, quantity: int, key: str) -> RewardLine:
    """Units of an order line, priced as sold, under the ledger key that makes them count once."""
    return RewardLine(
        key=key, line_id=line.line_id, quantity=quantity, unit_price_minor=line.unit_price_minor
    )


def points_entry(
    order_id: str, customer_id: str, points_per_unit: int, line: RewardLine
) -> PointsEntry | None:
    """The ledger entry a line's units make, or None when they earn no points."""
    points = points_for(line.unit_price_minor * line.quantity, points_per_unit)
    if points <= 0:
        return None
    return PointsEntry(
        key=line.key,
        customer_id=customer_id,
        order_id=order_id,
        line_id=line.line_id,
        points=points,
    )
