"""The order workflow: an interpreter with a cursor over the order's flow definition.

One workflow per order (`order-{order_id}`) for its whole life. The flow snapshot travels
in the input, so a running order never changes when its type's definition does. Every state
change is recorded as a journal event and written by one background writer, in batches,
through a local activity.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.journal import JournalActivities
    from domain.events import SYSTEM, JournalEvent
    from domain.flows import FlowStep
    from domain.money import Money
    from domain.orders import (
        Allocation,
        CancelReason,
        Order,
        OrderInput,
        OrderStatus,
        OrderView,
        Shipment,
        ShipmentStatus,
    )
    from domain.status import order_status
    from workflows import activity_options
    from workflows import search_attributes as sa
    from workflows.shipment import ShipmentProgress
    from workflows.steps import COMPENSATIONS, STEPS, StepFailed, error_message

SHIPMENT_EVENTS = {
    ShipmentStatus.BOOKED: "ShipmentBooked",
    ShipmentStatus.DISPATCHED: "ShipmentDispatched",
    ShipmentStatus.IN_TRANSIT: "ShipmentInTransit",
    ShipmentStatus.DELIVERED: "ShipmentDelivered",
}


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def order_summary(order: Order) -> str:
    """The one line the Web UI shows: `ord_7Q · standard v1 · 3 lines · $59.00`."""
    total = Money(amount_minor=order.total_minor, currency=order.currency)
    lines = f"{len(order.lines)} line{'s' if len(order.lines) != 1 else ''}"
    return f"{order.order_id} · {order.flow.type} v{order.flow.version} · {lines} · {total}"


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, order: OrderInput) -> None:
        self.order = Order.place(order)
        self.payment_token = order.payment_token
        self._flow = order.flow
        self._cursor = 0
        self._epochs: dict[str, int] = {}
        self._completed: list[str] = []  # step ids, in the order they completed
        self._shipment_count = 0
        self._seq = 0
        self._unwritten: list[JournalEvent] = []
        self._closing = False
        self._details = ""
        self._published: OrderStatus | None = None

    # -- queries and signals ---------------------------------------------------------------

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
                update={
                    "status": progress.status,
                    "captured_minor": progress.captured_minor,
                }
            ),
            note=progress.note,
            capture_id=progress.capture_id,
        )

    # -- the interpreter --------------------------------------------------------------------

    @workflow.run
    async def run(self, order: OrderInput) -> OrderView:
        writer = asyncio.create_task(self._journal_writer())
        workflow.upsert_search_attributes(
            [
                sa.ORDER_STATUS.value_set(order_status(self.order).value),
                sa.ORDER_TYPE.value_set(self.order.order_type),
                sa.CUSTOMER_ID.value_set(self.order.customer_id),
                sa.ORDER_TOTAL.value_set(self.order.total_minor),
                sa.FLOW_VERSION.value_set(self._flow.version),
                sa.NEEDS_REVIEW.value_set(False),
            ]
        )
        self.record(
            "OrderPlaced",
            customer_id=self.order.customer_id,
            order_type=self.order.order_type,
            flow=self._flow.model_dump(mode="json"),
            lines=[line.model_dump(mode="json", exclude={"buckets"}) for line in self.order.lines],
            total_minor=self.order.total_minor,
            currency=self.order.currency,
        )
        await self._interpret()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._closing = True
        await writer
        return self.order.view()

    async def _interpret(self) -> None:
        while self._cursor < len(self._flow.steps):
            step = self._flow.steps[self._cursor]
            if step.when is not None and not step.when.holds(self._facts()):
                self.record("StepSkipped", step=step.step_id, reason="condition not met")
                self._cursor += 1
                continue
            self.order.current_step = step.step_id
            self.order.current_stage = step.spec.stage
            self._details = step.spec.description
            self._publish()
            try:
                await STEPS[step.step].run(self, step)
            except StepFailed as failure:
                await self._fail(step, failure)
                return
            except ActivityError as error:
                # Retries exhausted, or an error nobody classified: the step failed.
                await self._fail(step, StepFailed(f"{step.step_id}: {error_message(error)}"))
                return
            self._completed.append(step.step_id)
            self._cursor += 1
        self.order.current_step = None
        self.order.outcome = OrderStatus.COMPLETED
        self.record("OrderCompleted", captured_minor=self.order.payment.captured_minor)

    async def _fail(self, step: FlowStep, failure: StepFailed) -> None:
        self.record("StepFailed", step=step.step_id, reason=str(failure))
        await self._compensate()
        if step.on_failure == "cancel" and not failure.needs_review:
            reason = failure.cancel_reason or CancelReason.OTHER
            for line in self.order.lines:
                line.move("pending", "cancelled", line.buckets.pending)
            self.order.cancel_reason = reason
            self.order.outcome = OrderStatus.CANCELLED
            self.record("OrderCancelled", reason=str(failure), cancel_reason=reason.value)
        else:
            # Manual review arrives with the interventions; until then a review fails the order.
            self.order.failure = str(failure)
            self.order.outcome = OrderStatus.FAILED
            self.record("OrderFailed", step=step.step_id, reason=str(failure))

    async def _compensate(self) -> None:
        """Undo completed steps, newest first, each through its declared compensation."""
        for step_id in reversed(self._completed):
            spec = self._flow.steps[self._flow.index_of(step_id)].spec
            if spec.compensation is not None:
                await COMPENSATIONS[spec.compensation](self)
        self._completed.clear()

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

    # -- what steps use ------------------------------------------------------------------

    def key(self, step: FlowStep) -> str:
        """The idempotency key of a step's effect: order, step and the step's epoch."""
        return f"{self.order.order_id}:{step.step_id}:{self._epochs.get(step.step_id, 1)}"

    def open_shipment(self, allocation: Allocation) -> Shipment:
        self._shipment_count += 1
        shipment = Shipment(
            shipment_id=f"{self.order.order_id}-{self._shipment_count}",
            warehouse=allocation.warehouse,
            lines=allocation.lines,
        )
        self.order.shipments.append(shipment)
        self.record(
            "ShipmentCreated",
            shipment_id=shipment.shipment_id,
            warehouse=shipment.warehouse,
            lines=[item.model_dump() for item in shipment.lines],
        )
        return shipment

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

    # -- publishing ------------------------------------------------------------------------

    def _publish(self, force: bool = False) -> None:
        """Keep the search attributes and the Web UI's current details in step with the order;
        upserts only when the status changes, since each one costs history."""
        status = order_status(self.order)
        if status == self._published and not force:
            return
        if status != self._published:
            workflow.upsert_search_attributes(
                [
                    sa.ORDER_STATUS.value_set(status.value),
                    sa.ORDER_TOTAL.value_set(self.order.total_minor),
                ]
            )
            self._published = status
        step = f" · {self.order.current_step}" if self.order.current_step else ""
        details = (
            f" · {self._details}"
            if self._details
            and status not in (OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.FAILED)
            else ""
        )
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
