"""What callers see of an order: `OrderView` and its `Totals`, and what is derived for them.

Statuses are computed from line buckets, payment and flow position, never stored; so are the
step the view names, shipments as shown and the voided amount. `at_rest` says whether an
order waits on the outside world. None of it feeds back into what a workflow does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from domain.addresses import Address
from domain.flows import FlowRef
from domain.holds import Hold, Review
from domain.lines import OrderLine
from domain.payment import Payment
from domain.returns import Appeasement, Return
from domain.shipments import License, Shipment, ShipmentStatus
from domain.statuses import (
    TERMINAL_STATUSES,
    CancelReason,
    FinancialStatus,
    FulfillmentStatus,
    OrderStatus,
)


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


# Where a step of the order's flow stands; `domain.diagrams` draws each as a class.
StepMark = Literal["running", "done", "waiting", "skipped", "compensated", "failed"]


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
    facts: dict[str, int | str | bool] = Field(default_factory=dict)  # from call steps
    progress: dict[str, StepMark] = Field(default_factory=dict)  # by step id
    placed_at: datetime
    updated_at: datetime


class ViewedOrder(Protocol):
    """What the derivations read of an order: `domain.orders.Order`, which builds its view
    from them (so this module cannot import it)."""

    @property
    def outcome(self) -> OrderStatus | None: ...
    @property
    def review(self) -> Review | None: ...
    @property
    def holds(self) -> Sequence[Hold]: ...
    @property
    def lines(self) -> Sequence[OrderLine]: ...
    @property
    def current_stage(self) -> str | None: ...
    @property
    def current_step(self) -> str | None: ...
    @property
    def payment(self) -> Payment: ...
    @property
    def total_minor(self) -> int: ...
    @property
    def return_window_closes_at(self) -> datetime | None: ...


def order_status(order: ViewedOrder) -> OrderStatus:
    if order.outcome is not None:
        return order.outcome
    if order.review is not None:
        return OrderStatus.NEEDS_REVIEW
    if order.holds:
        return OrderStatus.ON_HOLD
    active = sum(line.active_quantity for line in order.lines)
    delivered = sum(line.buckets.delivered + line.buckets.returned for line in order.lines)
    shipped = delivered + sum(line.buckets.shipped for line in order.lines)
    if active and delivered == active:
        return OrderStatus.DELIVERED
    if active and shipped == active:
        return OrderStatus.SHIPPED
    if shipped:
        return OrderStatus.PARTIALLY_SHIPPED
    if order.current_stage == "fulfillment":
        return OrderStatus.FULFILLING
    if order.current_step is None:
        return OrderStatus.RECEIVED
    return OrderStatus.PROCESSING


def financial_status(order: ViewedOrder) -> FinancialStatus:
    payment = order.payment
    if payment.refunded_minor:
        if payment.refunded_minor >= payment.captured_minor:
            return FinancialStatus.REFUNDED
        return FinancialStatus.PARTIALLY_REFUNDED
    if payment.captured_minor:
        if payment.captured_minor >= order.total_minor:
            return FinancialStatus.PAID
        return FinancialStatus.PARTIALLY_PAID
    if payment.voided:
        return FinancialStatus.VOIDED
    if payment.authorized_minor:
        return FinancialStatus.AUTHORIZED
    if order.outcome in (OrderStatus.CANCELLED, OrderStatus.FAILED):
        # Ended before any money was asked for (declined, fraud, no stock): none is expected.
        return FinancialStatus.NOT_CHARGED
    return FinancialStatus.PENDING


def fulfillment_status(order: ViewedOrder) -> FulfillmentStatus:
    active = sum(line.active_quantity for line in order.lines)
    sent = sum(
        line.buckets.shipped + line.buckets.delivered + line.buckets.returned
        for line in order.lines
    )
    if active and sent >= active:
        return FulfillmentStatus.FULFILLED
    if sent:
        return FulfillmentStatus.PARTIALLY_FULFILLED
    return FulfillmentStatus.UNFULFILLED


def voided_minor(payment: Payment) -> int:
    """What a void gave back, while the order's authorization stands voided (a new one, after
    a backtrack, replaces it)."""
    return payment.voided_minor if payment.voided else 0


def shown_step(order: ViewedOrder) -> str | None:
    """The step the view names. The workflow keeps the last step it ran until it finishes;
    once the order has ended, its window is open, or every unit is handed over, no step runs
    any more."""
    if order.outcome is not None or order.return_window_closes_at is not None:
        return None
    active = sum(line.active_quantity for line in order.lines)
    handed = sum(line.buckets.delivered + line.buckets.returned for line in order.lines)
    return None if active and handed == active else order.current_step


def shown_shipments(shipments: list[Shipment]) -> list[Shipment]:
    """Shipments as the view shows them: no line a cancel emptied, and no tracking number on
    a cancelled one (the carrier's booking is gone). The order's own records stay as they are."""
    shown = []
    for shipment in shipments:
        lines = [item for item in shipment.lines if item.quantity > 0]
        cancelled = shipment.status == ShipmentStatus.CANCELLED
        if len(lines) != len(shipment.lines) or (cancelled and shipment.tracking_number):
            tracking = None if cancelled else shipment.tracking_number
            shipment = shipment.model_copy(update={"lines": lines, "tracking_number": tracking})
        shown.append(shipment)
    return shown


def at_rest(view: OrderView, now: datetime | None = None) -> str | None:
    """Why the order will not move until the outside world does, or None while it is moving.

    "ended: …" for COMPLETED, CANCELLED and FAILED; "at rest: …" for an order that waits on
    a person, a customer or the calendar: a decision (NEEDS_REVIEW), a release of its holds
    (ON_HOLD), a pickup, a preorder's release date, or the return window (DELIVERED). With
    `now`, a release date already past is not a wait."""
    status = view.status
    if status in TERMINAL_STATUSES:
        why = view.cancel_reason.value if view.cancel_reason else view.failure
        return f"ended: {status.value}" + (f" ({why})" if why else "")
    if status == OrderStatus.NEEDS_REVIEW and view.review is not None:
        review = view.review
        return (
            f"at rest: NEEDS_REVIEW, waiting for a decision on {review.step} ({review.kind}: "
            f"{review.reason})"
        )
    if status == OrderStatus.ON_HOLD:
        holds = ", ".join(hold.reason.value for hold in view.holds)
        return f"at rest: ON_HOLD, waiting for a release of its holds ({holds})"
    if status == OrderStatus.DELIVERED:
        closes = view.return_window_closes_at
        if closes is None:
            return "at rest: DELIVERED"
        return (
            "at rest: DELIVERED, waiting for the return window to close on "
            f"{closes.isoformat(timespec='seconds')}"
        )
    if view.current_step == "await_pickup":
        return f"at rest: {status.value}, waiting for the customer to pick it up"
    release = max((line.release_date for line in view.lines if line.release_date), default=None)
    if view.current_step == "await_release" and release is not None:
        if now is None or now.date() < release:
            return f"at rest: {status.value}, waiting for the release date {release.isoformat()}"
    return None
