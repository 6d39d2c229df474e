"""License keys for digital goods, issued idempotently per (order, line, unit)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from domain.shipments import AllocatedLine, License
from store.db import Store
from store.tables import LicenseKey


def new_key() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


async def issue(store: Store, order_id: str, lines: list[AllocatedLine]) -> list[License]:
    """Keys for every unit of these lines; units issued before keep their key."""
    for _ in range(3):
        try:
            async with store.transaction() as session:
                rows = await session.scalars(
                    select(LicenseKey).where(LicenseKey.order_id == order_id)
                )
                have = {(row.line_id, row.unit): row for row in rows}
                issued = []
                for line in lines:
                    for unit in range(1, line.quantity + 1):
                        row = have.get((line.line_id, unit))
                        if row is None:
                            row = LicenseKey(
                                order_id=order_id,
                                line_id=line.line_id,
                                unit=unit,
                                sku=line.sku,
                                license_key=new_key(),
                                created_at=datetime.now(UTC),
                            )
                            session.add(row)
                        issued.append(License(line_id=line.line_id, key=row.license_key))
            return issued
        except IntegrityError:
            continue  # a concurrent attempt issued them; read those
    raise RuntimeError(f"could not issue license keys for {order_id}")
