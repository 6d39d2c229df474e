"""Idempotency-key claims (`store.orders.claim_idempotency_key`), on SQLite and PostgreSQL:
`POST /orders` prices an order and claims its key in one transaction."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.exc import IntegrityError

from store.db import Store
from store.orders import Claim, claim_idempotency_key


async def claim(
    store: Store,
    key: str,
    order_id: str,
    request_hash: str = "h1",
    before_commit: asyncio.Barrier | None = None,
) -> Claim:
    async with store.transaction() as session:
        claimed = await claim_idempotency_key(
            session,
            owner="operator:",
            key=key,
            request_hash=request_hash,
            order_id=order_id,
            customer_id="cus_alice",
            order_type="standard",
        )
        if before_commit is not None:
            await before_commit.wait()
        return claimed


async def test_a_used_key_answers_with_the_order_it_made(any_store: Store) -> None:
    key = uuid.uuid4().hex
    assert await claim(any_store, key, "ord_first") == Claim("ord_first", "h1", created=True)
    again = await claim(any_store, key, "ord_second", request_hash="h2")
    assert again == Claim("ord_first", "h1", created=False)


async def test_of_two_racing_claims_one_wins_and_the_other_finds_it(any_store: Store) -> None:
    key = uuid.uuid4().hex
    postgresql = any_store.engine.dialect.name == "postgresql"
    # On PostgreSQL both read the key before either commits; SQLite has one writer at a
    # time, so the second claim starts only once the first is committed, and sees it.
    both_read = asyncio.Barrier(2) if postgresql else None
    raced = await asyncio.gather(
        claim(any_store, key, "ord_a", before_commit=both_read),
        claim(any_store, key, "ord_b", before_commit=both_read),
        return_exceptions=True,
    )
    won = [each for each in raced if isinstance(each, Claim) and each.created]
    assert len(won) == 1
    lost = [each for each in raced if not (isinstance(each, Claim) and each.created)]
    if postgresql:  # the loser's commit is refused; `POST /orders` runs it again
        assert isinstance(lost[0], IntegrityError)
    else:
        assert lost[0] == Claim(won[0].order_id, "h1", created=False)
    again = await claim(any_store, key, "ord_c")
    assert again == Claim(won[0].order_id, "h1", created=False)
