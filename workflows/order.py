"""The order workflow: an interpreter with a cursor over the order's flow definition.

One workflow per order (`order-{order_id}`) for its whole life; the flow snapshot travels in
the input, so a running order never changes when its type's definition does. Every message
it takes is declared on the class; `workflows.inbox` reads them, and interventions apply
at the flow's waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from domain import order_state
    from domain.events import SYSTEM, EventType
    from domain.flows import FlowStep
    from domain.order_state import OrderInput
    from domain.orders import Order
    from domain.statuses import CancelReason
    from domain.view import OrderView
    from workflows import blocks, effects, moves, patches, refunds
    from workflows.after_delivery import OrderAfterDelivery
    from workflows.calls import ActivityLane, step_options
    from workflows.inbox import OrderInbox, intervention_update
    from workflows.journal import OrderJournal, order_summary, order_workflow_id  # noqa: F401
    from workflows.legacy.rewards import RewardsProgress
    from workflows.outcomes import FlowRedirect
    from workflows.rewards import RewardLine
    from workflows.rules.conditions import order_facts
    from workflows.rules.state import FlowState
    from workflows.steps import attempt
    from workflows.tracking import OrderShipments


async def _nothing_between_steps() -> None:
    return None


@workflow.defn
class OrderWorkflow:
    # Every message the order takes. Interventions: an update each (validated before history)
    # and a signal of the same name with the same body, read by the dynamic handler below.
    cancel = intervention_update("cancel")
    hold = intervention_update("hold")
    release = intervention_update("release")
    backtrack_update = intervention_update("backtrack")
    skip = intervention_update("skip")
    review = intervention_update("review")
    correct_address = intervention_update("correct_address")
    pickup = intervention_update("pickup")
    request_return = intervention_update("request_return")
    appease = intervention_update("appease")

    @workflow.signal(dynamic=True)
    async def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Every signal by name, whatever it carries (docs/decisions/0001)."""
        await self.inbox.signal(name, args)

    @workflow.query
    def view(self, *_: Any) -> OrderView:
        """The order as it stands; any arguments sent are ignored."""
        return self.order.view()

    @workflow.init
    def __init__(self, order: OrderInput) -> None:
        self.order_input = order.model_copy(update={"carried": None})
        self.state = order_state.start(order)
        self.payment_token = order.payment_token
        self.terms = order.concessions
        self.flow = order.flow
        self.review_sla = timedelta(seconds=order.review_sla_s)
        self.pickup_window = timedelta(seconds=order.pickup_window_s)
        self.shipments = OrderShipments(self)
        self.lane = ActivityLane()
        self.return_tasks: dict[str, asyncio.Task[None]] = {}
        self.branches = blocks.Branches()
        self.journal = OrderJournal(self.state, self.lane.lock)
        self.after_delivery = OrderAfterDelivery(self)
        self.inbox = OrderInbox(self)

    @property
    def order(self) -> Order:
        return self.state.order

    # -- the interpreter ----------------------------------------------------------------------

    @workflow.run
    async def run(self, order: OrderInput) -> OrderView:
        # The path the order runs on, chosen once by the patch it took (docs/decisions/0007).
        in_process = workflow.patched(patches.IN_PROCESS.id)
        self.lane.local = in_process
        self.shipments.carry_in_order(in_process)
        self.journal.in_process = in_process
        # In-process orders apply interventions only at the flow's waits, never between two
        # steps: a task run again after its worker died takes the same local activities.
        self._between_steps = _nothing_between_steps if in_process else self.inbox.drain
        # Points already kept by an earlier run stay where they are.
        state = self.state
        self.after_delivery.keep_points(
            state.rewards_in_order if state.rewards_started else in_process
        )
        self.start_journal()
        self.journal.publish(force=True)
        if order.carried is None:
            self.record(
                EventType.ORDER_PLACED,
                customer_id=self.order.customer_id,
                order_type=self.order.order_type,
                flow=self.flow.model_dump(mode="json"),
                lines=[
                    line.model_dump(mode="json", exclude={"buckets"}) for line in self.order.lines
                ],
                total_minor=self.order.total_minor,
                currency=self.order.currency,
            )
            await self._interpret()
        else:
            self.record(EventType.ORDER_CONTINUED, previous_run=workflow.info().continued_run_id)
            await self.after_delivery.return_window()
            await moves.finish_completed(self)
        self.order.current_step = None
        self.journal.publish()
        # Shipments cancelled on the way out finish first; refused late commands are answered.
        await workflow.wait_condition(self.shipments.shipments_settled)
        await self.inbox.drain()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.flush_journal()
        return self.order.view()

    async def _interpret(self) -> None:
        steps = self.flow.steps
        while self.order.outcome is None:
            try:
                await self._between_steps()
                if self.order.holds:
                    self.journal.set_details(
                        "on hold: " + ", ".join(h.reason.value for h in self.order.holds)
                    )
                    await self.wait(lambda: not self.order.holds)
                    continue
                if self.state.cursor >= len(steps):
                    await moves.complete(self)
                    return
                step = steps[self.state.cursor]
                if step.step_id in self.state.skips or (
                    step.when is not None and not step.when.holds(order_facts(self.order))
                ):
                    why = (
                        "skipped by request"
                        if step.step_id in self.state.skips
                        else "condition not met"
                    )
                    self.record(EventType.STEP_SKIPPED, step=step.step_id, reason=why)
                    self.order.mark(step.step_id, "skipped")
                    self.state.cursor += 1
                    continue
                await self._run_step(step)
            except FlowRedirect:
                continue

    async def _run_step(self, step: FlowStep) -> None:
        if step.kind == "parallel":
            self.state.running_step = step.step_id
            self.order.current_step = step.step_id
            self.journal.set_details(f"{len(step.branches)} branches side by side")
            self.order.mark(step.step_id, "running")
            try:
                await blocks.run_block(self, step, self.branches)
            finally:
                self.state.running_step = None
            if self.order.outcome is None:
                self.order.mark(step.step_id, "done")
            self.state.cursor += 1
            return
        self.state.running_step = step.step_id
        self.order.current_step = step.step_id
        self.order.current_stage = step.spec.stage
        self.journal.set_details(step.spec.description)
        self.order.mark(step.step_id, "running")
        try:
            failure = await attempt(self, step)
        finally:
            self.state.running_step = None
        if failure is not None:
            await moves.settle(self, step, failure)
            return
        self.state.completed.append(step.step_id)
        self.order.mark(step.step_id, "done")
        self.state.cursor += 1

    async def finish_cancelled(
        self, reason: CancelReason, *, actor: str = SYSTEM, note: str | None = None
    ) -> None:
        await moves.finish_cancelled(self, reason, actor=actor, note=note)

    async def decide_review(self, request: Any, *, actor: str) -> None:
        await moves.decide_review(self, request, actor=actor)

    async def backtrack(self, to_step: str, *, actor: str, reason: str) -> None:
        await moves.backtrack(self, to_step, actor=actor, reason=reason)

    # -- what steps, compensations and interventions use ---------------------------------------

    @property
    def current_step_id(self) -> str | None:
        return self.state.current_step_id

    def situation(self) -> FlowState:
        """What the rules decide on: the state, the flow, and whether returns are open."""
        return FlowState(self.state, self.flow, self.window_open())

    async def wait(self, condition: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait for `condition`, applying interventions meanwhile; False on timeout."""
        deadline = workflow.now() + timedelta(seconds=timeout) if timeout is not None else None
        while not condition():
            left = None
            if deadline is not None:
                left = (deadline - workflow.now()).total_seconds()
                if left <= 0:
                    return False
            try:
                with blocks.parked():
                    # Commands apply when no parallel branch is between its safe points.
                    await workflow.wait_condition(
                        lambda: (
                            condition() or (bool(self.inbox.commands) and self.branches.quiet())
                        ),
                        timeout=left,
                    )
            except TimeoutError:
                return False
            await self.inbox.drain()
        return True

    def _commands_due(self) -> bool:
        return bool(self.inbox.commands) and self.branches.quiet()

    def activity_options(self, step: FlowStep, defaults: dict[str, Any]) -> dict[str, Any]:
        return step_options(step, defaults)

    async def void(self, authorization_id: str, *, reason: str | None = None) -> None:
        await refunds.void(self, authorization_id, reason=reason)

    async def call(
        self,
        activity: Callable[..., Any],
        arg: Any,
        *,
        summary: str,
        local: bool = False,
        **options: Any,
    ) -> Any:
        return await self.lane.call(activity, arg, summary=summary, local=local, **options)

    def key(self, step: FlowStep) -> str:
        """The idempotency key of a step's effect: order, step and the step's epoch."""
        return effects.keys.step(
            self.order.order_id, step.step_id, self.state.epochs.get(step.step_id, 1)
        )

    def next_key(self, purpose: str) -> str:
        """A fresh key for a one-off effect (a refund, a cancel's releases)."""
        return effects.keys.counted(self.order.order_id, purpose, self.state.key_for(purpose))

    def rewards_progressed(self, progress: RewardsProgress) -> None:
        self.after_delivery.rewards_progressed(progress)

    async def return_window(self) -> None:
        await self.after_delivery.return_window()

    def window_open(self) -> bool:
        return self.after_delivery.window_open()

    async def tell_rewards(self, kind: Literal["award", "claw_back"], line: RewardLine) -> None:
        await self.after_delivery.tell_rewards(kind, line)

    def commands_pending(self) -> bool:
        return bool(self.inbox.commands)

    def set_details(self, details: str) -> None:
        self.journal.set_details(details)

    def record(
        self, type: str, *, actor: str = SYSTEM, reason: str | None = None, **data: Any
    ) -> None:
        self.journal.record(type, actor=actor, reason=reason, **data)

    def start_journal(self) -> None:
        self.journal.start()

    async def flush_journal(self) -> None:
        await self.journal.flush()
