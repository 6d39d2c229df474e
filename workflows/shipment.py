"""One shipment of an order: book it, follow the carrier's events, capture on dispatch.

`ShipmentRun` is a shipment's life, run inside the order's workflow with its activities
local and its reports applied in place (docs/decisions/0007-order-runs-in-process.md).
Orders that started before that run it as a child, `workflows.legacy.shipment`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.shipping import BookShipmentRequest, ShippingActivities
    from domain.addresses import Address
    from domain.order_state import OrderState
    from domain.orders import Order
    from domain.shipments import AllocatedLine, Shipment, ShipmentStatus
    from workflows import activity_options, effects

SHIPMENT_PROGRESSED = "shipment_progressed"  # the parent order's signal


class ShipmentInput(BaseModel):
    order_id: str
    order_workflow_id: str
    shipment_id: str
    warehouse: str
    lines: list[AllocatedLine]
    address: Address
    unit_prices: dict[str, int]  # line_id → unit price, to capture exactly what ships
    authorization_id: str
    capture_key: str
    capture_on_dispatch: bool = True


class CarrierEvent(BaseModel):
    """What a carrier reports through `POST /shipments/{shipment_id}/events`."""

    status: Literal["dispatched", "in_transit", "delivered", "exception"]
    event_id: str | None = None
    tracking_number: str | None = None
    occurred_at: datetime | None = None
    note: str | None = None


class CarrierReport(BaseModel):
    """A carrier event for one of the order's shipments: the order's `carrier_event` signal."""

    shipment_id: str
    event: CarrierEvent


class ShipmentProgress(BaseModel):
    shipment_id: str
    status: ShipmentStatus
    tracking_number: str | None = None
    captured_minor: int = 0
    capture_id: str | None = None
    note: str | None = None


class ShipmentChange(BaseModel):
    """The order asks to take units out of this shipment (a cancelled line, a backtrack)."""

    request_id: str
    remove: list[AllocatedLine]


class ShipmentChangeResult(BaseModel):
    request_id: str
    shipment_id: str
    accepted: bool
    reason: str | None = None
    status: ShipmentStatus


SHIPMENT_CHANGED = "shipment_changed"  # the parent order's signal


class ShipmentReports(Protocol):
    """Where a shipment reports: to its order, in place or by signal."""

    async def progressed(self, progress: ShipmentProgress) -> None: ...

    async def changed(self, result: ShipmentChangeResult) -> None: ...


# `(activity, arg, *, summary, **options)`: the order's `call`, or a regular activity.
ActivityCall = Callable[..., Awaitable[Any]]


class ShipmentRun:
    """A shipment from booking to delivery or cancellation.

    Carrier events and the order's change requests queue in one inbox, so whichever came
    first wins: a shipment dispatched before a change arrived refuses it."""

    def __init__(
        self, shipment: ShipmentInput, reports: ShipmentReports, call: ActivityCall
    ) -> None:
        self._input = shipment
        self._reports = reports
        self._call = call
        self.state = Shipment(
            shipment_id=shipment.shipment_id, warehouse=shipment.warehouse, lines=shipment.lines
        )
        self._inbox: list[CarrierEvent | ShipmentChange] = []
        self._seen_event_ids: set[str] = set()
        self._capture_id: str | None = None

    def carrier_event(self, event: CarrierEvent) -> None:
        # Carriers redeliver webhooks; an event id seen before changes nothing.
        if event.event_id is not None:
            if event.event_id in self._seen_event_ids:
                return
            self._seen_event_ids.add(event.event_id)
        self._inbox.append(event)

    def change(self, change: ShipmentChange) -> None:
        self._inbox.append(change)

    @property
    def ended(self) -> bool:
        return self.state.status in (ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED)

    async def run(self, waiting: Callable[[str], None] | None = None) -> Shipment:
        shipment = self._input
        booking = await self._call(
            ShippingActivities.book_shipment,
            BookShipmentRequest(
                shipment_id=shipment.shipment_id,
                order_id=shipment.order_id,
                warehouse=shipment.warehouse,
                address=shipment.address,
                lines=shipment.lines,
            ),
            summary=f"book {shipment.shipment_id} from {shipment.warehouse}",
            local=True,  # always the run's first step, whatever messages come
            **activity_options.CARRIER,
        )
        self.state.tracking_number = booking.tracking_number
        await self._advance(ShipmentStatus.BOOKED)
        while not self.ended:
            if waiting is not None:
                waiting(f"{self.state.status.value.lower()}: awaiting carrier")
            await workflow.wait_condition(lambda: bool(self._inbox))
            message = self._inbox.pop(0)
            if isinstance(message, ShipmentChange):
                await self._change(message)
            else:
                await self._handle(message)
        return self.state

    async def _handle(self, event: CarrierEvent) -> None:
        if event.tracking_number:
            self.state.tracking_number = event.tracking_number
        status = self.state.status
        if event.status == "exception":
            await self._advance(status, note=event.note or "carrier exception")
            return
        # A carrier may skip a step (delivered without dispatched): run the missed ones in order.
        if status == ShipmentStatus.BOOKED:
            if self._input.capture_on_dispatch:
                await self._capture()
            await self._advance(ShipmentStatus.DISPATCHED)
        if event.status == "in_transit" and self.state.status == ShipmentStatus.DISPATCHED:
            await self._advance(ShipmentStatus.IN_TRANSIT)
        if event.status == "delivered":
            await self._advance(ShipmentStatus.DELIVERED)

    async def _change(self, change: ShipmentChange) -> None:
        accepted, reason = await self._remove(change.remove)
        await self._reports.changed(
            ShipmentChangeResult(
                request_id=change.request_id,
                shipment_id=self.state.shipment_id,
                accepted=accepted,
                reason=reason,
                status=self.state.status,
            )
        )

    async def _remove(self, remove: list[AllocatedLine]) -> tuple[bool, str | None]:
        if self.state.has_left:
            return False, f"shipment {self.state.shipment_id} was dispatched; use returns"
        left: dict[str, int] = {item.line_id: item.quantity for item in self.state.lines}
        for item in remove:
            if left.get(item.line_id, 0) < item.quantity:
                return False, f"shipment {self.state.shipment_id} holds fewer {item.line_id}"
            left[item.line_id] -= item.quantity
        if not any(left.values()):
            cancelled = await self._call(
                ShippingActivities.cancel_shipment,
                self.state.shipment_id,
                summary=f"cancel {self.state.shipment_id} with the carrier",
                **activity_options.CARRIER,
            )
            if not cancelled:
                return False, f"the carrier already picked up {self.state.shipment_id}"
            self.state.status = ShipmentStatus.CANCELLED
        self.state.lines = [
            item.model_copy(update={"quantity": left[item.line_id]})
            for item in self.state.lines
            if left[item.line_id]
        ]
        return True, None

    async def _capture(self) -> None:
        """Payment for this shipment's lines is captured when the goods leave."""
        captured = await effects.capture(
            self._call,
            order_id=self._input.order_id,
            key=self._input.capture_key,
            authorization_id=self._input.authorization_id,
            amount_minor=self._amount,
            summary=f"capture {self._amount} for {self._input.shipment_id}",
            local=True,  # on the carrier's event, which the history orders
        )
        self.state.captured_minor = captured.amount_minor
        self._capture_id = captured.operation_id

    @property
    def _amount(self) -> int:
        return sum(self._input.unit_prices[i.line_id] * i.quantity for i in self.state.lines)

    async def _advance(self, status: ShipmentStatus, note: str | None = None) -> None:
        self.state.status = status
        await self._reports.progressed(
            ShipmentProgress(
                shipment_id=self.state.shipment_id,
                status=status,
                tracking_number=self.state.tracking_number,
                captured_minor=self.state.captured_minor,
                capture_id=self._capture_id,
                note=note,
            )
        )


@dataclass
class ShipmentWatch:
    task: asyncio.Task[None]
    failure: str | None = None
    run: ShipmentRun | None = None  # None for a shipment carried by a child workflow


class ShipmentsHost(Protocol):
    """What the shipments use of the order they belong to."""

    @property
    def order(self) -> Order: ...

    @property
    def state(self) -> OrderState: ...

    def record(
        self, type: str, *, actor: str = ..., reason: str | None = ..., **data: Any
    ) -> None: ...

    def next_key(self, purpose: str) -> str: ...

    async def call(
        self, activity: Any, arg: Any, *, summary: str, local: bool = ..., **options: Any
    ) -> Any: ...
