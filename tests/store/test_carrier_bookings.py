"""The simulated carrier's booking desk on both backends: one booking per shipment id."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from adapters.carrier import SimulatedCarrier
from domain.addresses import Address
from domain.shipments import AllocatedLine
from store.db import Store
from store.sandbox_tables import CarrierShipment

ADDRESS = Address(
    name="Alice Example", line1="1 Main St", city="Springfield", postal_code="12345", country="US"
)
LINES = [AllocatedLine(line_id="l1", sku="MUG-CERAMIC", quantity=1)]


async def book(store: Store, shipment_id: str, warehouse: str = "EWR", delay_s: float = 60):  # noqa: ANN201
    return await SimulatedCarrier(store, delay_s).book(
        shipment_id=shipment_id,
        order_id=shipment_id.rsplit("-", 1)[0],
        warehouse=warehouse,
        address=ADDRESS,
        lines=LINES,
    )


async def rows(store: Store, shipment_id: str) -> list[CarrierShipment]:
    async with store.read() as session:
        found = await session.scalars(
            select(CarrierShipment).where(CarrierShipment.shipment_id == shipment_id)
        )
        return list(found)


async def test_a_retried_booking_returns_the_first_and_books_nothing_more(
    any_store: Store,
) -> None:
    shipment_id = f"ord_{uuid.uuid4().hex[:12]}-1"
    first = await book(any_store, shipment_id)
    assert first.tracking_number.startswith("SIM")
    again = await book(any_store, shipment_id, warehouse="LAX", delay_s=0)
    assert again == first
    [row] = await rows(any_store, shipment_id)
    assert (row.status, row.warehouse) == ("booked", "EWR")
    assert row.next_event_at is not None


async def test_concurrent_bookings_of_one_shipment_make_one(any_store: Store) -> None:
    shipment_id = f"ord_{uuid.uuid4().hex[:12]}-1"
    bookings = await asyncio.gather(*(book(any_store, shipment_id) for _ in range(5)))
    assert len({b.tracking_number for b in bookings}) == 1
    assert len(await rows(any_store, shipment_id)) == 1
