"""The order after delivery (`OrderAfterDelivery`, composed into the order workflow): the
return window (a durable timer, docs/decisions/0006), the returns and exchanges it follows
(`workflows.concessions`, `workflows.exchanges`), the loyalty points, and continue-as-new
at a quiet moment once Temporal suggests it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.events import EventType
    from domain.orders import Order
    from domain.returns import RETURN_ENDS
    from workflows import concessions, exchanges, patches
    from workflows.legacy.rewards import ChildPoints, RewardsProgress
    from workflows.points import InOrderPoints, PointsKeeper
    from workflows.rewards import RewardLine, reward_line


if TYPE_CHECKING:
    from workflows.run import OrderRun


class OrderAfterDelivery:
    """The order's life after delivery, composed into the order workflow."""

    def __init__(self, run: OrderRun) -> None:
        self._run = run
        self._window_timer: asyncio.Task[None] | None = None

    @property
    def order(self) -> Order:
        return self._run.order

    # -- reports from the children (by signal, read by `OrderInbox`) --------

    def rewards_progressed(self, progress: RewardsProgress) -> None:
        run = self._run
        if progress.kind == "granted":
            run.state.rewards_granted = True
            run.record(EventType.POINTS_GRANTED, points=progress.points)
        elif progress.kind == "awarded":
            run.record(EventType.POINTS_AWARDED, points=progress.points, line_id=progress.line_id)
        else:
            run.record(
                EventType.POINTS_CLAWED_BACK, points=progress.points, line_id=progress.line_id
            )

    # -- the window -----------------------------------------------------------------------------

    def window_open(self) -> bool:
        closes = self.order.return_window_closes_at
        if self._window_timer is not None:
            return not self._window_timer.done()
        return closes is not None and workflow.now() < closes

    def _quiet(self) -> bool:
        run = self._run
        return (
            not self._run.state.return_inbox
            and not self._run.state.exchanges_due
            and not run.commands_pending()
            and run.shipments.shipments_settled()
            and all(ret.status in RETURN_ENDS for ret in self.order.returns)
        )

    def _continue_due(self) -> bool:
        info = workflow.info()
        limit = self._run.terms.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit
        )

    async def return_window(self) -> None:
        """Keep the order open for returns until its window closes and every return and
        exchange it took has finished; then grant the rewards."""
        run = self._run
        order = self.order
        opening = order.return_window_closes_at is None
        if opening:
            window = timedelta(seconds=self._run.terms.return_window_s)
            order.return_window_closes_at = workflow.now() + window
            run.record(
                EventType.RETURN_WINDOW_OPENED, closes_at=order.return_window_closes_at.isoformat()
            )
        self._start_window_timer()  # in a new run of the order: for the rest of its window
        if opening:
            await self._start_rewards()
        while True:
            await self._settle()
            if not self.window_open() and self._quiet():
                break
            if self._continue_due() and self._quiet():
                await self._continue_as_new()
                continue
            closes = order.return_window_closes_at
            assert closes is not None
            # Older orders wait until the clock passes the closing time; newer ones until the
            # window's own timer fires, which `window_open` watches.
            clock_closes = self._window_timer is None and self.window_open()
            left = (closes - workflow.now()).total_seconds() if clock_closes else None
            run.set_details(
                f"return window open until {closes:%Y-%m-%d %H:%M} UTC"
                if self.window_open()
                else "return window closed; finishing open returns"
            )
            await run.wait(
                lambda: (
                    bool(self._run.state.return_inbox or self._run.state.exchanges_due)
                    or (not self.window_open() and self._quiet())
                    or (self._continue_due() and self._quiet())
                ),
                timeout=left,
            )
        run.record(EventType.RETURN_WINDOW_CLOSED, returns=len(order.returns))
        if self._run.state.rewards_started:
            await self.points.grant()

    def _start_window_timer(self) -> None:
        """The timer that closes the window, for orders whose window opened under this code.
        A window already past (a run carried over late) still gets a timer, of a millisecond:
        whether a timer is started never depends on the clock."""
        if not workflow.patched(patches.WINDOW_TIMER.id):
            return
        closes = self.order.return_window_closes_at
        assert closes is not None
        left = max((closes - workflow.now()).total_seconds(), 0.001)
        self._window_timer = asyncio.create_task(
            workflow.sleep(left, summary="the return window closes")
        )

    async def _settle(self) -> None:
        """Apply what the returns reported, then ship the exchanges they made due."""
        run = self._run
        while self._run.state.return_inbox:
            await concessions.apply_return_progress(run, self._run.state.return_inbox.pop(0))
        while self._run.state.exchanges_due:
            return_id, line_id, quantity = self._run.state.exchanges_due.pop(0)
            await exchanges.ship_exchange(run, return_id, line_id, quantity)

    async def _continue_as_new(self) -> None:
        """Start a fresh run with the order's state, once every handler has finished and the
        journal is written; if something arrived meanwhile, carry on in this run instead."""
        run = self._run
        await workflow.wait_condition(workflow.all_handlers_finished)
        await run.flush_journal()
        if not (self._quiet() and workflow.all_handlers_finished()):
            run.start_journal()
            return
        workflow.continue_as_new(run.order_input.model_copy(update={"carried": run.state}))

    # -- rewards --------------------------------------------------------------------------------

    def keep_points(self, in_order: bool) -> None:
        """Pick the order's points keeper, once, when its run starts: the order itself, or
        (orders started before `order-runs-in-process`) its RewardsWorkflow child."""
        self._run.state.rewards_in_order = in_order
        per_unit = self._run.terms.reward_points_per_unit
        self.points: PointsKeeper = (
            InOrderPoints(self._run, per_unit)
            if in_order
            else ChildPoints(self._run.order, per_unit, lambda: self._run.state.rewards_granted)
        )

    async def _start_rewards(self) -> None:
        """Award the delivered lines' points, pending until the window closes."""
        if self._run.terms.reward_points_per_unit <= 0:
            return
        order = self.order
        lines = [
            reward_line(line, line.buckets.delivered, f"{order.order_id}:{line.line_id}:award")
            for line in order.lines
            if line.buckets.delivered
        ]
        self._run.state.rewards_started = True
        await self.points.start(lines)

    async def tell_rewards(self, kind: Literal["award", "claw_back"], line: RewardLine) -> None:
        """Award points for delivered units, or take back those of returned units."""
        if self._run.state.rewards_started:
            await self.points.tell(kind, line)
