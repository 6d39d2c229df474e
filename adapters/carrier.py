"""The carrier interface and the simulated carrier.

The simulated carrier books shipments into the store and, from the API process, advances
each one (`dispatched`, then `delivered`) after a delay by posting to the same webhook a real
carrier calls: `POST /shipments/{shipment_id}/events`. It also issues return labels; returns
are not advanced by the carrier: the warehouse reports a return's receipt itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
from pydantic import BaseModel
from sqlalchemy import select

from domain.orders import Address, AllocatedLine
from store.db import Store
from store.tables import CarrierReturnLabel, CarrierShipment

log = logging.getLogger(__name__)

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
        async with self.store.transaction() as session:
            row = await session.get(CarrierShipment, shipment_id)
            if row is None:
                now = datetime.now(UTC)
                digest = hashlib.sha256(shipment_id.encode()).hexdigest()[:12].upper()
                row = CarrierShipment(
                    shipment_id=shipment_id,
                    order_id=order_id,
                    warehouse=warehouse,
                    tracking_number=f"SIM{digest}",
                    status="booked",
                    next_event_at=now + timedelta(seconds=self.delay_s),
                    created_at=now,
                )
                session.add(row)
            return Booking(shipment_id=shipment_id, tracking_number=row.tracking_number)

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


class CarrierSimulator:
    """Advances booked shipments through the carrier webhook, like a real carrier would:
    the events that fall due are sent side by side, up to `concurrency` at a time, rather
    than each waiting for the answer to the one before (which made the simulator the
    slowest part of an order under `make bench`)."""

    def __init__(
        self,
        store: Store,
        api_url: str,
        api_key: str,
        delay_s: float,
        poll_s: float = 0.2,
        concurrency: int = 16,
    ) -> None:
        self.store = store
        self.api_url = api_url
        self.api_key = api_key
        self.delay_s = delay_s
        self.poll_s = poll_s
        self.concurrency = concurrency

    async def run(self) -> None:
        async with httpx.AsyncClient(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        ) as http:
            while True:
                try:
                    await self.advance_due(http)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the loop must outlive a bad moment of the store or API
                    log.exception("carrier simulator: advancing shipments failed")
                await asyncio.sleep(self.poll_s)

    async def advance_due(self, http: httpx.AsyncClient) -> int:
        now = datetime.now(UTC)
        async with self.store.read() as session:
            due = (
                await session.scalars(
                    select(CarrierShipment)
                    .where(CarrierShipment.next_event_at <= now)
                    .order_by(CarrierShipment.next_event_at)
                    .limit(100)
                )
            ).all()
        lanes = asyncio.Semaphore(self.concurrency)

        async def send(shipment: CarrierShipment) -> bool:
            status = NEXT_STATUS.get(shipment.status)
            if status is None:
                return False
            async with lanes:
                response = await http.post(
                    f"/shipments/{shipment.shipment_id}/events",
                    json={
                        "event_id": f"{shipment.shipment_id}:{status}",
                        "status": status,
                        "tracking_number": shipment.tracking_number,
                        "occurred_at": now.isoformat(),
                    },
                )
            if response.status_code >= 500:
                return False  # try again on the next round
            await self._advance(shipment.shipment_id, status, accepted=response.is_success)
            return True

        # Every send ends before the next round starts, so none is sent twice.
        sent = await asyncio.gather(*(send(shipment) for shipment in due), return_exceptions=True)
        advanced = 0
        for outcome in sent:
            if isinstance(outcome, BaseException):
                raise outcome
            advanced += outcome
        return advanced

    async def _advance(self, shipment_id: str, status: str, *, accepted: bool) -> None:
        async with self.store.transaction() as session:
            row = await session.get(CarrierShipment, shipment_id)
            if row is None:
                return
            if not accepted:
                # The OMS refused the event (shipment gone or closed): stop simulating it.
                row.next_event_at = None
                return
            row.status = status
            more = status in NEXT_STATUS
            row.next_event_at = (
                datetime.now(UTC) + timedelta(seconds=self.delay_s) if more else None
            )
