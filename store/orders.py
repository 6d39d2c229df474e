"""The API's record of accepted orders: owner, type and the idempotency key that made them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.db import Store
from store.tables import Order


@dataclass(frozen=True)
class Claim:
    order_id: str
    request_hash: str
    created: bool  # False: the key was used before (maybe for a different request)


async def claim_idempotency_key(
    store: Store,
    *,
    owner: str,
    key: str,
    request_hash: str,
    order_id: str,
    customer_id: str,
    order_type: str,
) -> Claim:
    """Record the order under (owner, key), or return what that key already made."""
    try:
        async with store.transaction() as session:
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
    except IntegrityError:
        # Lost the race to a concurrent request with the same key (PostgreSQL path).
        async with store.read() as session:
            existing = await _by_key(session, owner, key)
        assert existing is not None
    return Claim(existing.order_id, existing.request_hash, created=False)


async def _by_key(session, owner: str, key: str) -> Order | None:  # noqa: ANN001
    return await session.scalar(
        select(Order).where(Order.owner == owner, Order.idempotency_key == key)
    )


async def get(store: Store, order_id: str) -> Order | None:
    async with store.read() as session:
        return await session.get(Order, order_id)
