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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.journal import JournalActivities
    from activities.notifications import Notification, NotificationActivities
    from activities.payments import PaymentActivities, VoidRequest
    from domain.events import SYSTEM, JournalEvent
    from domain.flows import FlowStep
    from domain.interventions import INTERVENTIONS, InterventionRequest, ReviewDecision
    from domain.money import Money
    from domain.orders import (
        AllocatedLine,
        Allocation,
        CancelReason,
        Order,
        OrderInput,
        OrderStatus,
        OrderView,
        Review,
        Shipment,
        ShipmentStatus,
    )
    from domain.status import order_status
    from workflows import activity_options, compensation, interventions
    from workflows import search_attributes as sa
    from workflows.interventions import FlowRedirect, InterventionRefused
    from workflows.shipment import (
        ShipmentChange,
        ShipmentChangeResult,
        ShipmentProgress,
        ShipmentWorkflow,
    )
    from workflows.steps import STEPS, ApprovalRequired, StepFailed, error_message

SHIPMENT_EVENTS = {
    ShipmentStatus.BOOKED: "ShipmentBooked",
    ShipmentStatus.DISPATCHED: "ShipmentDispatched",
    ShipmentStatus.IN_TRANSIT: "ShipmentInTransit",
    ShipmentStatus.DELIVERED: "ShipmentDelivered",
}
SIGNAL_ACTOR = "operator (signal)"
NOTIFY_ON_COMPLETION = "notify-customer-on-completion"


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def order_summary(order: Order) -> str:
    """The one line the Web UI shows: `ord_7Q · standard v1 · 3 lines · $59.00`."""
    total = Money(amount_minor=order.total_minor, currency=order.currency)
    lines = f"{len(order.lines)} line{'s' if len(order.lines) != 1 else ''}"
    return f"{order.order_id} · {order.flow.type} v{order.flow.version} · {lines} · {total}"


@dataclass
class Command:
    kind: str
    request: Any
    actor: str
    from_signal: bool
    done: bool = False
    error: str | None = None
    result: Any = None


