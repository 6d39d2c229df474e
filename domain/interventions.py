"""What operators and customers can ask of a running order, and the order's answer to it.

Each request is the JSON body of both an update and a signal of the same name, and of
`POST /orders/{order_id}/{name}`. `actor` is filled in by the API from the caller's key;
a signal from the Web UI or the CLI may name one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.addresses import Address
from domain.holds import HoldReason
from domain.statuses import CancelReason
from domain.text import refuse_control_characters


class _Request(BaseModel):
    """A request's text goes to the journal as it is: it holds no control characters
    (PostgreSQL text cannot hold NUL), whichever door it came in by."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        return refuse_control_characters(value) if isinstance(value, str) else value


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    RETRY = "retry"
    SKIP = "skip"
    CANCEL = "cancel"


class InterventionRequest(_Request):
    actor: str | None = Field(None, max_length=120, description="set by the API from the key")
    note: str | None = Field(None, max_length=1000)


class LineQuantity(_Request):
    line_id: str = Field(min_length=1, max_length=40)
    quantity: int = Field(gt=0, le=1000)


class CancelRequest(InterventionRequest):
    reason: CancelReason
    lines: list[LineQuantity] | None = Field(
        None, min_length=1, max_length=100, description="omit to cancel the whole order"
    )


class HoldRequest(InterventionRequest):
    reason: HoldReason


class ReleaseRequest(InterventionRequest):
    reason: HoldReason | None = Field(None, description="which hold; omit to release all")


class BacktrackRequest(InterventionRequest):
    to_step: str = Field(min_length=1, max_length=60)
    reason: str = Field(min_length=1, max_length=500)
    dry_run: bool = False


class SkipRequest(InterventionRequest):
    step: str = Field(min_length=1, max_length=60)
    reason: str = Field(min_length=1, max_length=500)


class ReviewRequest(InterventionRequest):
    decision: ReviewDecision
    reason: CancelReason | None = Field(None, description="cancel reason when deciding cancel")


class AddressCorrection(InterventionRequest):
    shipping_address: Address


class PickupRequest(InterventionRequest):
    """The customer collected a pickup order at the store."""

    picked_up_by: str | None = Field(None, max_length=200, description="who collected it")


class ReturnLineRequest(_Request):
    line_id: str = Field(min_length=1, max_length=40)
    quantity: int = Field(gt=0, le=1000)
    replacement_sku: str | None = Field(
        None, min_length=1, max_length=64, description="exchange: ship this SKU instead"
    )


class ReturnRequest(InterventionRequest):
    """Send delivered units back, for a refund or (with `replacement_sku`) an exchange."""

    lines: list[ReturnLineRequest] = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500)


class AppeasementRequest(InterventionRequest):
    """Refund an amount as goodwill, without a return."""

    amount_minor: int = Field(gt=0, description="minor units of the order's currency")
    reason: str = Field(min_length=1, max_length=500)


INTERVENTIONS: dict[str, type[InterventionRequest]] = {
    "cancel": CancelRequest,
    "hold": HoldRequest,
    "release": ReleaseRequest,
    "backtrack": BacktrackRequest,
    "skip": SkipRequest,
    "review": ReviewRequest,
    "correct_address": AddressCorrection,
    "pickup": PickupRequest,
    "request_return": ReturnRequest,
    "appease": AppeasementRequest,
}


class CompensationAction(BaseModel):
    """One effect to reverse: what a backtrack or a failure undoes, in order."""

    step: str
    action: Literal[
        "cancel_shipment", "void_authorization", "refund_payment", "release_inventory", "undo_call"
    ]
    target: str  # shipment id, authorization id, reservation id, or the endpoint to call
    warehouse: str | None = None
    amount_minor: int | None = None
    description: str


class BacktrackPlan(BaseModel):
    to_step: str
    undo_steps: list[str]  # newest first
    actions: list[CompensationAction]  # executed in this order
    rerun_steps: list[str]  # each with a new epoch
