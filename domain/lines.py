"""Order lines: a line as placed (`PricedLine`), and as the order keeps it (`OrderLine`),
with the buckets that say where each of its units is."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

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
