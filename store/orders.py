"""The API's record of accepted orders: owner, type and the idempotency key that made them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import Store
from store.tables import Order


@dataclass(frozen=True)
class Claim:
    order_id: str
    request_hash: str
    created: bool  # False: the key was used before (maybe for a different request)


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
    existing = await _by_key(session, owner, key)
    if existing is None:
        session.add(
            Order(
                order_id=order_id,
                customer_id=customer_id,
                order_type=order_type,
                owner=owner,
                idempotency_key=key,
                request_hash=request_hash,
                created_at=datetime.now(UTC),
            )
        )
        return Claim(order_id, request_hash, created=True)
    return Claim(existing.order_id, existing.request_hash, created=False)


async def _by_key(session, owner: str, key: str) -> Order | None:  # noqa: ANN001
    return await session.scalar(
        select(Order).where(Order.owner == owner, Order.idempotency_key == key)
    )


async def get(store: Store, order_id: str) -> Order | None:
    async with store.read() as session:
        return await session.get(Order, order_id)


# Orders taken from the broker (`oms intake`) claim their message's `Nats-Msg-Id` under an
# owner of their own, with a prefix: no HTTP caller's key can ever answer for one.
BROKER_OWNER = "broker:"


def broker_key(message_id: str) -> str:
    return f"nats:{message_id}"
