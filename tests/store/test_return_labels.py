"""Return labels from the simulated carrier: one label per return id, on both backends."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

from sqlalchemy import select

from adapters.carrier import SimulatedCarrier
from domain.addresses import Address
from domain.shipments import AllocatedLine
from store.db import Store
from store.sandbox_tables import CarrierReturnLabel, CarrierShipment

ADDRESS = Address(
    name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US"
)
LINES = [AllocatedLine(line_id="l1", sku="MUG-CERAMIC", quantity=1)]


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


async def test_a_return_label_is_issued_once_per_return_id(any_store: Store) -> None:
    carrier = SimulatedCarrier(any_store, delay_s=0.3)
    order_id = uid("ord")
    return_id = f"{order_id}:return:1"
    first = await carrier.return_label(
        return_id=return_id, order_id=order_id, warehouse="EWR", address=ADDRESS, lines=LINES
    )
    again = await carrier.return_label(
        return_id=return_id, order_id=order_id, warehouse="EWR", address=ADDRESS, lines=LINES
    )
    assert again == first
    digest = hashlib.sha256(return_id.encode()).hexdigest()[:12].upper()
    assert first.tracking_number == f"RET{digest}"
    assert first.label_url == f"https://labels.sandbox-carrier.test/RET{digest}.pdf"
    async with any_store.read() as session:
        rows = (
            await session.scalars(
                select(CarrierReturnLabel).where(CarrierReturnLabel.order_id == order_id)
            )
        ).all()
    assert [(row.return_id, row.warehouse) for row in rows] == [(return_id, "EWR")]


async def test_concurrent_requests_for_one_return_get_one_label(any_store: Store) -> None:
    carrier = SimulatedCarrier(any_store, delay_s=0.3)
    order_id = uid("ord")
    labels = await asyncio.gather(
        *(
            carrier.return_label(
                return_id=f"{order_id}:return:1",
                order_id=order_id,
                warehouse="LAX",
                address=ADDRESS,
                lines=LINES,
            )
            for _ in range(5)
        )
    )
    assert all(label == labels[0] for label in labels)


async def test_different_returns_get_different_labels_and_no_shipment(any_store: Store) -> None:
    carrier = SimulatedCarrier(any_store, delay_s=0.3)
    order_id = uid("ord")
    labels = [
        await carrier.return_label(
            return_id=f"{order_id}:return:{n}",
            order_id=order_id,
            warehouse="EWR",
            address=ADDRESS,
            lines=LINES,
        )
        for n in (1, 2)
    ]
    assert labels[0].tracking_number != labels[1].tracking_number
    # The simulated carrier advances shipments only; a return is reported by the warehouse.
    async with any_store.read() as session:
        shipments = await session.scalars(
            select(CarrierShipment).where(CarrierShipment.order_id == order_id)
        )
        assert shipments.all() == []
