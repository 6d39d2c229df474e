"""How units reach the customer: stock allocated in a warehouse, the shipment it becomes
(numbered `{order_id}-{n}`), and the license keys digital units are delivered as."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


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


class AllocatedLine(BaseModel):
    line_id: str
    sku: str
    quantity: int


class Allocation(BaseModel):
    """Stock reserved in one warehouse; becomes one shipment."""

    reservation_id: str
    warehouse: str
    lines: list[AllocatedLine]


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


def carrying(shipments: list[Shipment], allocation: Allocation) -> Shipment | None:
    """The live or finished shipment carrying an allocation (not a cancelled one)."""
    for shipment in shipments:
        if (
            shipment.reservation_id == allocation.reservation_id
            and shipment.warehouse == allocation.warehouse
            and shipment.status != ShipmentStatus.CANCELLED
        ):
            return shipment
    return None
