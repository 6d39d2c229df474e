"""The order after delivery: the return window, its children, and continue-as-new.

Once its flow has run, an order stays open until its return window closes (a durable timer,
30 days by default), then completes. Meanwhile it takes returns and appeasements as
interventions (`workflows.concessions`), follows each return (a `ReturnWorkflow` child)
through its progress signals, ships exchange replacements (`workflows.exchanges`), and keeps
the customer's loyalty points (in its own workflow, or in the `RewardsWorkflow` child of an
order that started before that). A month of that can make a long history, so the order
continues as new, carrying its state, at a quiet moment once Temporal suggests it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.rewards import GrantRequest, RewardsActivities
    from domain.interventions import AppeasementRequest, ReturnRequest
    from domain.orders import CarriedOrder, Order
    from domain.returns import RETURN_ENDS, ConcessionTerms
    from workflows import activity_options, concessions, exchanges
    from workflows.returns import ReturnProgress
    from workflows.rewards import (
        RewardLine,
        RewardsInput,
        RewardsProgress,
        RewardsWorkflow,
        points_entry,
        reward_line,
        rewards_workflow_id,
    )


if TYPE_CHECKING:
    from workflows.order import OrderWorkflow

# Orders whose window opened before this code closed it when the clock said so, read at every
# check. The clock a workflow reads right after a local activity is not always the one a
# replay of it reads: an activity scheduled while a new worker replays, and run once that
# worker takes a new task, reports a time from before that task (seen in the fault drill),
# and the replay then took a path the order had not. Newer orders close the window when its
# timer fires, an event in the history that every replay sees in the same place.
WINDOW_TIMER = "return-window-closes-on-its-timer"


class AfterDelivery:
    """Mixed into `OrderWorkflow`."""

    if TYPE_CHECKING:
        order: Order
        terms: ConcessionTerms
        _return_inbox: list[ReturnProgress]
        _exchanges_due: list[tuple[str, str, int]]
        _return_tasks: dict[str, asyncio.Task[None]]
        _rewards_started: bool
        _rewards_granted: bool
        _rewards_in_order: bool
        _window_timer: asyncio.Task[None] | None

    @property
    def _order_run(self) -> OrderWorkflow:
        return cast("OrderWorkflow", self)

    # -- reports from the children (by signal, read in `InterventionHandlers.on_signal`) --------

    def return_progressed(self, progress: ReturnProgress) -> None:
        self._return_inbox.append(progress)

    def rewards_progressed(self, progress: RewardsProgress) -> None:
        run = self._order_run
        if progress.kind == "granted":
            self._rewards_granted = True
            run.record("PointsGranted", points=progress.points)
        elif progress.kind == "awarded":
            run.record("PointsAwarded", points=progress.points, line_id=progress.line_id)
        else:
            run.record("PointsClawedBack", points=progress.points, line_id=progress.line_id)

    # -- the window -----------------------------------------------------------------------------

    def window_open(self) -> bool:
        closes = self.order.return_window_closes_at
        if self._window_timer is not None:
            return not self._window_timer.done()
        return closes is not None and workflow.now() < closes

    def _quiet(self) -> bool:
        run = self._order_run
        return (
            not self._return_inbox
            and not self._exchanges_due
            and not run._commands
            and run.shipments_settled()
            and all(ret.status in RETURN_ENDS for ret in self.order.returns)
        )

    def _continue_due(self) -> bool:
        info = workflow.info()
        limit = self.terms.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit
        )

    async def return_window(self) -> None:
        """Keep the order open for returns until its window closes and every return and
        exchange it took has finished; then grant the rewards."""
        run = self._order_run
        order = self.order
        opening = order.return_window_closes_at is None
        if opening:
            window = timedelta(seconds=self.terms.return_window_s)
            order.return_window_closes_at = workflow.now() + window
            run.record("ReturnWindowOpened", closes_at=order.return_window_closes_at.isoformat())
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
                    bool(self._return_inbox or self._exchanges_due)
                    or (not self.window_open() and self._quiet())
                    or (self._continue_due() and self._quiet())
                ),
                timeout=left,
            )
        run.record("ReturnWindowClosed", returns=len(order.returns))
        if self._rewards_started and self._rewards_in_order:
            granted = await run.call(
                RewardsActivities.grant_points,
                GrantRequest(order_id=order.order_id, customer_id=order.customer_id),
                summary="grant the pending points",
                local=True,
                **activity_options.REWARDS,
            )
            self._rewards_granted = True
            run.record("PointsGranted", points=granted)
        elif self._rewards_started:
            await workflow.get_external_workflow_handle(rewards_workflow_id(order.order_id)).signal(
                "grant"
            )
            await workflow.wait_condition(lambda: self._rewards_granted)

    def _start_window_timer(self) -> None:
        """The timer that closes the window, for orders whose window opened under this code.
        A window already past (a run carried over late) still gets a timer, of a millisecond:
        whether a timer is started never depends on the clock."""
        if not workflow.patched(WINDOW_TIMER):
            return
        closes = self.order.return_window_closes_at
        assert closes is not None
        left = max((closes - workflow.now()).total_seconds(), 0.001)
        self._window_timer = asyncio.create_task(
            workflow.sleep(left, summary="the return window closes")
        )

    async def _settle(self) -> None:
        """Apply what the returns reported, then ship the exchanges they made due."""
        run = self._order_run
        while self._return_inbox:
            await concessions.apply_return_progress(run, self._return_inbox.pop(0))
        while self._exchanges_due:
            return_id, line_id, quantity = self._exchanges_due.pop(0)
            await exchanges.ship_exchange(run, return_id, line_id, quantity)

    async def _continue_as_new(self) -> None:
        """Start a fresh run with the order's state, once every handler has finished and the
        journal is written; if something arrived meanwhile, carry on in this run instead."""
        run = self._order_run
        await workflow.wait_condition(workflow.all_handlers_finished)
        await run.flush_journal()
        if not (self._quiet() and workflow.all_handlers_finished()):
            run.start_journal()
            return
        carried = CarriedOrder(
            order=self.order,
            seq=run._seq,
            counters=run._counters,
            epochs=run._epochs,
            completed=run.completed,
            rewards_started=self._rewards_started,
            rewards_in_order=self._rewards_in_order,
        )
        workflow.continue_as_new(run.order_input.model_copy(update={"carried": carried}))

    # -- rewards --------------------------------------------------------------------------------

    async def _start_rewards(self) -> None:
        """Award the delivered lines' points, pending until the window closes."""
        if self.terms.reward_points_per_unit <= 0:
            return
        order = self.order
        lines = [
            reward_line(line, line.buckets.delivered, f"{order.order_id}:{line.line_id}:award")
            for line in order.lines
            if line.buckets.delivered
        ]
        if self._rewards_in_order:
            self._rewards_started = True
            for line in lines:
                await self._keep_points("award", line)
            return
        await workflow.start_child_workflow(
            RewardsWorkflow.run,
            RewardsInput(
                order_id=order.order_id,
                order_workflow_id=workflow.info().workflow_id,
                customer_id=order.customer_id,
                points_per_unit=self.terms.reward_points_per_unit,
                lines=lines,
            ),
            id=rewards_workflow_id(order.order_id),
            # It lives across the order's continue-as-new runs; they signal it by id.
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"{order.order_id} · loyalty points",
        )
        self._rewards_started = True

    async def tell_rewards(self, kind: Literal["award", "claw_back"], line: RewardLine) -> None:
        """Award points for delivered units, or take back those of returned units."""
        if not self._rewards_started:
            return
        if self._rewards_in_order:
            await self._keep_points(kind, line)
            return
        handle = workflow.get_external_workflow_handle(rewards_workflow_id(self.order.order_id))
        await handle.signal(kind, line)  # RewardsWorkflow's "award" or "claw_back"

    async def _keep_points(self, kind: Literal["award", "claw_back"], line: RewardLine) -> None:
        run = self._order_run
        order = self.order
        entry = points_entry(
            order.order_id, order.customer_id, self.terms.reward_points_per_unit, line
        )
        if entry is None:
            return
        awarding = kind == "award"
        await run.call(
            RewardsActivities.award_points if awarding else RewardsActivities.claw_back_points,
            entry,
            summary=f"{'' if awarding else 'take back '}{entry.points} points for {line.line_id}",
            local=True,
            **activity_options.REWARDS,
        )
        run.record(
            "PointsAwarded" if awarding else "PointsClawedBack",
            points=entry.points,
            line_id=line.line_id,
        )

    # -- returns and appeasements, as interventions ---------------------------------------------

    def check_return(self, request: ReturnRequest) -> str | None:
        return concessions.check_return(self._order_run, request)

    async def request_return(self, request: ReturnRequest, actor: str) -> dict[str, Any]:
        return await concessions.request_return(self._order_run, request, actor)

    def check_appeasement(self, request: AppeasementRequest) -> str | None:
        return concessions.check_appeasement(self._order_run, request)

    async def appease(self, request: AppeasementRequest, actor: str) -> dict[str, Any]:
        return await concessions.appease(self._order_run, request, actor)
