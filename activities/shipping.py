"""Shipping activities: book a shipment with the carrier (idempotent by shipment id) and
issue return labels (idempotent by return id)."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from adapters.carrier import Booking, Carrier, ReturnLabel
from domain.addresses import Address
from domain.shipments import AllocatedLine


class BookShipmentRequest(BaseModel):
    shipment_id: str
    order_id: str
    warehouse: str
    address: Address
    lines: list[AllocatedLine]


class ReturnLabelRequest(BaseModel):
    return_id: str
    order_id: str
    warehouse: str
    address: Address
    lines: list[AllocatedLine]


class ShippingActivities:
    def __init__(self, carrier: Carrier) -> None:
        self.carrier = carrier

    @activity.defn
    async def book_shipment(self, request: BookShipmentRequest) -> Booking:
        return await self.carrier.book(
            shipment_id=request.shipment_id,
            order_id=request.order_id,
            warehouse=request.warehouse,
            address=request.address,
            lines=request.lines,
        )

    @activity.defn
    async def cancel_shipment(self, shipment_id: str) -> bool:
        """Tell the carrier not to pick the shipment up; False if it already left."""
        return await self.carrier.cancel(shipment_id)

    @activity.defn
    async def create_return_label(self, request: ReturnLabelRequest) -> ReturnLabel:
        """A prepaid label for the customer to send returned lines back to the warehouse."""
        return await self.carrier.return_label(
            return_id=request.return_id,
            order_id=request.order_id,
            warehouse=request.warehouse,
            address=request.address,
            lines=request.lines,
        )
