"""The order: its lines and quantity buckets, payment, allocations and shipments.

`Order` is the live state the order workflow keeps; `OrderView` is what callers see.
Statuses are never set by hand: they are derived in `domain.status`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from domain.countries import CountryCode
from domain.flows import FlowDefinition, FlowRef
from domain.returns import RETURN_ENDS, Appeasement, ConcessionTerms, Return
from domain.text import refuse_control_characters


class OrderStatus(StrEnum):
    RECEIVED = "RECEIVED"
    PROCESSING = "PROCESSING"
    ON_HOLD = "ON_HOLD"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    FULFILLING = "FULFILLING"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


TERMINAL_STATUSES = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.FAILED})


class FinancialStatus(StrEnum):
    PENDING = "PENDING"
    AUTHORIZED = "AUTHORIZED"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    VOIDED = "VOIDED"
    NOT_CHARGED = "NOT_CHARGED"  # ended without ever taking or holding money


class FulfillmentStatus(StrEnum):
    UNFULFILLED = "UNFULFILLED"
    PARTIALLY_FULFILLED = "PARTIALLY_FULFILLED"
    FULFILLED = "FULFILLED"


class CancelReason(StrEnum):
    """Shopify's cancel reasons, plus PAYMENT_DECLINED for the automatic decline path."""

    CUSTOMER = "CUSTOMER"
    FRAUD = "FRAUD"
    INVENTORY = "INVENTORY"
    DECLINED = "DECLINED"
    STAFF = "STAFF"
    OTHER = "OTHER"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"


class HoldReason(StrEnum):
    HIGH_RISK_OF_FRAUD = "HIGH_RISK_OF_FRAUD"
    INCORRECT_ADDRESS = "INCORRECT_ADDRESS"
    INVENTORY_OUT_OF_STOCK = "INVENTORY_OUT_OF_STOCK"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    OTHER = "OTHER"


class ShipmentStatus(StrEnum):
    PENDING = "PENDING"
    BOOKED = "BOOKED"
    DISPATCHED = "DISPATCHED"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"
    CANCELLED = "CANCELLED"


# The order in which a shipment moves; EXCEPTION and CANCELLED are side states.
SHIPMENT_PROGRESS = [
    ShipmentStatus.PENDING,
    ShipmentStatus.BOOKED,
    ShipmentStatus.DISPATCHED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.DELIVERED,
]


