"""The carrier interface and the simulated carrier's booking desk.

The simulated carrier books shipments into the store (from the worker's activities) and
issues return labels. Its other half, `adapters.carrier_simulator`, runs as a process of its
own and advances each booked shipment (`dispatched`, then `delivered`) after a delay by
posting to the same webhook a real carrier calls. Returns are not advanced by the carrier:
the warehouse reports a return's receipt itself.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

from pydantic import BaseModel
from sqlalchemy import Table, select

from domain.addresses import Address
from domain.shipments import AllocatedLine
from store.db import Store
from store.sandbox_tables import CarrierReturnLabel, CarrierShipment

log = logging.getLogger(__name__)

SHIPMENTS = cast(Table, CarrierShipment.__table__)
NEXT_STATUS = {"booked": "dispatched", "dispatched": "delivered"}
LABELS_URL = "https://labels.sandbox-carrier.test"


class Booking(BaseModel):
    shipment_id: str
    tracking_number: str


class ReturnLabel(BaseModel):
    return_id: str
    tracking_number: str
    label_url: str


class Carrier(Protocol):
    async def book(
        self,
        *,
        shipment_id: str,
        order_id: str,
        warehouse: str,
        address: Address,
        lines: list[AllocatedLine],
    ) -> Booking: ...

    async def cancel(self, shipment_id: str) -> bool: ...

    async def return_label(
        self,
        *,
        return_id: str,
        order_id: str,
        warehouse: str,
        address: Address,
        lines: list[AllocatedLine],
    ) -> ReturnLabel: ...


class SimulatedCarrier:
    """Books shipments; idempotent by shipment id (a retried booking returns the first)."""

    def __init__(self, store: Store, delay_s: float) -> None:
        self.store = store
        self.delay_s = delay_s

    async def book(
        self,
        *,
        shipment_id: str,
        order_id: str,
        warehouse: str,
        address: Address,
        lines: list[AllocatedLine],
    ) -> Booking:
        now = datetime.now(UTC)
        digest = hashlib.sha256(shipment_id.encode()).hexdigest()[:12].upper()
        row = {
            "shipment_id": shipment_id,
            "order_id": order_id,
            "warehouse": warehouse,
            "tracking_number": f"SIM{digest}",
            "status": "booked",
            "next_event_at": now + timedelta(seconds=self.delay_s),
            "created_at": now,
        }
        async with self.store.connection() as connection:
            # Insert-or-nothing: a booking made before keeps its row and its tracking number.
            written = await connection.execute(
                Store.insert_once(self.store.dialect, SHIPMENTS), row
            )
            tracking_number = row["tracking_number"]
            if written.first() is None:
                tracking_number = await connection.scalar(
                    select(CarrierShipment.tracking_number).where(
                        CarrierShipment.shipment_id == shipment_id
                    )
                )
        return Booking(shipment_id=shipment_id, tracking_number=tracking_number)

    async def cancel(self, shipment_id: str) -> bool:
        async with self.store.transaction() as session:
            row = await session.get(CarrierShipment, shipment_id)
            if row is None or row.status == "cancelled":
                return True
            if row.status != "booked":
                return False
            row.status = "cancelled"
            row.next_event_at = None
            return True

    async def return_label(
        self,
        *,
        return_id: str,
        order_id: str,
        warehouse: str,
        address: Address,
        lines: list[AllocatedLine],
    ) -> ReturnLabel:
        """A prepaid label from the customer's `address` back to `warehouse`; idempotent by
        return id (a retry gets the first label)."""
        digest = hashlib.sha256(return_id.encode()).hexdigest()[:12].upper()
        tracking_number = f"RET{digest}"
        async with self.store.transaction() as session:
            # Insert-or-nothing, so concurrent first requests cannot both try to create it.
            await session.execute(
                self.store.insert(CarrierReturnLabel)
                .values(
                    return_id=return_id,
                    order_id=order_id,
                    warehouse=warehouse,
                    tracking_number=tracking_number,
                    label_url=f"{LABELS_URL}/{tracking_number}.pdf",
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing()
            )
            row = await session.get(CarrierReturnLabel, return_id)
            if row is None:  # inserted above or before; never deleted
                raise RuntimeError(f"return label {return_id} vanished")
            return ReturnLabel(
                return_id=return_id, tracking_number=row.tracking_number, label_url=row.label_url
            )
