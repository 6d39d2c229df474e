"""The order's shipments (`OrderShipments`): runs it starts, follows, feeds the carrier's
events to and asks to give up units; in place (`ShipmentRun`) or, for older orders, as
`ShipmentWorkflow` children reporting by signal, both ending in `apply_shipment`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from domain.events import EventType
    from domain.orders import Order
    from domain.shipments import (
        AllocatedLine,
        Allocation,
        Shipment,
        ShipmentStatus,
        parse_shipment_id,
        shipment_id_for,
    )
    from workflows import patches
    from workflows.legacy.shipment import (
        ShipmentWorkflow,
        shipment_workflow_id,
        start_child_shipment,
    )
    from workflows.messages import Unreadable, one_model
    from workflows.shipment import (
        CarrierEvent,
        CarrierReport,
        ShipmentChange,
        ShipmentChangeResult,
        ShipmentInput,
        ShipmentProgress,
        ShipmentRun,
        ShipmentsHost,
        ShipmentWatch,
    )
    from workflows.steps.failures import error_message


SHIPMENT_EVENTS = {
    ShipmentStatus.BOOKED: EventType.SHIPMENT_BOOKED,
    ShipmentStatus.DISPATCHED: EventType.SHIPMENT_DISPATCHED,
    ShipmentStatus.IN_TRANSIT: EventType.SHIPMENT_IN_TRANSIT,
    ShipmentStatus.DELIVERED: EventType.SHIPMENT_DELIVERED,
}


class _InPlace:
    """A shipment run inside the order reports by calling the order, not by signal."""

    def __init__(self, shipments: OrderShipments) -> None:
        self._shipments = shipments

    async def progressed(self, progress: ShipmentProgress) -> None:
        self._shipments.shipment_progressed(progress)

    async def changed(self, result: ShipmentChangeResult) -> None:
        self._shipments.shipment_changed(result)


class OrderShipments:
    """The order's shipments, composed into the order workflow."""

    def __init__(self, host: ShipmentsHost) -> None:
        self._host = host
        self._watches: dict[str, ShipmentWatch] = {}
        self._change_results: dict[str, ShipmentChangeResult] = {}
        self._early_carrier_events: dict[str, list[CarrierEvent]] = {}

    @property
    def order(self) -> Order:
        return self._host.order

    async def carrier_event(self, args: Sequence[RawValue]) -> None:
        """A carrier's event for one of this order's shipments (`POST /shipments/{id}/events`)."""
        try:
            report = one_model(args, CarrierReport)
        except Unreadable as why:  # not JSON, or not a carrier event: journaled, ignored
            self._host.record(
                EventType.SIGNAL_REJECTED,
                signal="carrier_event",
                reason=f"the carrier event could not be read: {why}",
            )
            return
        watch = self._watches.get(report.shipment_id)
        if watch is None and self._not_yet_opened(report.shipment_id):
            # The carrier answered a booking whose task runs again (its worker died): the
            # event comes before the shipment opens again, and is kept for it.
            self._early_carrier_events.setdefault(report.shipment_id, []).append(report.event)
        elif watch is None:
            self._host.record(
                EventType.SIGNAL_REJECTED,
                signal="carrier_event",
                reason=f"unknown shipment {report.shipment_id}",
            )
        elif watch.run is not None:
            watch.run.carrier_event(report.event)
        elif not watch.task.done():
            # A shipment of an older order: its child workflow follows the carrier.
            await workflow.get_external_workflow_handle_for(
                ShipmentWorkflow.run, shipment_workflow_id(report.shipment_id)
            ).signal("carrier_event", report.event)

    def shipment_progressed(self, progress: ShipmentProgress) -> None:
        try:
            shipment = self.order.shipment(progress.shipment_id)
        except KeyError:
            self._host.record(
                EventType.SIGNAL_REJECTED,
                signal="shipment_progressed",
                reason=f"unknown shipment {progress.shipment_id}",
            )
            return
        tracking_before = shipment.tracking_number
        if progress.tracking_number:
            shipment.tracking_number = progress.tracking_number
        try:
            self.apply_shipment(
                shipment.model_copy(
                    update={"status": progress.status, "captured_minor": progress.captured_minor}
                ),
                note=progress.note,
                capture_id=progress.capture_id,
            )
        except ValueError as error:
            # Refused before anything moved (see Order.progress_shipment).
            shipment.tracking_number = tracking_before
            self._host.record(
                EventType.SIGNAL_REJECTED, signal="shipment_progressed", reason=str(error)
            )

    def shipment_changed(self, result: ShipmentChangeResult) -> None:
        self._change_results[result.request_id] = result

    def _not_yet_opened(self, shipment_id: str) -> bool:
        """Whether an id is one this order will give a shipment it has not opened yet."""
        named = parse_shipment_id(shipment_id)
        return (
            named is not None
            and named[0] == self.order.order_id
            and named[1] > self._host.state.counters.get("shipment", 0)
        )

    def open_shipment(self, allocation: Allocation) -> Shipment:
        self._host.state.counters["shipment"] = self._host.state.counters.get("shipment", 0) + 1
        shipment = Shipment(
            shipment_id=shipment_id_for(self.order.order_id, self._host.state.counters["shipment"]),
            warehouse=allocation.warehouse,
            reservation_id=allocation.reservation_id,
            lines=[item.model_copy() for item in allocation.lines if item.quantity],
        )
        self.order.shipments.append(shipment)
        self._host.record(
            EventType.SHIPMENT_CREATED,
            shipment_id=shipment.shipment_id,
            warehouse=shipment.warehouse,
            lines=[item.model_dump() for item in shipment.lines],
        )
        return shipment

    async def start_shipment(
        self,
        allocation: Allocation,
        *,
        authorization_id: str,
        capture_key_prefix: str,
        capture_on_dispatch: bool,
    ) -> Shipment:
        """Open a shipment for an allocation and start what carries it."""
        order = self.order
        shipment = self.open_shipment(allocation)
        carried = ShipmentInput(
            order_id=order.order_id,
            order_workflow_id=workflow.info().workflow_id,
            shipment_id=shipment.shipment_id,
            warehouse=shipment.warehouse,
            lines=shipment.lines,
            address=order.shipping_address,
            unit_prices={
                item.line_id: order.line(item.line_id).unit_price_minor for item in shipment.lines
            },
            capture_on_dispatch=capture_on_dispatch,
            authorization_id=authorization_id,
            capture_key=f"{capture_key_prefix}:{shipment.shipment_id}",
        )
        await self._carry(carried, shipment)
        return shipment

    def carry_in_order(self, in_order: bool) -> None:
        """Pick how shipments are carried, once, when the order's run starts: in place, or
        (orders started before `order-runs-in-process`) as child workflows."""
        self._carry = self._carry_in_place if in_order else self._carry_as_child

    async def _carry_in_place(self, carried: ShipmentInput, shipment: Shipment) -> None:
        run = ShipmentRun(carried, _InPlace(self), self._host.call)
        for event in self._early_carrier_events.pop(shipment.shipment_id, []):
            run.carrier_event(event)
        self.watch_shipment(shipment.shipment_id, run.run(), run)

    async def _carry_as_child(self, carried: ShipmentInput, shipment: Shipment) -> None:
        self.watch_shipment(shipment.shipment_id, await start_child_shipment(carried, shipment))

    def watch_shipment(
        self, shipment_id: str, carrying: Awaitable[Shipment], run: ShipmentRun | None = None
    ) -> None:
        """Follow a shipment to its end: a run in this workflow, or a child's handle."""

        async def follow() -> None:
            try:
                self.apply_shipment(await carrying)
            except (ActivityError, ChildWorkflowError) as error:
                self._watches[shipment_id].failure = f"{shipment_id}: {error_message(error)}"

        self._watches[shipment_id] = ShipmentWatch(asyncio.create_task(follow()), run=run)

    def shipments_settled(self) -> bool:
        return all(watch.task.done() for watch in self._watches.values())

    def shipment_failures(self) -> list[str]:
        return [w.failure for w in self._watches.values() if w.failure is not None]

    async def change_shipment(
        self, shipment: Shipment, remove: list[AllocatedLine]
    ) -> ShipmentChangeResult:
        """Ask a shipment to give up units and wait for its answer: it refuses once dispatched."""
        request_id = self._host.next_key("shipment-change")
        change = ShipmentChange(request_id=request_id, remove=remove)
        watch = self._watches.get(shipment.shipment_id)
        if watch is not None and watch.run is not None:
            watch.run.change(change)
        else:
            handle = workflow.get_external_workflow_handle_for(
                ShipmentWorkflow.run, shipment_workflow_id(shipment.shipment_id)
            )
            await handle.signal("change", change)
        answered = lambda: request_id in self._change_results  # noqa: E731
        if workflow.patched(patches.CHANGE_MAY_OUTRUN_SHIPMENT.id):
            # The carrier's last event and the change can cross: a shipment that was delivered
            # first ends without reading the change, so its end is the answer.
            await workflow.wait_condition(
                lambda: answered() or (watch is not None and watch.task.done())
            )
            if not answered():
                return ShipmentChangeResult(
                    request_id=request_id,
                    shipment_id=shipment.shipment_id,
                    accepted=False,
                    reason=f"shipment {shipment.shipment_id} ended "
                    f"({shipment.status.value}) before it could give up units; use returns",
                    status=shipment.status,
                )
        else:
            await workflow.wait_condition(answered)
        return self._change_results.pop(request_id)

    def apply_shipment(
        self, reported: Shipment, note: str | None = None, capture_id: str | None = None
    ) -> None:
        captured_before = self.order.payment.captured_minor
        moved = self.order.progress_shipment(
            reported.shipment_id, reported.status, reported.captured_minor
        )
        if self.order.payment.captured_minor > captured_before:
            self._host.record(
                EventType.PAYMENT_CAPTURED,
                shipment_id=reported.shipment_id,
                amount_minor=self.order.payment.captured_minor - captured_before,
                capture_id=capture_id,
            )
        if moved:
            self._host.record(
                SHIPMENT_EVENTS[reported.status],
                shipment_id=reported.shipment_id,
                tracking_number=self.order.shipment(reported.shipment_id).tracking_number,
            )
        elif note:
            self._host.record(
                EventType.SHIPMENT_EXCEPTION, shipment_id=reported.shipment_id, note=note
            )
