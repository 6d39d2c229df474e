"""The customer notification outbox; a sender (email, SMS) would drain it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import notifications
from store.db import Store
from store.tables import Notification

NOTIFICATIONS = cast(Table, Notification.__table__)


async def enqueue(store: Store, notice: notifications.Notification) -> bool:
    """False when this key was sent before (a retried activity)."""
    async with store.connection() as connection:
        return await enqueue_on(connection, store.dialect, notice)


async def enqueue_on(
    connection: AsyncConnection, dialect: str, notice: notifications.Notification
) -> bool:
    """Queue `notice` in the caller's transaction; False when its key was queued before."""
    row = notice.model_dump() | {"created_at": datetime.now(UTC)}
    written = await connection.execute(Store.insert_once(dialect, NOTIFICATIONS), row)
    return written.first() is not None


async def for_order(store: Store, order_id: str) -> list[Notification]:
    async with store.read() as session:
        rows = await session.scalars(
            select(Notification)
            .where(Notification.order_id == order_id)
            .order_by(Notification.created_at)
        )
        return list(rows)
