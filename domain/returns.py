"""After delivery: returns, exchanges, appeasements, and the terms that bound them.

A return takes delivered units back; each is a `ReturnWorkflow` child of the order
(`return-{return_id}`, `return_id` = `{order_id}-{n}`). An exchange is a return whose line
names a replacement SKU: the replacement ships as a new line of the same order, and only a
price difference moves money. An appeasement refunds an amount without a return.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ConcessionTerms(BaseModel):
    """What an order allows after delivery; fixed at placement like the flow snapshot."""

    return_window_s: int = Field(30 * 24 * 3600, gt=0, description="returns accepted this long")
    return_auto_approve_below_minor: int = Field(
        10_000, ge=0, description="returns worth less are approved without a person"
    )
    return_receipt_window_s: int = Field(
        14 * 24 * 3600, gt=0, description="an approved return expires if not received by then"
    )
    reward_points_per_unit: int = Field(
        1, ge=0, description="loyalty points per whole currency unit delivered; 0 turns them off"
    )
    continue_as_new_after_events: int | None = Field(
        None,
        gt=0,
        description="start a fresh run past this history length (besides the server's"
        " own suggestion)",
    )


class ReturnCondition(StrEnum):
    RESELLABLE = "resellable"
    DAMAGED = "damaged"


class ReturnStatus(StrEnum):
    REQUESTED = "REQUESTED"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    AWAITING_RECEIPT = "AWAITING_RECEIPT"  # approved, label issued, parcel on its way back
    RECEIVED = "RECEIVED"
    COMPLETED = "COMPLETED"  # restocked and refunded
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"  # approved, never received within the receipt window
    FAILED = "FAILED"  # a step of the return failed for good; a person takes it from there


# The order in which a return moves; REJECTED and EXPIRED end it early.
RETURN_PROGRESS = [
    ReturnStatus.REQUESTED,
    ReturnStatus.NEEDS_REVIEW,
    ReturnStatus.AWAITING_RECEIPT,
    ReturnStatus.RECEIVED,
    ReturnStatus.COMPLETED,
]
RETURN_ENDS = frozenset(
    {ReturnStatus.COMPLETED, ReturnStatus.REJECTED, ReturnStatus.EXPIRED, ReturnStatus.FAILED}
)


class ReturnLine(BaseModel):
    """A line's units on their way back, priced as they were sold."""

    line_id: str
    sku: str
    quantity: int
    unit_price_minor: int
    warehouse: str  # where the units came from, and go back to
    replacement_sku: str | None = None
    replacement_name: str | None = None
    replacement_unit_price_minor: int | None = None


class ReceivedLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: str = Field(min_length=1, max_length=40)
    quantity: int = Field(gt=0, le=1000)
    condition: ReturnCondition


class ReturnReceipt(BaseModel):
    """What the warehouse reports through `POST /returns/{return_id}/events`."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["received"]
    lines: list[ReceivedLine] = Field(min_length=1, max_length=100)
    note: str | None = Field(None, max_length=1000)


class ReturnDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ReturnDecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: ReturnDecision
    note: str | None = Field(None, max_length=1000)
    actor: str | None = Field(None, max_length=120, description="set by the API from the key")


class Return(BaseModel):
    """One return as the order and its customer see it."""

    return_id: str
    lines: list[ReturnLine]
    reason: str
    requested_by: str
    requested_at: datetime
    status: ReturnStatus = ReturnStatus.REQUESTED
    refund_limit_minor: int = 0  # set aside from the order's refundable money at request
    tracking_number: str | None = None
    label_url: str | None = None
    decided_by: str | None = None
    decision_note: str | None = None
    received: list[ReceivedLine] = Field(default_factory=list)
    restocked: dict[str, int] = Field(default_factory=dict)  # line id → units back on sale
    refunded_minor: int = 0
    refund_id: str | None = None

    @property
    def value_minor(self) -> int:
        return sum(line.unit_price_minor * line.quantity for line in self.lines)

    @property
    def is_open(self) -> bool:
        return self.status not in RETURN_ENDS

    def line(self, line_id: str) -> ReturnLine:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise KeyError(line_id)

    def received_units(self) -> dict[str, int]:
        units: dict[str, int] = {}
        for item in self.received:
            units[item.line_id] = units.get(item.line_id, 0) + item.quantity
        return units

    def refund_due_minor(self) -> int:
        """What the received units are worth, less those exchanged (an exchange swaps goods)."""
        return sum(
            self.line(line_id).unit_price_minor * quantity
            for line_id, quantity in self.received_units().items()
            if self.line(line_id).replacement_sku is None
        )


def receipt_error(ret: Return, receipt: ReturnReceipt) -> str | None:
    """Why a warehouse receipt cannot be taken for this return, or None."""
    if ret.status != ReturnStatus.AWAITING_RECEIPT:
        status = ret.status.value
        return f"return {ret.return_id} is {status}; only AWAITING_RECEIPT takes a receipt"
    units: dict[str, int] = {}
    for index, item in enumerate(receipt.lines):
        try:
            expected = ret.line(item.line_id).quantity
        except KeyError:
            known = ", ".join(line.line_id for line in ret.lines)
            return f"lines.{index}.line_id: {item.line_id} is not in this return (it has {known})"
        units[item.line_id] = units.get(item.line_id, 0) + item.quantity
        if units[item.line_id] > expected:
            return (
                f"lines.{index}.quantity: {units[item.line_id]} units of {item.line_id} received, "
                f"but the return has {expected}"
            )
    return None


class Appeasement(BaseModel):
    appeasement_id: str
    amount_minor: int
    reason: str
    actor: str
    at: datetime
    refund_id: str | None = None


class ReturnProgress(BaseModel):
    """A return's workflow reporting to its order: where the return stands, and why."""

    ret: Return
    note: str | None = None
