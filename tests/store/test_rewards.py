"""The loyalty ledger on both backends: one entry per key, claw-backs negative, grants once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from store import rewards
from store.db import Store
from store.rewards import EntryKind


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


async def add(
    store: Store, customer: str, order: str, line_id: str, kind: EntryKind, points: int
) -> int:
    """An entry keyed the way a workflow would: one per order, kind and line."""
    return await rewards.add_entry(
        store,
        key=f"{order}:{kind}:{line_id}",
        customer_id=customer,
        order_id=order,
        line_id=line_id,
        kind=kind,
        points=points,
    )


async def test_an_entry_is_written_once_per_key(any_store: Store) -> None:
    customer, order = uid("cus"), uid("ord")
    assert await add(any_store, customer, order, "l1", "awarded", 120) == 120
    # A retry, even one that computed different points, keeps the first entry.
    assert await add(any_store, customer, order, "l1", "awarded", 999) == 120
    assert await rewards.order_points(any_store, order) == {"pending": 120, "granted": 0}
    summary = await rewards.customer_rewards(any_store, customer)
    assert [(e.key, e.points, e.status) for e in summary.entries] == [
        (f"{order}:awarded:l1", 120, "pending")
    ]


async def test_concurrent_writes_of_one_key_make_one_entry(any_store: Store) -> None:
    customer, order = uid("cus"), uid("ord")
    results = await asyncio.gather(
        *(add(any_store, customer, order, "l1", "awarded", 50) for _ in range(5))
    )
    assert results == [50] * 5
    assert await rewards.order_points(any_store, order) == {"pending": 50, "granted": 0}


async def test_a_claw_back_is_stored_negative(any_store: Store) -> None:
    customer, order = uid("cus"), uid("ord")
    await add(any_store, customer, order, "l1", "awarded", 300)
    assert await add(any_store, customer, order, "l1", "clawed_back", 100) == -100
    assert await add(any_store, customer, order, "l1", "clawed_back", 100) == -100
    assert await rewards.order_points(any_store, order) == {"pending": 200, "granted": 0}
    summary = await rewards.customer_rewards(any_store, customer)
    assert {(e.kind, e.points) for e in summary.entries} == {
        ("awarded", 300),
        ("clawed_back", -100),
    }


async def test_negative_points_are_refused(any_store: Store) -> None:
    order = uid("ord")
    with pytest.raises(ValueError, match="positive"):
        await add(any_store, uid("cus"), order, "l1", "clawed_back", -5)
    assert await rewards.order_points(any_store, order) == {"pending": 0, "granted": 0}


async def test_grant_moves_pending_points_to_granted_once(any_store: Store) -> None:
    customer, order = uid("cus"), uid("ord")
    await add(any_store, customer, order, "l1", "awarded", 200)
    await add(any_store, customer, order, "l2", "awarded", 75)
    await add(any_store, customer, order, "l2", "clawed_back", 75)

    assert await rewards.grant(any_store, order) == 200
    assert await rewards.grant(any_store, order) == 0
    assert await rewards.order_points(any_store, order) == {"pending": 0, "granted": 200}
    summary = await rewards.customer_rewards(any_store, customer)
    assert (summary.granted_points, summary.pending_points) == (200, 0)
    assert len(summary.entries) == 3
    for entry in summary.entries:
        assert entry.status == "granted"
        assert entry.granted_at is not None and entry.granted_at.tzinfo is not None


async def test_concurrent_grants_grant_each_point_once(any_store: Store) -> None:
    customer, order = uid("cus"), uid("ord")
    await add(any_store, customer, order, "l1", "awarded", 40)
    granted = await asyncio.gather(*(rewards.grant(any_store, order) for _ in range(5)))
    assert sorted(granted) == [0, 0, 0, 0, 40]


async def test_customer_rewards_sum_across_orders_newest_first(any_store: Store) -> None:
    customer = uid("cus")
    granted_order, pending_order = uid("ord"), uid("ord")
    await add(any_store, customer, granted_order, "l1", "awarded", 500)
    await add(any_store, customer, granted_order, "l1", "clawed_back", 120)
    await rewards.grant(any_store, granted_order)
    await add(any_store, customer, pending_order, "l1", "awarded", 60)
    # Another customer's points never show up here.
    await add(any_store, uid("cus"), uid("ord"), "l1", "awarded", 1000)

    summary = await rewards.customer_rewards(any_store, customer)
    assert summary.customer_id == customer
    assert (summary.granted_points, summary.pending_points) == (380, 60)
    assert len(summary.entries) == 3
    assert summary.entries[0].key == f"{pending_order}:awarded:l1"
    times = [e.created_at for e in summary.entries]
    assert times == sorted(times, reverse=True)


async def test_a_customer_without_entries_has_nothing(any_store: Store) -> None:
    summary = await rewards.customer_rewards(any_store, uid("cus"))
    assert (summary.granted_points, summary.pending_points, summary.entries) == (0, 0, [])
