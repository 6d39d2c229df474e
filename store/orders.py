"""The API's record of accepted orders: owner, type and the idempotency key that made them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import Store
from store.tables import Order


@dataclass(frozen=True)
class Claim:
    order_id: str
    request_hash: str
    created: bool  # False: the key was used before (maybe for a different request)


ORDERS = cast(Table, Order.__table__)
# Built once: the claim runs on every `POST /orders`, and building a statement each time
# costs more than running it from SQLAlchemy's compiled cache.
_BY_KEY = select(ORDERS.c.order_id, ORDERS.c.request_hash).where(
    ORDERS.c.owner == bindparam("owner"), ORDERS.c.idempotency_key == bindparam("key")
)


async def claim_idempotency_key(
    session: AsyncSession,
    *,
    owner: str,
    key: str,
    request_hash: str,
    order_id: str,
    customer_id: str,
    order_type: str,
) -> Claim:
    """In the caller's write transaction: record the order under (owner, key), or return
    what that key already made. On PostgreSQL a concurrent request with the same key can
    win the race, and the caller's commit then raises `IntegrityError`: run the transaction
    again, and this finds the winner's claim."""
    row = {
        "order_id": order_id,
        "customer_id": customer_id,
        "order_type": order_type,
        "owner": owner,
        "idempotency_key": key,
        "request_hash": request_hash,
        "created_at": datetime.now(UTC),
    }
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        # The caller's transaction holds SQLite's one write lock (BEGIN IMMEDIATE), so no
        # other claim can come between: write at once, and read the key's earlier claim
        # only when the row was not written. One statement for a new key instead of a
        # SELECT and the session's flush.
        written = await session.execute(Store.insert_once("sqlite", ORDERS), row)
        if written.first() is not None:
            return Claim(order_id, request_hash, created=True)
    existing = (await session.execute(_BY_KEY, {"owner": owner, "key": key})).first()
    if existing is None:
        # PostgreSQL: written at commit, where a concurrent claim of the key is refused.
        session.add(Order(**row))
        return Claim(order_id, request_hash, created=True)
    return Claim(existing.order_id, existing.request_hash, created=False)


async def get(store: Store, order_id: str) -> Order | None:
    async with store.read() as session:
        return await session.get(Order, order_id)


# Orders taken from the broker (`oms intake`) claim their message's `Nats-Msg-Id` under an
# owner of their own, with a prefix: no HTTP caller's key can ever answer for one.
BROKER_OWNER = "broker:"


def broker_key(message_id: str) -> str:
    return f"nats:{message_id}"