@dataclass
class ShipmentWatch:
    task: asyncio.Task[None]
    failure: str | None = None


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type="InterventionRefused", non_retryable=True)


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, order: OrderInput) -> None:
        self.order = Order.place(order)
        self.payment_token = order.payment_token
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
        self._seq = 0
        self._unwritten: list[JournalEvent] = []
        self._closing = False
        self._details = ""
        self._published: tuple[OrderStatus, bool, bool] | None = None

    # -- queries and messages from children ---------------------------------------------------

    @workflow.query
    def view(self) -> OrderView:
        return self.order.view()

    @workflow.signal
    def shipment_progressed(self, progress: ShipmentProgress) -> None:
        try:
            shipment = self.order.shipment(progress.shipment_id)
        except KeyError:
            self.record(
                "SignalRejected",
                signal="shipment_progressed",
                reason=f"unknown shipment {progress.shipment_id}",
            )
            return
        if progress.tracking_number:
            shipment.tracking_number = progress.tracking_number
        self.apply_shipment(
            shipment.model_copy(
                update={"status": progress.status, "captured_minor": progress.captured_minor}
            ),
            note=progress.note,
            capture_id=progress.capture_id,
        )

    @workflow.signal
    def shipment_changed(self, result: ShipmentChangeResult) -> None:
        self._change_results[result.request_id] = result

    # -- interventions: an update (validated) and a signal (journaled if refused) for each ----

    @workflow.update(name="cancel")
    async def cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("cancel", body)

    @cancel.validator
    def _validate_cancel(self, body: dict[str, Any]) -> None:
        self._validate("cancel", body)

    @workflow.signal(name="cancel")
    def cancel_signal(self, body: Any) -> None:
        self._signal("cancel", body)

    @workflow.update(name="hold")
    async def hold(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("hold", body)

    @hold.validator
    def _validate_hold(self, body: dict[str, Any]) -> None:
        self._validate("hold", body)

    @workflow.signal(name="hold")
    def hold_signal(self, body: Any) -> None:
        self._signal("hold", body)

    @workflow.update(name="release")
    async def release(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("release", body)

    @release.validator
    def _validate_release(self, body: dict[str, Any]) -> None:
        self._validate("release", body)

    @workflow.signal(name="release")
    def release_signal(self, body: Any) -> None:
        self._signal("release", body)

    @workflow.update(name="backtrack")
    async def backtrack_update(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("backtrack", body)

    @backtrack_update.validator
    def _validate_backtrack(self, body: dict[str, Any]) -> None:
        self._validate("backtrack", body)

    @workflow.signal(name="backtrack")
    def backtrack_signal(self, body: Any) -> None:
        self._signal("backtrack", body)

    @workflow.update(name="skip")
    async def skip(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("skip", body)

    @skip.validator
    def _validate_skip(self, body: dict[str, Any]) -> None:
        self._validate("skip", body)

    @workflow.signal(name="skip")
    def skip_signal(self, body: Any) -> None:
        self._signal("skip", body)

    @workflow.update(name="review")
    async def review(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("review", body)

    @review.validator
    def _validate_review(self, body: dict[str, Any]) -> None:
        self._validate("review", body)

    @workflow.signal(name="review")
    def review_signal(self, body: Any) -> None:
        self._signal("review", body)

    @workflow.update(name="correct_address")
    async def correct_address(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("correct_address", body)

    @correct_address.validator
    def _validate_correct_address(self, body: dict[str, Any]) -> None:
        self._validate("correct_address", body)

    @workflow.signal(name="correct_address")
    def correct_address_signal(self, body: Any) -> None:
        self._signal("correct_address", body)

    @workflow.update(name="pickup")
    async def pickup(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("pickup", body)

    @pickup.validator
    def _validate_pickup(self, body: dict[str, Any]) -> None:
        self._validate("pickup", body)

    @workflow.signal(name="pickup")
    def pickup_signal(self, body: Any) -> None:
        self._signal("pickup", body)

    @workflow.signal(dynamic=True)
    def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        # A mistyped signal name from the Web UI or the CLI is journaled, never buffered forever.
        known = ", ".join(sorted(INTERVENTIONS))
        self.record(
            "InterventionRejected",
            reason=f"unknown signal {name!r}; known: {known}",
            intervention=name,
            via="signal",
        )

    def _parse(self, kind: str, body: Any) -> InterventionRequest:
        try:
            return INTERVENTIONS[kind].model_validate(body)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in error.errors()
            )
            raise _refused(f"invalid {kind} request: {problems}") from None

    def _validate(self, kind: str, body: Any) -> None:
        request = self._parse(kind, body)
        if error := interventions.check(self, kind, request):
            raise _refused(error)

    async def _submit(self, kind: str, body: Any) -> dict[str, Any]:
        request = self._parse(kind, body)
        if kind == "backtrack" and request.dry_run:
            return interventions.backtrack_plan(self, request.to_step).model_dump(mode="json")
        command = Command(kind, request, request.actor or "operator", from_signal=False)
        self._commands.append(command)
        await workflow.wait_condition(lambda: command.done)
        if command.error is not None:
            raise _refused(command.error)
        return command.result

    def _signal(self, kind: str, body: Any) -> None:
        try:
            request = self._parse(kind, body)
            error = interventions.check(self, kind, request)
        except ApplicationError as refusal:
            request, error = None, refusal.message
        if error is None and kind == "backtrack" and request.dry_run:
            error = "a dry run answers only as an update"
        if error is not None:
            self.record(
                "InterventionRejected",
                reason=error,
                intervention=kind,
                via="signal",
                body=_printable(body),
            )
            return
        self._commands.append(Command(kind, request, request.actor or SIGNAL_ACTOR, True))

    async def drain(self) -> None:
        """Apply queued interventions, oldest first. Only called at safe points."""
        while self._commands:
            command = self._commands.pop(0)
            error = interventions.check(self, command.kind, command.request)
            if error is None:
                try:
                    command.result = await interventions.apply(
                        self, command.kind, command.request, command.actor
                    )
                except (InterventionRefused, compensation.CannotUndo) as refused:
                    error = str(refused)
                except FlowRedirect:
                    command.result = self.order.view().model_dump(mode="json")
                    command.done = True
                    raise
            if error is not None:
                command.error = error
                self.record(
                    "InterventionRejected",
                    actor=command.actor,
                    reason=error,
                    intervention=command.kind,
                    via="signal" if command.from_signal else "update",
                )
            command.done = True

    # -- the interpreter ----------------------------------------------------------------------

    @workflow.run
    async def run(self, order: OrderInput) -> OrderView:
        writer = asyncio.create_task(self._journal_writer())
        self._publish(force=True)
        self.record(
            "OrderPlaced",
            customer_id=self.order.customer_id,
            order_type=self.order.order_type,
            flow=self.flow.model_dump(mode="json"),
            lines=[line.model_dump(mode="json", exclude={"buckets"}) for line in self.order.lines],
            total_minor=self.order.total_minor,
            currency=self.order.currency,
        )
        await self._interpret()
        self.order.current_step = None
        self._publish()
        # Shipments cancelled on the way out finish first; refused late commands are answered.
        await workflow.wait_condition(lambda: all(w.task.done() for w in self._watches.values()))
        await self.drain()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._closing = True
        await writer
        return self.order.view()

    async def _interpret(self) -> None:
        steps = self.flow.steps
        while self.order.outcome is None:
            try:
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
        # Added after orders were already running: orders that started before this code
        # replay without the notification (see "Versioning and replay" in the README).
        if workflow.patched(NOTIFY_ON_COMPLETION):
            await workflow.execute_activity_method(
                NotificationActivities.notify_customer,
                Notification(
                    key=f"{self.order.order_id}:completed",
                    order_id=self.order.order_id,
                    customer_id=self.order.customer_id,
                    kind="order_completed",
                    message=f"Your order {self.order.order_id} is complete. Thank you!",
                ),
                summary="tell the customer the order is complete",
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

    async def void(self, authorization_id: str, *, reason: str) -> None:
        """Void an authorization that is no longer the order's (a renewed one)."""
        voided = await workflow.execute_activity_method(
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

    def key(self, step: FlowStep) -> str:
        """The idempotency key of a step's effect: order, step and the step's epoch."""
        return f"{self.order.order_id}:{step.step_id}:{self._epochs.get(step.step_id, 1)}"

    def next_key(self, purpose: str) -> str:
        """A fresh key for a one-off effect (a refund, a cancel's releases)."""
        self._counters[purpose] = self._counters.get(purpose, 0) + 1
        return f"{self.order.order_id}:{purpose}:{self._counters[purpose]}"

    def shipment_for(self, allocation: Allocation) -> Shipment | None:
        """The live or finished shipment carrying an allocation (not a cancelled one)."""
        for shipment in self.order.shipments:
            if (
                shipment.reservation_id == allocation.reservation_id
                and shipment.warehouse == allocation.warehouse
                and shipment.status != ShipmentStatus.CANCELLED
            ):
                return shipment
        return None

    def shipment_left(self, allocation: Allocation) -> bool:
        shipment = self.shipment_for(allocation)
        return shipment is not None and shipment.has_left

    def open_shipment(self, allocation: Allocation) -> Shipment:
        self._counters["shipment"] = self._counters.get("shipment", 0) + 1
        shipment = Shipment(
            shipment_id=f"{self.order.order_id}-{self._counters['shipment']}",
            warehouse=allocation.warehouse,
            reservation_id=allocation.reservation_id,
            lines=[item.model_copy() for item in allocation.lines if item.quantity],
        )
        self.order.shipments.append(shipment)
        self.record(
            "ShipmentCreated",
            shipment_id=shipment.shipment_id,
            warehouse=shipment.warehouse,
            lines=[item.model_dump() for item in shipment.lines],
        )
        return shipment

    def watch_shipment(self, shipment_id: str, handle: Any) -> None:
        async def follow() -> None:
            try:
                self.apply_shipment(await handle)
            except ChildWorkflowError as error:
                self._watches[shipment_id].failure = f"{shipment_id}: {error_message(error)}"

        self._watches[shipment_id] = ShipmentWatch(asyncio.create_task(follow()))

    def shipments_settled(self) -> bool:
        return all(watch.task.done() for watch in self._watches.values())

    def shipment_failures(self) -> list[str]:
        return [w.failure for w in self._watches.values() if w.failure is not None]

    async def change_shipment(
        self, shipment: Shipment, remove: list[AllocatedLine]
    ) -> ShipmentChangeResult:
        """Ask a shipment to give up units and wait for its answer: it refuses once dispatched."""
        request_id = self.next_key("shipment-change")
        handle = workflow.get_external_workflow_handle_for(
            ShipmentWorkflow.run, f"shipment-{shipment.shipment_id}"
        )
        await handle.signal(
            ShipmentWorkflow.change, ShipmentChange(request_id=request_id, remove=remove)
        )
        await workflow.wait_condition(lambda: request_id in self._change_results)
        return self._change_results.pop(request_id)

    def apply_shipment(
        self, reported: Shipment, note: str | None = None, capture_id: str | None = None
    ) -> None:
        captured_before = self.order.payment.captured_minor
        moved = self.order.progress_shipment(
            reported.shipment_id, reported.status, reported.captured_minor
        )
        if self.order.payment.captured_minor > captured_before:
            self.record(
                "PaymentCaptured",
                shipment_id=reported.shipment_id,
                amount_minor=self.order.payment.captured_minor - captured_before,
                capture_id=capture_id,
            )
        if moved:
            self.record(
                SHIPMENT_EVENTS[reported.status],
                shipment_id=reported.shipment_id,
                tracking_number=self.order.shipment(reported.shipment_id).tracking_number,
            )
        elif note:
            self.record("ShipmentException", shipment_id=reported.shipment_id, note=note)

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
        if shown == self._published and not force:
            return
        if shown != self._published:
            workflow.upsert_search_attributes(
                [
                    sa.ORDER_STATUS.value_set(status.value),
                    sa.ORDER_TYPE.value_set(self.order.order_type),
                    sa.CUSTOMER_ID.value_set(self.order.customer_id),
                    sa.ORDER_TOTAL.value_set(self.order.total_minor),
                    sa.FLOW_VERSION.value_set(self.flow.version),
                    sa.NEEDS_REVIEW.value_set(shown[1]),
                    sa.REVIEW_ESCALATED.value_set(shown[2]),
                ]
            )
            self._published = shown
        step = f" · {self.order.current_step}" if self.order.current_step else ""
        details = f" · {self._details}" if self._details and self.order.outcome is None else ""
        workflow.set_current_details(
            f"{order_summary(self.order)}\n\n**{status.value}**{step}{details}"
        )

    async def _journal_writer(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._unwritten) or self._closing)
            if not self._unwritten:
                return
            batch = list(self._unwritten)
            await workflow.execute_local_activity_method(
                JournalActivities.append_events, batch, **activity_options.JOURNAL
            )
            del self._unwritten[: len(batch)]


def _printable(body: Any) -> Any:
    """What a refused signal carried, bounded so a huge payload cannot bloat the journal."""
    text = repr(body)
    return body if len(text) <= 2000 and isinstance(body, dict | list | str | int) else text[:2000]