class Address(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: CountryCode

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL: refused here, whichever door the address came in by.
        return refuse_control_characters(value) if isinstance(value, str) else value


ItemKind = Literal["physical", "digital"]


class PricedLine(BaseModel):
    """A line as placed: the price comes from the catalog at placement, never from the client."""

    line_id: str
    sku: str
    name: str
    unit_price_minor: int = Field(ge=0)
    quantity: int = Field(gt=0)
    kind: ItemKind = "physical"
    release_date: date | None = None  # a preorder item ships from this day on


EXCLUSIVE_BUCKETS = ("pending", "reserved", "shipped", "delivered", "cancelled", "returned")


class LineBuckets(BaseModel):
    """Where each unit of a line is. The exclusive buckets always add up to the ordered quantity;
    `refunded` counts units whose money went back and overlaps `cancelled` and `returned`."""

    pending: int = 0  # ordered, not yet reserved in a warehouse
    reserved: int = 0  # reserved, not yet dispatched
    shipped: int = 0  # dispatched, not yet delivered
    delivered: int = 0
    cancelled: int = 0
    returned: int = 0
    refunded: int = 0

    def total(self) -> int:
        return (
            self.pending
            + self.reserved
            + self.shipped
            + self.delivered
            + self.cancelled
            + self.returned
        )


class OrderLine(BaseModel):
    line_id: str
    sku: str
    name: str
    unit_price_minor: int
    quantity: int
    buckets: LineBuckets
    kind: ItemKind = "physical"
    release_date: date | None = None
    replaces: str | None = None  # an exchange's replacement names the line it replaces

    @property
    def active_quantity(self) -> int:
        return self.quantity - self.buckets.cancelled

    def move(self, source: str, target: str, quantity: int) -> None:
        """Move units between exclusive buckets; refuses to make any bucket negative, and
        refuses a name that is not an exclusive bucket (`refunded` overlaps them)."""
        for name in (source, target):
            if name not in EXCLUSIVE_BUCKETS:
                raise ValueError(
                    f"line {self.line_id}: cannot move units to or from {name!r}; "
                    f"the buckets are {', '.join(EXCLUSIVE_BUCKETS)}"
                )
        have = getattr(self.buckets, source)
        if quantity < 0 or quantity > have:
            raise ValueError(
                f"line {self.line_id}: cannot move {quantity} from {source} (has {have})"
            )
        setattr(self.buckets, source, have - quantity)
        setattr(self.buckets, target, getattr(self.buckets, target) + quantity)


class OrderInput(BaseModel):
    """Everything an order workflow starts from, including the snapshot of its flow."""

    order_id: str
    customer_id: str
    order_type: str
    currency: str
    lines: list[PricedLine]
    shipping_address: Address
    payment_token: str
    placed_at: datetime
    flow: FlowDefinition
    review_sla_s: int = Field(48 * 3600, gt=0, description="escalate, then auto-cancel, after")
    pickup_window_s: int = Field(3 * 24 * 3600, gt=0, description="pickup orders wait this long")
    concessions: ConcessionTerms = Field(default_factory=ConcessionTerms)
    carried: CarriedOrder | None = Field(
        None, description="set when a long-lived order continues as new: its state so far"
    )


class AllocatedLine(BaseModel):
    line_id: str
    sku: str
    quantity: int


class Allocation(BaseModel):
    """Stock reserved in one warehouse; becomes one shipment."""

    reservation_id: str
    warehouse: str
    lines: list[AllocatedLine]


class Payment(BaseModel):
    authorization_id: str | None = None
    authorized_minor: int = 0
    authorized_at: datetime | None = None  # authorizations expire (7 days) and are renewed
    captured_minor: int = 0
    refunded_minor: int = 0
    voided: bool = False
    voided_minor: int = 0  # what the void gave back; kept, as exchanges add to captured_minor
    # Exchanges that cost more are charged on authorizations of their own.
    extra_authorizations: list[str] = Field(default_factory=list)

    def void(self) -> None:
        """The authorization's uncaptured part goes back; nothing more is captured on it."""
        self.voided_minor = self.authorized_minor - self.captured_minor
        self.voided = True


class License(BaseModel):
    line_id: str
    key: str


def shipment_id_for(order_id: str, number: int) -> str:
    """An order numbers its shipments from 1: `{order_id}-{n}`."""
    return f"{order_id}-{number}"


def parse_shipment_id(shipment_id: str) -> tuple[str, int] | None:
    """The order and the number a shipment id names, or None when it is not one."""
    order_id, dash, number = shipment_id.rpartition("-")
    if not (dash and order_id and number.isdigit()):
        return None
    return order_id, int(number)


class Shipment(BaseModel):
    shipment_id: str
    warehouse: str
    reservation_id: str | None = None
    lines: list[AllocatedLine]
    status: ShipmentStatus = ShipmentStatus.PENDING
    tracking_number: str | None = None
    captured_minor: int = 0

    @property
    def has_left(self) -> bool:
        """The goods are out of the warehouse: dispatched, in transit or delivered."""
        return self.status in (
            ShipmentStatus.DISPATCHED,
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.DELIVERED,
        )


class Hold(BaseModel):
    reason: HoldReason
    note: str | None = None
    actor: str
    at: datetime


class Review(BaseModel):
    """Why an order waits for a human, since when, and whether its SLA has run out."""

    step: str
    reason: str
    kind: Literal["fraud", "declined", "out_of_stock", "step_failed", "approval"]
    since: datetime
    escalated: bool = False
    cancel_reason: CancelReason | None = None


class Totals(BaseModel):
    currency: str
    subtotal_minor: int
    cancelled_minor: int
    total_minor: int
    authorized_minor: int
    captured_minor: int
    refunded_minor: int
    returned_minor: int = 0  # what returned units were worth (already out of total_minor)
    appeased_minor: int = 0  # refunded as goodwill, on top of returns
    voided_minor: int = 0  # the authorization's uncaptured part, given back by a void


class OrderView(BaseModel):
    order_id: str
    customer_id: str
    order_type: str
    flow: FlowRef
    status: OrderStatus
    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    current_step: str | None
    lines: list[OrderLine]
    shipments: list[Shipment]
    totals: Totals
    shipping_address: Address
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
    placed_at: datetime
    updated_at: datetime


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

    @classmethod
    def place(cls, order: OrderInput) -> Order:
        return cls(
            order_id=order.order_id,
            customer_id=order.customer_id,
            order_type=order.order_type,
            flow=order.flow.ref,
            currency=order.currency,
            lines=[
                OrderLine(
                    line_id=line.line_id,
                    sku=line.sku,
                    name=line.name,
                    unit_price_minor=line.unit_price_minor,
                    quantity=line.quantity,
                    buckets=LineBuckets(pending=line.quantity),
                    kind=line.kind,
                    release_date=line.release_date,
                )
                for line in order.lines
            ],
            shipping_address=order.shipping_address,
            placed_at=order.placed_at,
            updated_at=order.placed_at,
        )

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
        from domain.status import (
            financial_status,
            fulfillment_status,
            order_status,
            shown_shipments,
            shown_step,
            voided_minor,
        )

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
            placed_at=self.placed_at,
            updated_at=self.updated_at,
        )


class CarriedOrder(BaseModel):
    """What a new run of a long-lived order starts from when it continues as new."""

    order: Order
    seq: int  # the journal's last sequence number
    counters: dict[str, int]
    epochs: dict[str, int]
    completed: list[str]
    rewards_started: bool = False
    rewards_in_order: bool = False  # False: a `RewardsWorkflow` child keeps the points


OrderInput.model_rebuild()
