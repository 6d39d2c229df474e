"""The order workflow: an interpreter with a cursor over the order's flow definition.

One workflow per order (`order-{order_id}`) for its whole life; the flow snapshot travels in
the input, so a running order never changes when its type's definition does. Every message
it takes is declared in `workflows.handlers`; interventions apply at the flow's waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
)
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Notification, NotificationActivities
    from domain.events import SYSTEM, EventType
    from domain.flows import FlowStep
    from domain.holds import Review
    from domain.interventions import ReviewDecision
    from domain.orders import CarriedOrder, Order, OrderInput
    from domain.statuses import CancelReason, OrderStatus
    from domain.view import OrderView
    from workflows import activity_options, compensation, effects, patches
    from workflows.after_delivery import OrderAfterDelivery
    from workflows.journal import OrderJournal, order_summary, order_workflow_id  # noqa: F401
    from workflows.legacy.rewards import RewardsProgress
    from workflows.outcomes import FlowRedirect
    from workflows.rewards import RewardLine
    from workflows.rules import interventions as rules
    from workflows.steps import STEPS, ApprovalRequired, StepFailed, error_message
    from workflows.tracking import OrderShipments

# Sandboxed with this module (not passed through): they are parts of the workflow class.
from workflows.handlers import Command, InterventionHandlers  # noqa: E402
from workflows.returns import ReturnProgress  # noqa: E402


@workflow.defn
class OrderWorkflow(InterventionHandlers):
    @workflow.init
    def __init__(self, order: OrderInput) -> None:
        self.order_input = order.model_copy(update={"carried": None})
        self.order = Order.place(order)
        self.payment_token = order.payment_token
        self.terms = order.concessions
        self.flow = order.flow
        self.cursor = 0
        self.completed: list[str] = []  # step ids, in the order they completed
        self.skips: set[str] = set()
        self.running_step: str | None = None
        self._review_sla = timedelta(seconds=order.review_sla_s)
        self.pickup_window = timedelta(seconds=order.pickup_window_s)
        self._epochs: dict[str, int] = {}
        self.counters: dict[str, int] = {}
        self._commands: list[Command] = []
        self.shipments = OrderShipments(self)
        # One local activity at a time per order; see `_in_local_lane`.
        self._local_lane = asyncio.Lock()
        self.return_inbox: list[ReturnProgress] = []
        self.exchanges_due: list[tuple[str, str, int]] = []
        self.return_tasks: dict[str, asyncio.Task[None]] = {}
        self._local_activities = False
        if order.carried is not None:
            # A new run of a long-lived order: pick up where the last one stopped.
            carried = order.carried
            self.order = carried.order
            self.counters = dict(carried.counters)
            self._epochs = dict(carried.epochs)
            self.completed = list(carried.completed)
            self.cursor = len(self.flow.steps)
        seq = order.carried.seq if order.carried is not None else 0
        self.journal = OrderJournal(self.order, self._local_lane, seq)
        self.after_delivery = OrderAfterDelivery(self, order.carried)

    # -- the interpreter ----------------------------------------------------------------------

    @workflow.run
    async def run(self, order: OrderInput) -> OrderView:
        in_process = workflow.patched(patches.IN_PROCESS.id)
        self._local_activities = self.shipments.in_order = in_process
        self.after_delivery.rewards_in_order = in_process
        self.journal.in_process = in_process
        if order.carried is not None and order.carried.rewards_started:
            # Points already kept by an earlier run stay where they are.
            self.after_delivery.rewards_in_order = order.carried.rewards_in_order
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
            await self._finish_completed()
        self.order.current_step = None
        self.journal.publish()
        # Shipments cancelled on the way out finish first; refused late commands are answered.
        await workflow.wait_condition(self.shipments.shipments_settled)
        await self.drain()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.flush_journal()
        return self.order.view()

    async def _interpret(self) -> None:
        steps = self.flow.steps
        while self.order.outcome is None:
            try:
                # In-process orders apply interventions at the flow's waits (`wait`), never
                # between two steps: a workflow task that runs again after its worker died
                # then takes the same steps its local activities took the first time.
                if not self._local_activities:
                    await self.drain()
                if self.order.holds:
                    self.journal.set_details(
                        "on hold: " + ", ".join(h.reason.value for h in self.order.holds)
                    )
                    await self.wait(lambda: not self.order.holds)
                    continue
                if self.cursor >= len(steps):
                    await self._complete()
                    return
                step = steps[self.cursor]
                if step.step_id in self.skips or (
                    step.when is not None and not step.when.holds(self._facts())
                ):
                    why = (
                        "skipped by request" if step.step_id in self.skips else "condition not met"
                    )
                    self.record(EventType.STEP_SKIPPED, step=step.step_id, reason=why)
                    self.cursor += 1
                    continue
                await self._run_step(step)
            except FlowRedirect:
                continue

    async def _run_step(self, step: FlowStep) -> None:
        self.running_step = step.step_id
        self.order.current_step = step.step_id
        self.order.current_stage = step.spec.stage
        self.journal.set_details(step.spec.description)
        try:
            await STEPS[step.step](self, step)
        except StepFailed as failure:
            self.running_step = None
            await self._on_failure(step, failure)
            return
        except (ActivityError, ChildWorkflowError) as error:
            # Retries exhausted, or an error nobody classified: a human decides.
            self.running_step = None
            await self._review(step, StepFailed(f"{step.step_id}: {error_message(error)}"))
            return
        finally:
            self.running_step = None
        self.completed.append(step.step_id)
        self.cursor += 1

    async def _on_failure(self, step: FlowStep, failure: StepFailed) -> None:
        if not isinstance(failure, ApprovalRequired):
            self.record(
                EventType.STEP_FAILED, step=step.step_id, reason=str(failure), kind=failure.kind
            )
        policy = "review" if failure.needs_review else step.on_failure
        if failure.final and policy == "review":
            policy = "compensate"
        if policy == "review":
            await self._review(step, failure)
        elif policy == "compensate":
            await self.finish_cancelled(
                failure.cancel_reason or CancelReason.OTHER, note=str(failure)
            )
        else:
            await compensation.undo(self, list(reversed(self.completed)))
            self.completed.clear()
            self.order.failure = str(failure)
            self.order.outcome = OrderStatus.FAILED
            self.record(EventType.ORDER_FAILED, step=step.step_id, reason=str(failure))

    async def _complete(self) -> None:
        payment = self.order.payment
        if (
            payment.authorization_id
            and not payment.voided
            and (payment.captured_minor < payment.authorized_minor)
        ):
            # Cancelled lines left part of the authorization unused: give it back.
            await compensation.execute(
                self,
                compensation.CompensationAction(
                    step="fulfill_shipments",
                    action="void_authorization",
                    target=payment.authorization_id,
                    description="release the unused authorization",
                ),
            )
        if workflow.patched(patches.RETURN_WINDOW.id):
            self.order.current_step = None
            await self.after_delivery.return_window()
        await self._finish_completed()

    async def _finish_completed(self) -> None:
        payment = self.order.payment
        # Added after orders were already running: orders that started before this code
        # replay without the notification (docs/versioning.md).
        if workflow.patched(patches.NOTIFY_ON_COMPLETION.id):
            await self.call(
                NotificationActivities.notify_customer,
                Notification(
                    key=f"{self.order.order_id}:completed",
                    order_id=self.order.order_id,
                    customer_id=self.order.customer_id,
                    kind="order_completed",
                    message=f"Your order {self.order.order_id} is complete. Thank you!",
                ),
                summary="tell the customer the order is complete",
                local=True,
                **activity_options.NOTIFICATIONS,
            )
        self.order.current_step = None
        self.order.outcome = OrderStatus.COMPLETED
        self.record(
            EventType.ORDER_COMPLETED,
            captured_minor=payment.captured_minor,
            refunded_minor=payment.refunded_minor,
        )

    async def finish_cancelled(
        self, reason: CancelReason, *, actor: str = SYSTEM, note: str | None = None
    ) -> None:
        """Undo what the order did, cancel what is left of it, and end the flow."""
        undo = list(reversed(self.completed))
        if self.current_step_id is not None and self.current_step_id not in undo:
            undo.insert(0, self.current_step_id)
        await compensation.undo(self, undo)
        self.completed.clear()
        for line in self.order.lines:
            line.move("pending", "cancelled", line.buckets.pending)
        self.order.cancel_reason = reason
        self.order.cancel_note = note  # state only, no command: replays unchanged
        self.order.review = None
        self.order.outcome = OrderStatus.CANCELLED
        self.record(EventType.ORDER_CANCELLED, actor=actor, reason=note, cancel_reason=reason.value)
        raise FlowRedirect()

    # -- review -------------------------------------------------------------------------------

    async def _review(self, step: FlowStep, failure: StepFailed) -> None:
        """Wait for a human: escalate after the SLA, cancel after a second one."""
        self.order.review = Review(
            step=step.step_id,
            reason=str(failure),
            kind=failure.kind,  # type: ignore[arg-type]
            since=workflow.now(),
            cancel_reason=failure.cancel_reason,
        )
        self.record(
            EventType.REVIEW_REQUESTED, reason=str(failure), step=step.step_id, kind=failure.kind
        )
        self.journal.details = f"needs review: {failure}"
        while self.order.review is not None:
            review = self.order.review
            deadline = review.since + self._review_sla * (2 if review.escalated else 1)
            remaining = max((deadline - workflow.now()).total_seconds(), 0.001)
            if await self.wait(lambda: self.order.review is None, timeout=remaining):
                break
            if not review.escalated:
                review.escalated = True
                self.record(
                    EventType.REVIEW_ESCALATED,
                    reason=f"no decision within {self._review_sla}",
                    step=review.step,
                )
            else:
                await self.finish_cancelled(
                    review.cancel_reason or CancelReason.OTHER,
                    note=f"no review decision within {self._review_sla * 2}; cancelled",
                )

    async def decide_review(self, request: Any, *, actor: str) -> None:
        review = self.order.review
        assert review is not None
        self.order.review = None
        self.record(
            EventType.REVIEW_DECIDED,
            actor=actor,
            reason=request.note,
            decision=request.decision.value,
            step=review.step,
        )
        index = self.flow.index_of(review.step)
        if request.decision == ReviewDecision.APPROVE:
            self.completed.append(review.step)
            self.cursor = index + 1
        elif request.decision == ReviewDecision.RETRY:
            self._epochs[review.step] = self._epochs.get(review.step, 1) + 1
            self.cursor = index
        elif request.decision == ReviewDecision.SKIP:
            self.record(EventType.STEP_SKIPPED, actor=actor, step=review.step, reason=request.note)
            self.cursor = index + 1
        else:
            await self.finish_cancelled(
                request.reason or review.cancel_reason or CancelReason.OTHER,
                actor=actor,
                note=request.note,
            )

    # -- backtrack ----------------------------------------------------------------------------

    async def backtrack(self, to_step: str, *, actor: str, reason: str) -> None:
        plan = rules.backtrack_plan(self, to_step)
        for action in plan.actions:
            await compensation.execute(self, action)
        for step_id in plan.rerun_steps:
            self._epochs[step_id] = self._epochs.get(step_id, 1) + 1
        target = self.flow.index_of(to_step)
        self.completed = [s for s in self.completed if self.flow.index_of(s) < target]
        self.cursor = target
        self.order.review = None
        self.record(
            EventType.BACKTRACKED_TO,
            actor=actor,
            reason=reason,
            step=to_step,
            plan=plan.model_dump(mode="json"),
        )
        raise FlowRedirect()

    # -- what steps, compensations and interventions use ---------------------------------------

    @property
    def current_step_id(self) -> str | None:
        """The step under way, or the failed step an order in review waits on."""
        if self.running_step is not None:
            return self.running_step
        return self.order.review.step if self.order.review is not None else None

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
                await workflow.wait_condition(
                    lambda: condition() or bool(self._commands), timeout=left
                )
            except TimeoutError:
                return False
            await self.drain()
        return True

    def activity_options(self, step: FlowStep, defaults: dict[str, Any]) -> dict[str, Any]:
        """The activity options of a step: its kind's defaults, or the flow's retry settings."""
        if step.retry is None:
            return defaults
        return defaults | {
            "retry_policy": RetryPolicy(
                initial_interval=timedelta(seconds=step.retry.initial_interval_s),
                maximum_interval=timedelta(seconds=step.retry.maximum_interval_s),
                maximum_attempts=step.retry.max_attempts,
            )
        }

    async def void(self, authorization_id: str, *, reason: str | None = None) -> None:
        """Void an authorization: the order's own when it is undone, or a renewed one."""
        voided = await effects.void(
            self.call, order_id=self.order.order_id, authorization_id=authorization_id
        )
        self.record(
            EventType.PAYMENT_VOIDED,
            reason=reason,
            authorization_id=authorization_id,
            released_minor=voided.amount_minor,
        )

    async def call(
        self,
        activity: Callable[..., Any],
        arg: Any,
        *,
        summary: str,
        local: bool = False,
        **options: Any,
    ) -> Any:
        """Call one of the order's activities; `local=True` runs it as a local activity.

        A local activity runs in this worker and its result is recorded as a marker in the
        same workflow task: no task-queue round trip, no activity events. It runs before
        its workflow task is recorded, though: if the worker dies, the task runs again, and
        it must take the same path or the effect is orphaned. So only the flow's own steps
        are local (the order's path through them does not depend on messages: interventions
        wait for the next safe point, see `_interpret`), and what depends on the order of
        messages (an intervention's releases, refunds, voids and carrier cancellations) stays
        a regular activity, recorded before it runs. Every call is idempotent by key either
        way. Orders that started before this replay with regular activities throughout.
        """
        if not (self._local_activities and local):
            return await workflow.execute_activity_method(activity, arg, summary=summary, **options)
        try:
            return await self._in_local_lane(activity, arg, summary=summary, **options)
        except (ApplicationError, ActivityTimeout) as failure:
            # A local activity's failure arrives bare; the steps read every activity's
            # failure the same way, as an ActivityError caused by it.
            raise ActivityError(
                str(failure),
                scheduled_event_id=0,
                started_event_id=0,
                identity="",
                activity_type=getattr(activity, "__name__", str(activity)),
                activity_id="",
                retry_state=None,
            ) from failure

    async def _in_local_lane(self, activity: Callable[..., Any], arg: Any, **options: Any) -> Any:
        """Run a local activity once no other of the order's local activities is in flight.

        With several in flight (two shipments booking, the journal writer beside a step)
        their markers follow the order they happened to finish in, and a worker that picks
        the order up after another died must replay exactly that. Under the fault drill and
        the worker-kill test that went wrong in three runs out of about twenty (a
        nondeterminism error on a local activity, a task failing on a result it could not
        decode). One at a time, the markers follow the code's own order, and neither has
        come back.
        """
        async with self._local_lane:
            return await workflow.execute_local_activity_method(activity, arg, **options)

    def key(self, step: FlowStep) -> str:
        """The idempotency key of a step's effect: order, step and the step's epoch."""
        return effects.keys.step(
            self.order.order_id, step.step_id, self._epochs.get(step.step_id, 1)
        )

    def next_key(self, purpose: str) -> str:
        """A fresh key for a one-off effect (a refund, a cancel's releases)."""
        self.counters[purpose] = self.counters.get(purpose, 0) + 1
        return effects.keys.counted(self.order.order_id, purpose, self.counters[purpose])

    def carried(self) -> CarriedOrder:
        """What a new run of this order picks up (continue-as-new)."""
        return CarriedOrder(
            order=self.order,
            seq=self.journal.seq,
            counters=self.counters,
            epochs=self._epochs,
            completed=self.completed,
            rewards_started=self.after_delivery.rewards_started,
            rewards_in_order=self.after_delivery.rewards_in_order,
        )

    def rewards_progressed(self, progress: RewardsProgress) -> None:
        self.after_delivery.rewards_progressed(progress)

    def window_open(self) -> bool:
        return self.after_delivery.window_open()

    async def tell_rewards(self, kind: Literal["award", "claw_back"], line: RewardLine) -> None:
        await self.after_delivery.tell_rewards(kind, line)

    def commands_pending(self) -> bool:
        return bool(self._commands)

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

    def _facts(self) -> dict[str, Any]:
        order = self.order
        return {
            "total_minor": order.total_minor,
            "line_count": len(order.lines),
            "item_count": sum(line.active_quantity for line in order.lines),
            "country": order.shipping_address.country,
            "customer_id": order.customer_id,
            "order_type": order.order_type,
        }
