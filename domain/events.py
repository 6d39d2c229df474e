"""Journal events: past-tense facts about one order, numbered by `seq`.

`EventType` names every event the workflows write. `JournalEvent.type` stays a `str`: a
journal keeps what it was given, including names no longer written.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from domain.notifications import Notification
from domain.view import OrderView

SYSTEM = "system"


class EventType(StrEnum):
    """The journal's event names. A `StrEnum`: each member equals (and serializes as) its name,
    so `EventType.ORDER_PLACED == "OrderPlaced"` and journals read the same either way."""

    # The order's life: placed, checked, and how it ended.
    ORDER_PLACED = "OrderPlaced"
    ORDER_VALIDATED = "OrderValidated"
    FRAUD_CHECKED = "FraudChecked"
    ORDER_COMPLETED = "OrderCompleted"
    ORDER_CANCELLED = "OrderCancelled"
    ORDER_FAILED = "OrderFailed"
    ORDER_CONTINUED = "OrderContinued"  # a long-lived order went on in a new run (continue-as-new)

    # Running the flow: steps, reviews, skips and backtracks.
    STEP_FAILED = "StepFailed"
    STEP_SKIPPED = "StepSkipped"  # skipped by request, or its condition was not met
    STEP_SKIP_REQUESTED = "StepSkipRequested"  # a skip asked for ahead of the step
    REVIEW_REQUESTED = "ReviewRequested"  # the order waits in NEEDS_REVIEW for a decision
    REVIEW_ESCALATED = "ReviewEscalated"  # the review's SLA ran out once
    REVIEW_DECIDED = "ReviewDecided"
    BACKTRACKED_TO = "BacktrackedTo"  # the flow went back to an earlier step
    RELEASE_DATE_REACHED = "ReleaseDateReached"  # a preorder's items may now ship
    BRANCHES_STARTED = "BranchesStarted"  # a parallel block's branches set off side by side
    BRANCHES_JOINED = "BranchesJoined"  # every branch of a parallel block has finished
    BRANCHES_STOPPED = "BranchesStopped"  # a branch failed; its siblings stopped at a safe point

    # The shop's own services (call steps).
    SERVICE_CALLED = "ServiceCalled"  # a service answered; its outputs are the order's facts
    SERVICE_CALL_UNDONE = "ServiceCallUndone"  # its compensation endpoint took the undo
    SERVICE_UNDO_FAILED = "ServiceUndoFailed"  # the compensation endpoint refused the undo

    # Interventions and messages from outside.
    ORDER_HELD = "OrderHeld"
    HOLD_RELEASED = "HoldReleased"
    LINES_CANCELLED = "LinesCancelled"  # a partial cancel: some units, not the order
    SHIPPING_ADDRESS_CORRECTED = "ShippingAddressCorrected"
    INTERVENTION_REJECTED = "InterventionRejected"  # a signal asking for one was refused
    SIGNAL_REJECTED = "SignalRejected"  # a report (shipment, return, ...) that could not be used

    # Payment.
    PAYMENT_AUTHORIZED = "PaymentAuthorized"
    PAYMENT_DECLINED = "PaymentDeclined"
    PAYMENT_CAPTURED = "PaymentCaptured"
    PAYMENT_REFUNDED = "PaymentRefunded"  # money back for cancelled lines or in compensation
    PAYMENT_VOIDED = "PaymentVoided"  # the authorization's uncaptured part was given back

    # Stock, shipments and the other ways goods reach the customer.
    INVENTORY_RESERVED = "InventoryReserved"
    INVENTORY_RELEASED = "InventoryReleased"  # a reservation undone in compensation
    SHIPMENT_CREATED = "ShipmentCreated"
    SHIPMENT_BOOKED = "ShipmentBooked"
    SHIPMENT_DISPATCHED = "ShipmentDispatched"
    SHIPMENT_IN_TRANSIT = "ShipmentInTransit"
    SHIPMENT_DELIVERED = "ShipmentDelivered"
    SHIPMENT_EXCEPTION = "ShipmentException"  # the carrier reported a problem
    SHIPMENT_CANCELLED = "ShipmentCancelled"
    LICENSES_ISSUED = "LicensesIssued"  # keys for digital units
    PICKUP_READY = "PickupReady"  # the customer was told the order waits in store
    PICKUP_CONFIRMED = "PickupConfirmed"  # a person confirmed the customer took it
    PICKED_UP = "PickedUp"  # the pickup step handed the goods over

    # After delivery: the return window, returns and exchanges.
    RETURN_WINDOW_OPENED = "ReturnWindowOpened"
    RETURN_WINDOW_CLOSED = "ReturnWindowClosed"
    RETURN_REQUESTED = "ReturnRequested"
    RETURN_REVIEW_REQUESTED = "ReturnReviewRequested"  # worth too much to approve unseen
    RETURN_APPROVED = "ReturnApproved"
    RETURN_REJECTED = "ReturnRejected"
    RETURN_LABEL_ISSUED = "ReturnLabelIssued"
    RETURN_RECEIVED = "ReturnReceived"
    RETURN_RESTOCKED = "ReturnRestocked"
    RETURN_COMPLETED = "ReturnCompleted"
    RETURN_EXPIRED = "ReturnExpired"  # approved, but never received in time
    RETURN_FAILED = "ReturnFailed"
    REFUND_ISSUED = "RefundIssued"  # money back after delivery: a return, appeasement, exchange
    EXCHANGE_LINE_ADDED = "ExchangeLineAdded"  # an exchange's replacement joined the order
    EXCHANGE_FAILED = "ExchangeFailed"  # the replacement could not be sent; refunded instead
    APPEASEMENT_REQUESTED = "AppeasementRequested"  # goodwill money, without a return
    APPEASEMENT_ISSUED = "AppeasementIssued"

    # Loyalty points.
    POINTS_AWARDED = "PointsAwarded"  # pending until the return window closes
    POINTS_CLAWED_BACK = "PointsClawedBack"  # returned units take their points back
    POINTS_GRANTED = "PointsGranted"


class JournalEvent(BaseModel):
    order_id: str
    seq: int
    type: str  # an `EventType`; a `str` so that journals keep names no longer written
    at: datetime
    actor: str = SYSTEM
    reason: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class JournalBatch(BaseModel):
    """Events written together, with the order as it stood after the last of them.

    The view travels with the events so the read model (the order list, the line buckets)
    is a fold over the journal alone: `oms projections rebuild` needs nothing else.
    """

    events: list[JournalEvent]
    view: OrderView | None = None
    # Messages to the customer that these events call for, queued in the same transaction
    # (once per key), so that an order's last batch needs no local activity of its own.
    notices: list[Notification] = Field(default_factory=list)
