"""One shipment of an order: book it, follow the carrier's events, capture on dispatch."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.payments import CaptureRequest, PaymentActivities
    from activities.shipping import BookShipmentRequest, ShippingActivities
    from domain.orders import Address, AllocatedLine, Shipment, ShipmentStatus
    from workflows import activity_options

SHIPMENT_PROGRESSED = "shipment_progressed"  # the parent order's signal


class ShipmentInput(BaseModel):
    order_id: str
    order_workflow_id: str
    shipment_id: str
    warehouse: str
    lines: list[AllocatedLine]
    address: Address
    amount_minor: int
    authorization_id: str
    capture_key: str


class CarrierEvent(BaseModel):
    """What a carrier reports through `POST /shipments/{shipment_id}/events`."""

    status: Literal["dispatched", "in_transit", "delivered", "exception"]
    event_id: str | None = None
    tracking_number: str | None = None
    occurred_at: datetime | None = None
    note: str | None = None


class ShipmentProgress(BaseModel):
    shipment_id: str
    status: ShipmentStatus
    tracking_number: str | None = None
    captured_minor: int = 0
    capture_id: str | None = None
    note: str | None = None


def shipment_workflow_id(shipment_id: str) -> str:
    return f"shipment-{shipment_id}"


@workflow.defn
class ShipmentWorkflow:
    @workflow.init
    def __init__(self, shipment: ShipmentInput) -> None:
        self._input = shipment
        self._state = Shipment(
            shipment_id=shipment.shipment_id, warehouse=shipment.warehouse, lines=shipment.lines
        )
        self._inbox: list[CarrierEvent] = []
        self._seen_event_ids: set[str] = set()
        self._capture_id: str | None = None

    @workflow.signal
    def carrier_event(self, event: CarrierEvent) -> None:
        # Carriers redeliver webhooks; an event id seen before changes nothing.
        if event.event_id is not None:
            if event.event_id in self._seen_event_ids:
                return
            self._seen_event_ids.add(event.event_id)
        self._inbox.append(event)

    @workflow.query
    def view(self) -> Shipment:
        return self._state

    @workflow.run
    async def run(self, shipment: ShipmentInput) -> Shipment:
        booking = await workflow.execute_activity_method(
            ShippingActivities.book_shipment,
            BookShipmentRequest(
                shipment_id=shipment.shipment_id,
                order_id=shipment.order_id,
                warehouse=shipment.warehouse,
                address=shipment.address,
                lines=shipment.lines,
            ),
            summary=f"book {shipment.shipment_id} from {shipment.warehouse}",
            **activity_options.CARRIER,
        )
        self._state.tracking_number = booking.tracking_number
        await self._advance(ShipmentStatus.BOOKED)
        while self._state.status != ShipmentStatus.DELIVERED:
            workflow.set_current_details(f"{self._state.status.value.lower()}: awaiting carrier")
            await workflow.wait_condition(lambda: bool(self._inbox))
            await self._handle(self._inbox.pop(0))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _handle(self, event: CarrierEvent) -> None:
        if event.tracking_number:
            self._state.tracking_number = event.tracking_number
        status = self._state.status
        if event.status == "exception":
            await self._advance(status, note=event.note or "carrier exception")
            return
        # A carrier may skip a step (delivered without dispatched): run the missed ones in order.
        if status == ShipmentStatus.BOOKED:
            await self._capture()
            await self._advance(ShipmentStatus.DISPATCHED)
        if event.status == "in_transit" and self._state.status == ShipmentStatus.DISPATCHED:
            await self._advance(ShipmentStatus.IN_TRANSIT)
        if event.status == "delivered":
            await self._advance(ShipmentStatus.DELIVERED)

    async def _capture(self) -> None:
        """Payment for this shipment's lines is captured when the goods leave."""
        captured = await workflow.execute_activity_method(
            PaymentActivities.capture_payment,
            CaptureRequest(
                order_id=self._input.order_id,
                key=self._input.capture_key,
                authorization_id=self._input.authorization_id,
                amount_minor=self._input.amount_minor,
            ),
            summary=f"capture {self._input.amount_minor} for {self._input.shipment_id}",
            **activity_options.PAYMENT,
        )
        self._state.captured_minor = captured.amount_minor
        self._capture_id = captured.operation_id

    async def _advance(self, status: ShipmentStatus, note: str | None = None) -> None:
        self._state.status = status
        await workflow.get_external_workflow_handle(self._input.order_workflow_id).signal(
            SHIPMENT_PROGRESSED,
            ShipmentProgress(
                shipment_id=self._state.shipment_id,
                status=status,
                tracking_number=self._state.tracking_number,
                captured_minor=self._state.captured_minor,
                capture_id=self._capture_id,
                note=note,
            ),
        )
