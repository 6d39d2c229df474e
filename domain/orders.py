"""The order: the live state it keeps (`Order`), what it is placed from and what its
workflow carries live in `domain.order_state`.

`Order` moves units between its lines' buckets as stock is reserved, shipped and delivered;
`Order.view()` is what callers see (`domain.view`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.addresses import Address
from domain.flows import FlowRef
from domain.holds import Hold, Review
from domain.lines import OrderLine
from domain.payment import Payment
from domain.returns import RETURN_ENDS, Appeasement, Return
from domain.shipments import (
    SHIPMENT_PROGRESS,
    AllocatedLine,
    Allocation,
    License,
    Shipment,
    ShipmentStatus,
    carrying,
)
from domain.statuses import CancelReason, OrderStatus
from domain.view import (
    OrderView,
    StepMark,
    Totals,
    financial_status,
    fulfillment_status,
    order_status,
    shown_shipments,
    shown_step,
    voided_minor,
)


class Order(BaseModel):
    """The live state of one order, owned by its workflow."""

    order_id: str
    customer_id: str
    order_type: str
    flow: FlowRef
    currency: str
    lines: list[OrderLine]
    shipping_address: Address
    placed_at: datetime
    updated_at: datetime
    current_step: str | None = None
    current_stage: str | None = None
    payment: Payment = Field(default_factory=Payment)
    allocations: list[Allocation] = Field(default_factory=list)
    shipments: list[Shipment] = Field(default_factory=list)
    outcome: OrderStatus | None = None
    cancel_reason: CancelReason | None = None
    cancel_note: str | None = None  # why, in words: a decline's message, an operator's note
    failure: str | None = None
    holds: list[Hold] = Field(default_factory=list)
    review: Review | None = None
    licenses: list[License] = Field(default_factory=list)
    picked_up_by: str | None = None
    returns: list[Return] = Field(default_factory=list)
    appeasements: list[Appeasement] = Field(default_factory=list)
    return_window_closes_at: datetime | None = None
    # What the shop's own services answered (a call step's declared outputs), by name.
    facts: dict[str, int | str | bool] = Field(default_factory=dict)
    # Where each step of the flow stands, by step id (the order's diagram draws it).
    progress: dict[str, StepMark] = Field(default_factory=dict)

    def mark(self, step_id: str, mark: StepMark) -> None:
        self.progress[step_id] = mark

    def line(self, line_id: str) -> OrderLine:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise KeyError(line_id)

    def shipment(self, shipment_id: str) -> Shipment:
        for shipment in self.shipments:
            if shipment.shipment_id == shipment_id:
                return shipment
        raise KeyError(shipment_id)

    @property
    def subtotal_minor(self) -> int:
        return sum(line.unit_price_minor * line.quantity for line in self.lines)

    @property
    def cancelled_minor(self) -> int:
        return sum(line.unit_price_minor * line.buckets.cancelled for line in self.lines)

    @property
    def returned_minor(self) -> int:
        return sum(line.unit_price_minor * line.buckets.returned for line in self.lines)

    @property
    def total_minor(self) -> int:
        """What the customer owes for what they keep: not cancelled, not returned."""
        return self.subtotal_minor - self.cancelled_minor - self.returned_minor

    @property
    def appeased_minor(self) -> int:
        return sum(appeasement.amount_minor for appeasement in self.appeasements)

    def return_(self, return_id: str) -> Return:
        for ret in self.returns:
            if ret.return_id == return_id:
                return ret
        raise KeyError(return_id)

    def returnable(self, line_id: str) -> int:
        """Delivered units not already on their way back in an open return."""
        held = sum(
            item.quantity
            for ret in self.returns
            if ret.status not in RETURN_ENDS
            for item in ret.lines
            if item.line_id == line_id
        )
        return self.line(line_id).buckets.delivered - held

    @property
    def refundable_minor(self) -> int:
        """Money the order may still give back: captured, less refunded, less what open
        returns have set aside for their own refunds."""
        held = sum(ret.refund_limit_minor for ret in self.returns if ret.status not in RETURN_ENDS)
        return self.payment.captured_minor - self.payment.refunded_minor - held

    def amount_for(self, lines: list[AllocatedLine]) -> int:
        return sum(self.line(item.line_id).unit_price_minor * item.quantity for item in lines)

    def reserve(self, allocations: list[Allocation]) -> None:
        """Reserve every unit of the allocations, or (when one does not fit) none of them."""
        wanted: dict[str, int] = {}
        for allocation in allocations:
            for item in allocation.lines:
                if item.quantity < 0:
                    raise ValueError(f"line {item.line_id}: cannot reserve {item.quantity}")
                wanted[item.line_id] = wanted.get(item.line_id, 0) + item.quantity
        for line_id, quantity in wanted.items():
            if quantity > (pending := self.line(line_id).buckets.pending):
                raise ValueError(f"line {line_id}: cannot reserve {quantity} ({pending} waiting)")
        for line_id, quantity in wanted.items():
            self.line(line_id).move("pending", "reserved", quantity)
        self.allocations = allocations

    def cancellable(self, line_id: str) -> int:
        """Units that have not left a warehouse: the only ones a cancel can take."""
        buckets = self.line(line_id).buckets
        return buckets.pending + buckets.reserved

    def shipment_for(self, allocation: Allocation) -> Shipment | None:
        """The live or finished shipment carrying an allocation (not a cancelled one)."""
        return carrying(self.shipments, allocation)

    def shipment_left(self, allocation: Allocation) -> bool:
        shipment = self.shipment_for(allocation)
        return shipment is not None and shipment.has_left

    def release(self, allocation: Allocation) -> None:
        """Units of an allocation that never left go back to waiting for stock."""
        for item in allocation.lines:
            line = self.line(item.line_id)
            line.move("reserved", "pending", min(item.quantity, line.buckets.reserved))

    def progress_shipment(
        self, shipment_id: str, status: ShipmentStatus, captured_minor: int
    ) -> bool:
        """Apply a shipment's progress; False when it is old news (shipment events only
        move forward, so a repeated or late report changes nothing)."""
        shipment = self.shipment(shipment_id)
        if captured_minor > shipment.captured_minor:
            # Money is captured when goods leave, at most what the shipment's lines are worth:
            # a report claiming more (a forged or garbled signal) is refused, not believed.
            worth = self.amount_for(shipment.lines)
            if captured_minor > worth:
                raise ValueError(
                    f"shipment {shipment_id} carries {worth}; a capture of {captured_minor} "
                    "cannot be"
                )
            if status not in SHIPMENT_PROGRESS or SHIPMENT_PROGRESS.index(
                status
            ) < SHIPMENT_PROGRESS.index(ShipmentStatus.DISPATCHED):
                raise ValueError(f"shipment {shipment_id} is not dispatched; nothing is captured")
            self.payment.captured_minor += captured_minor - shipment.captured_minor
            shipment.captured_minor = captured_minor
        if status not in SHIPMENT_PROGRESS or shipment.status not in SHIPMENT_PROGRESS:
            return False
        if SHIPMENT_PROGRESS.index(status) <= SHIPMENT_PROGRESS.index(shipment.status):
            return False
        dispatched = SHIPMENT_PROGRESS.index(ShipmentStatus.DISPATCHED)
        if SHIPMENT_PROGRESS.index(shipment.status) < dispatched <= SHIPMENT_PROGRESS.index(status):
            for item in shipment.lines:
                self.line(item.line_id).move("reserved", "shipped", item.quantity)
        if status == ShipmentStatus.DELIVERED:
            for item in shipment.lines:
                self.line(item.line_id).move("shipped", "delivered", item.quantity)
        shipment.status = status
        return True

    def view(self) -> OrderView:
        return OrderView(
            order_id=self.order_id,
            customer_id=self.customer_id,
            order_type=self.order_type,
            flow=self.flow,
            status=order_status(self),
            financial_status=financial_status(self),
            fulfillment_status=fulfillment_status(self),
            current_step=shown_step(self),
            lines=self.lines,
            shipments=shown_shipments(self.shipments),
            totals=Totals(
                currency=self.currency,
                subtotal_minor=self.subtotal_minor,
                cancelled_minor=self.cancelled_minor,
                total_minor=self.total_minor,
                authorized_minor=self.payment.authorized_minor,
                captured_minor=self.payment.captured_minor,
                refunded_minor=self.payment.refunded_minor,
                returned_minor=self.returned_minor,
                appeased_minor=self.appeased_minor,
                voided_minor=voided_minor(self.payment),
            ),
            shipping_address=self.shipping_address,
            cancel_reason=self.cancel_reason,
            cancel_note=self.cancel_note,
            failure=self.failure,
            holds=self.holds,
            review=self.review,
            licenses=self.licenses,
            picked_up_by=self.picked_up_by,
            returns=self.returns,
            appeasements=self.appeasements,
            return_window_closes_at=self.return_window_closes_at,
            facts=dict(self.facts),
            progress=dict(self.progress),
            placed_at=self.placed_at,
            updated_at=self.updated_at,
        )
