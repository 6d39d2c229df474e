"""Holds and reviews: what stops an order until a person (or its SLA) lets it go on."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from domain.statuses import CancelReason


class HoldReason(StrEnum):
    HIGH_RISK_OF_FRAUD = "HIGH_RISK_OF_FRAUD"
    INCORRECT_ADDRESS = "INCORRECT_ADDRESS"
    INVENTORY_OUT_OF_STOCK = "INVENTORY_OUT_OF_STOCK"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    OTHER = "OTHER"


class Hold(BaseModel):
    reason: HoldReason
    note: str | None = None
    actor: str
    at: datetime


class Review(BaseModel):
    """Why an order waits for a human, since when, and whether its SLA has run out."""

    step: str
    reason: str
    kind: Literal["fraud", "declined", "out_of_stock", "step_failed", "approval", "service_refused"]
    since: datetime
    escalated: bool = False
    cancel_reason: CancelReason | None = None
