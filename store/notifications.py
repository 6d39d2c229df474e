"""The customer notification outbox; a sender (email, SMS) would drain it."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sqlalchemy import Executable, select

from store.db import Store
from store.tables import Notification


async def enqueue(
    store: Store, *, key: str, order_id: str, customer_id: str, kind: str, message: str
) -> bool:
    """False when this key was sent before (a retried activity)."""
    row = {
        "key": key,
        "order_id": order_id,
        "customer_id": customer_id,
        "kind": kind,
        "message": message,
        "created_at": datetime.now(UTC),
    }
    async with store.connection() as connection:
        written = await connection.execute(_insert(store.dialect), row)
        return written.first() is not None


@functools.cache
def _insert(dialect: str) -> Executable:
    """Insert-or-nothing by key, its row passed as parameters so it is compiled once; the key
    comes back when the row was written (a rowcount is not reported on every backend)."""
    insert = Store.insert_for(dialect, Notification.__table__).on_conflict_do_nothing()
    return insert.returning(Notification.key)


async def for_order(store: Store, order_id: str) -> list[Notification]:
    async with store.read() as session:
        rows = await session.scalars(
            select(Notification)
            .where(Notification.order_id == order_id)
            .order_by(Notification.created_at)
        )
        return list(rows)
