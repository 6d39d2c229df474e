"""The order's loyalty points, kept by the order itself: a keyed ledger entry per delivered
line through local activities, pending until the return window closes, then granted.
Orders started before `order-runs-in-process` keep theirs in a child instead
(`workflows.legacy.rewards.ChildPoints`); the order picks one keeper when its run starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.rewards import GrantRequest, RewardsActivities
    from domain.events import EventType
    from domain.orders import Order
    from workflows import activity_options
    from workflows.rewards import RewardLine, points_entry

Kind = Literal["award", "claw_back"]


class PointsKeeper(Protocol):
    async def start(self, lines: list[RewardLine]) -> None: ...

    async def tell(self, kind: Kind, line: RewardLine) -> None: ...

    async def grant(self) -> None: ...


class PointsHost(Protocol):
    @property
    def order(self) -> Order: ...

    async def call(
        self,
        activity: Callable[..., Any],
        arg: Any,
        *,
        summary: str,
        local: bool = ...,
        **options: Any,
    ) -> Any: ...

    def record(
        self, type: str, *, actor: str = ..., reason: str | None = ..., **data: Any
    ) -> None: ...


class InOrderPoints:
    def __init__(self, host: PointsHost, points_per_unit: int) -> None:
        self._host = host
        self._per_unit = points_per_unit

    async def start(self, lines: list[RewardLine]) -> None:
        for line in lines:
            await self.tell("award", line)

    async def tell(self, kind: Kind, line: RewardLine) -> None:
        order = self._host.order
        entry = points_entry(order.order_id, order.customer_id, self._per_unit, line)
        if entry is None:
            return
        awarding = kind == "award"
        await self._host.call(
            RewardsActivities.award_points if awarding else RewardsActivities.claw_back_points,
            entry,
            summary=f"{'' if awarding else 'take back '}{entry.points} points for {line.line_id}",
            local=True,
            **activity_options.REWARDS,
        )
        self._host.record(
            EventType.POINTS_AWARDED if awarding else EventType.POINTS_CLAWED_BACK,
            points=entry.points,
            line_id=line.line_id,
        )

    async def grant(self) -> None:
        order = self._host.order
        granted = await self._host.call(
            RewardsActivities.grant_points,
            GrantRequest(order_id=order.order_id, customer_id=order.customer_id),
            summary="grant the pending points",
            local=True,
            **activity_options.REWARDS,
        )
        self._host.record(EventType.POINTS_GRANTED, points=granted)
