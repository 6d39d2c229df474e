"""`RewardsWorkflow` (`rewards-{order_id}`): an order's points kept in a child that outlives
the order's runs, so the two talk by workflow id (signals). Only orders started before
`order-runs-in-process` (workflows/patches.py) still have one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.rewards import GrantRequest, RewardsActivities
    from domain.orders import Order
    from workflows import activity_options
    from workflows.messages import Unreadable, one_model
    from workflows.rewards import RewardLine, points_entry

REWARDS_PROGRESSED = "rewards_progressed"  # the parent order's signal


def rewards_workflow_id(order_id: str) -> str:
    return f"rewards-{order_id}"


class RewardsInput(BaseModel):
    order_id: str
    order_workflow_id: str
    customer_id: str
    points_per_unit: int
    lines: list[RewardLine]


class RewardsProgress(BaseModel):
    kind: Literal["awarded", "clawed_back", "granted"]
    points: int
    line_id: str | None = None


@workflow.defn
class RewardsWorkflow:
    @workflow.init
    def __init__(self, request: RewardsInput) -> None:
        self._input = request
        self._inbox: list[tuple[str, RewardLine | None]] = [
            ("award", line) for line in request.lines
        ]
        self._pending = 0
        self._granted = 0

    @workflow.signal(dynamic=True)
    def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """`award` and `claw_back` (a line each) and `grant` from the order; anything else,
        or anything that cannot be read, is logged and ignored."""
        try:
            if name in ("award", "claw_back"):
                self._inbox.append((name, one_model(args, RewardLine)))
            elif name == "grant":
                self._inbox.append(("grant", None))
            else:
                raise Unreadable("unknown signal; points take award, claw_back and grant")
        except Unreadable as why:
            workflow.logger.warning("rewards ignored signal %r: %s", name, why)

    @workflow.query
    def points(self, *_: Any) -> dict[str, int]:
        return {"pending": self._pending, "granted": self._granted}

    @workflow.run
    async def run(self, request: RewardsInput) -> dict[str, int]:
        while True:
            await workflow.wait_condition(lambda: bool(self._inbox))
            kind, line = self._inbox.pop(0)
            if line is None:
                break
            await self._apply(kind, line)
        granted = await workflow.execute_activity_method(
            RewardsActivities.grant_points,
            GrantRequest(order_id=request.order_id, customer_id=request.customer_id),
            summary="grant the pending points",
            **activity_options.REWARDS,
        )
        self._granted += granted
        self._pending = 0
        await self._report(RewardsProgress(kind="granted", points=granted))
        return self.points()

    async def _apply(self, kind: str, line: RewardLine) -> None:
        request = self._input
        entry = points_entry(request.order_id, request.customer_id, request.points_per_unit, line)
        if entry is None:
            return
        points = entry.points
        if kind == "award":
            await workflow.execute_activity_method(
                RewardsActivities.award_points,
                entry,
                summary=f"{points} points for {line.line_id}",
                **activity_options.REWARDS,
            )
            self._pending += points
            await self._report(RewardsProgress(kind="awarded", points=points, line_id=line.line_id))
        else:
            await workflow.execute_activity_method(
                RewardsActivities.claw_back_points,
                entry,
                summary=f"take back {points} points for {line.line_id}",
                **activity_options.REWARDS,
            )
            self._pending -= points
            await self._report(
                RewardsProgress(kind="clawed_back", points=points, line_id=line.line_id)
            )

    async def _report(self, progress: RewardsProgress) -> None:
        await workflow.get_external_workflow_handle(self._input.order_workflow_id).signal(
            REWARDS_PROGRESSED, progress
        )


class ChildPoints:
    """The points keeper of an order started before `order-runs-in-process`: its
    `RewardsWorkflow` child, told by signal; `granted` says when the child reported the grant."""

    def __init__(self, order: Order, points_per_unit: int, granted: Callable[[], bool]) -> None:
        self._order = order
        self._per_unit = points_per_unit
        self._granted = granted

    async def start(self, lines: list[RewardLine]) -> None:
        order = self._order
        await workflow.start_child_workflow(
            RewardsWorkflow.run,
            RewardsInput(
                order_id=order.order_id,
                order_workflow_id=workflow.info().workflow_id,
                customer_id=order.customer_id,
                points_per_unit=self._per_unit,
                lines=lines,
            ),
            id=rewards_workflow_id(order.order_id),
            # It lives across the order's continue-as-new runs; they signal it by id.
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"{order.order_id} · loyalty points",
        )

    async def tell(self, kind: Literal["award", "claw_back"], line: RewardLine) -> None:
        handle = workflow.get_external_workflow_handle(rewards_workflow_id(self._order.order_id))
        await handle.signal(kind, line)  # the child's "award" or "claw_back"

    async def grant(self) -> None:
        handle = workflow.get_external_workflow_handle(rewards_workflow_id(self._order.order_id))
        await handle.signal("grant")
        await workflow.wait_condition(self._granted)
