"""Journal events: past-tense facts about one order, numbered by `seq`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.orders import OrderView

SYSTEM = "system"


class JournalEvent(BaseModel):
    order_id: str
    seq: int
    type: str  # past tense: OrderPlaced, PaymentAuthorized, ShipmentDispatched, ...
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
