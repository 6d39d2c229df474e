"""Journal events: past-tense facts about one order, numbered by `seq`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

SYSTEM = "system"


class JournalEvent(BaseModel):
    order_id: str
    seq: int
    type: str  # past tense: OrderPlaced, PaymentAuthorized, ShipmentDispatched, ...
    at: datetime
    actor: str = SYSTEM
    reason: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
