"""The order workflow: an interpreter with a cursor over the order's flow definition.

One workflow per order (`order-{order_id}`) for its whole life. The flow snapshot travels in
the input, so a running order never changes when its type's definition does. Interventions
arrive as updates (validated before they touch history) or as signals with the same JSON
body; both become commands that the interpreter applies one at a time at its safe points:
between steps, while held, while in review, and while shipments are with the carrier.
Every state change is a journal event, written in batches by one background writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
)
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from activities.journal import JournalActivities
    from activities.notifications import Notification, NotificationActivities
    from activities.payments import PaymentActivities, VoidRequest
    from domain.events import SYSTEM, JournalBatch, JournalEvent
    from domain.flows import FlowStep
    from domain.interventions import ReviewDecision
    from domain.money import Money
    from domain.orders import CancelReason, Order, OrderInput, OrderStatus, OrderView, Review
    from domain.status import order_status
    from workflows import activity_options, compensation, interventions
    from workflows import search_attributes as sa
    from workflows.interventions import FlowRedirect
    from workflows.shipment import CarrierEvent, ShipmentChangeResult
    from workflows.steps import STEPS, ApprovalRequired, StepFailed, error_message

# Sandboxed with this module (not passed through): they are parts of the workflow class.
from workflows.after_delivery import AfterDelivery  # noqa: E402
from workflows.handlers import Command, InterventionHandlers  # noqa: E402
from workflows.returns import ReturnProgress  # noqa: E402
from workflows.tracking import ShipmentTracking, ShipmentWatch  # noqa: E402

NOTIFY_ON_COMPLETION = "notify-customer-on-completion"
# Orders stay open through a return window after delivery; orders that started before
# this code complete at delivery, as they always did.
RETURN_WINDOW = "return-window-after-delivery"
# Orders that started before this called every activity as a task on the task queue, ran
# each shipment and their loyalty points as child workflows, and upserted their search
# attributes at every change. Newer orders do it all in their own workflow: the flow's steps
# as local activities (see `call`), shipments and points kept in place, and the search
# attributes upserted by the journal writer with each batch (see `_journal_due`).
IN_PROCESS = "order-runs-in-process"


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def order_summary(order: Order) -> str:
    """The one line the Web UI shows: `ord_7Q · standard v1 · 3 lines · $59.00`."""
    total = Money(amount_minor=order.total_minor, currency=order.currency)
    lines = f"{len(order.lines)} line{'s' if len(order.lines) != 1 else ''}"
    return f"{order.order_id} · {order.flow.type} v{order.flow.version} · {lines} · {total}"


@workflow.defn
class OrderWorkflow(InterventionHandlers, ShipmentTracking, AfterDelivery):
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
        self._counters: dict[str, int] = {}
        self._commands: list[Command] = []
        self._change_results: dict[str, ShipmentChangeResult] = {}
        self._watches: dict[str, ShipmentWatch] = {}
        self._early_carrier_events: dict[str, list[CarrierEvent]] = {}
        self._seq = 0
        self._unwritten: list[JournalEvent] = []
        self._closing = False
        self._details = ""
        self._published: tuple[OrderStatus, bool, bool] | None = None  # in the attributes
        self._shown: tuple[OrderStatus, bool, bool] | None = None  # as the order stands
        self._writer: asyncio.Task[None] | None = None
        # One local activity at a time per order; see `_in_local_lane`.
        self._local_lane = asyncio.Lock()
        self._return_inbox: list[ReturnProgress] = []
        self._exchanges_due: list[tuple[str, str, int]] = []
        self._return_tasks: dict[str, asyncio.Task[None]] = {}
        self._rewards_started = False
        self._rewards_granted = False
        self._rewards_in_order = False
        self._window_timer: asyncio.Task[None] | None = None
        self._local_activities = False
        if order.carried is not None:
            # A new run of a long-lived order: pick up where the last one stopped.
            carried = order.carried
            self.order = carried.order
            self._seq = carried.seq
            self._counters = dict(carried.counters)
            self._epochs = dict(carried.epochs)
            self.completed = list(carried.completed)
            self.cursor = len(self.flow.steps)
            self._rewards_started = carried.rewards_started

    # -- queries and messages from children ---------------------------------------------------

    @workflow.query
    def view(self, *_: Any) -> OrderView:
        return self.order.view()

    # -- the interpreter ----------------------------------------------------------------------

    @workflow.run
    async def run(self, order: OrderInput) -> OrderView:
        in_process = workflow.patched(IN_PROCESS)
        self._local_activities = self._shipments_in_order = self._rewards_in_order = in_process
        if order.carried is not None and order.carried.rewards_started:
            # Points already kept by an earlier run stay where they are.
            self._rewards_in_order = order.carried.rewards_in_order
        self.start_journal()
        self._publish(force=True)
        if order.carried is None:
            self.record(
                "OrderPlaced",
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
            self.record("OrderContinued", previous_run=workflow.info().continued_run_id)
            await self.return_window()
            await self._finish_completed()
        self.order.current_step = None
        self._publish()
        # Shipments cancelled on the way out finish first; refused late commands are answered.
        await workflow.wait_condition(lambda: all(w.task.done() for w in self._watches.values()))
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
                    self._details = "on hold: " + ", ".join(
                        h.reason.value for h in self.order.holds
                    )
                    self._publish(force=True)
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
                    self.record("StepSkipped", step=step.step_id, reason=why)
                    self.cursor += 1
                    continue
                await self._run_step(step)
            except FlowRedirect:
                continue

    async def _run_step(self, step: FlowStep) -> None:
        self.running_step = step.step_id
        self.order.current_step = step.step_id
        self.order.current_stage = step.spec.stage
        self._details = step.spec.description
        self._publish(force=True)
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
            self.record("StepFailed", step=step.step_id, reason=str(failure), kind=failure.kind)
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
            self.record("OrderFailed", step=step.step_id, reason=str(failure))

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
        if workflow.patched(RETURN_WINDOW):
            self.order.current_step = None
            await self.return_window()
        await self._finish_completed()

    async def _finish_completed(self) -> None:
        payment = self.order.payment
        # Added after orders were already running: orders that started before this code
        # replay without the notification (see "Versioning and replay" in the README).
        if workflow.patched(NOTIFY_ON_COMPLETION):
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
            "OrderCompleted",
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
        self.record("OrderCancelled", actor=actor, reason=note, cancel_reason=reason.value)
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
        self.record("ReviewRequested", reason=str(failure), step=step.step_id, kind=failure.kind)
        self._details = f"needs review: {failure}"
        while self.order.review is not None:
            review = self.order.review
            deadline = review.since + self._review_sla * (2 if review.escalated else 1)
            remaining = max((deadline - workflow.now()).total_seconds(), 0.001)
            if await self.wait(lambda: self.order.review is None, timeout=remaining):
                break
            if not review.escalated:
                review.escalated = True
                self.record(
                    "ReviewEscalated",
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
            "ReviewDecided",
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
            self.record("StepSkipped", actor=actor, step=review.step, reason=request.note)
            self.cursor = index + 1
        else:
            await self.finish_cancelled(
                request.reason or review.cancel_reason or CancelReason.OTHER,
                actor=actor,
                note=request.note,
            )

    # -- backtrack ----------------------------------------------------------------------------

    async def backtrack(self, to_step: str, *, actor: str, reason: str) -> None:
        plan = interventions.backtrack_plan(self, to_step)
        for action in plan.actions:
            await compensation.execute(self, action)
        for step_id in plan.rerun_steps:
            self._epochs[step_id] = self._epochs.get(step_id, 1) + 1
        target = self.flow.index_of(to_step)
        self.completed = [s for s in self.completed if self.flow.index_of(s) < target]
        self.cursor = target
        self.order.review = None
        self.record(
            "BacktrackedTo",
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
        voided = await self.call(
            PaymentActivities.void_payment,
            VoidRequest(
                order_id=self.order.order_id,
                key=f"{authorization_id}:void",
                authorization_id=authorization_id,
            ),
            summary=f"void {authorization_id}",
            **activity_options.PAYMENT,
        )
        self.record(
            "PaymentVoided",
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
        return f"{self.order.order_id}:{step.step_id}:{self._epochs.get(step.step_id, 1)}"

    def next_key(self, purpose: str) -> str:
        """A fresh key for a one-off effect (a refund, a cancel's releases)."""
        self._counters[purpose] = self._counters.get(purpose, 0) + 1
        return f"{self.order.order_id}:{purpose}:{self._counters[purpose]}"

    def set_details(self, details: str) -> None:
        self._details = details
        self._publish(force=True)

    def record(
        self, type: str, *, actor: str = SYSTEM, reason: str | None = None, **data: Any
    ) -> None:
        self._seq += 1
        now = workflow.now()
        self._unwritten.append(
            JournalEvent(
                order_id=self.order.order_id,
                seq=self._seq,
                type=type,
                at=now,
                actor=actor,
                reason=reason,
                data=data,
            )
        )
        self.order.updated_at = now
        self._publish()

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

    # -- publishing ---------------------------------------------------------------------------

    def _publish(self, force: bool = False) -> None:
        """Keep the search attributes and the Web UI's current details in step with the order;
        upserts only when what they show changes, since each one costs history."""
        status = order_status(self.order)
        review = self.order.review
        shown = (status, review is not None, bool(review and review.escalated))
        if shown == self._shown and not force:
            return
        self._shown = shown
        if not self._local_activities:
            self._upsert_search_attributes()
        step = f" · {self.order.current_step}" if self.order.current_step else ""
        details = f" · {self._details}" if self._details and self.order.outcome is None else ""
        workflow.set_current_details(
            f"{order_summary(self.order)}\n\n**{status.value}**{step}{details}"
        )

    def _upsert_search_attributes(self) -> None:
        shown = self._shown
        if shown is None or shown == self._published:
            return
        workflow.upsert_search_attributes(
            [
                sa.ORDER_STATUS.value_set(shown[0].value),
                sa.ORDER_TYPE.value_set(self.order.order_type),
                sa.CUSTOMER_ID.value_set(self.order.customer_id),
                sa.ORDER_TOTAL.value_set(self.order.total_minor),
                sa.FLOW_VERSION.value_set(self.flow.version),
                sa.NEEDS_REVIEW.value_set(shown[1]),
                sa.REVIEW_ESCALATED.value_set(shown[2]),
            ]
        )
        self._published = shown

    def start_journal(self) -> None:
        self._closing = False
        self._writer = asyncio.create_task(self._journal_writer())

    async def flush_journal(self) -> None:
        """Write what is left and stop the writer: before the run closes or continues as new."""
        self._closing = True
        if self._writer is not None:
            await self._writer

    def _journal_due(self) -> bool:
        """Whether the writer has something to do: events to write, or (for an in-process
        order, which upserts from here) search attributes to bring up to date. An in-process
        order's events wait while its flow runs from one local activity to the next, so a
        run of steps (fraud score to booking, say) is one batch, written when the flow
        pauses: at a wait, or on a regular activity or a timer."""
        if self._closing or self._shown != self._published:
            return True
        return bool(self._unwritten) and not self._between_steps()

    def _between_steps(self) -> bool:
        # Conditions are checked only once every task of the workflow is blocked: the lane
        # is held then only by a local activity in flight (or one waiting to retry).
        return self._local_activities and self._local_lane.locked()

    async def _journal_writer(self) -> None:
        while True:
            await workflow.wait_condition(self._journal_due)
            self._upsert_search_attributes()  # in step already unless the order is in-process
            if not self._unwritten:
                if self._closing:
                    return
                continue
            if self._between_steps() and not self._closing:
                continue  # woken for the attributes; the events wait for the flow to pause
            async with self._local_lane:
                # The view rides with the batch so the read model can be rebuilt from the
                # journal; only the local activity's input changes, which replay does not
                # compare. The batch is taken in the lane: it carries what piled up while
                # a step's local activity ran.
                batch = list(self._unwritten)
                await workflow.execute_local_activity_method(
                    JournalActivities.append_events,
                    JournalBatch(events=batch, view=self.order.view()),
                    **activity_options.JOURNAL,
                )
            del self._unwritten[: len(batch)]
