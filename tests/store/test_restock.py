"""Returned units go back on sale once per restock id, on both backends."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from domain.shipments import AllocatedLine
from store import inventory
from store.db import Store
from store.tables import CatalogItem
from tests.store.conftest import MakeSku


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def line(line_id: str, sku: str, quantity: int) -> AllocatedLine:
    return AllocatedLine(line_id=line_id, sku=sku, quantity=quantity)


async def test_restock_adds_units_once_per_restock_id(any_store: Store, make_sku: MakeSku) -> None:
    sku = await make_sku({"EWR": 2, "LAX": 1})
    restock_id = uid("rst")
    lines = [line("l1", sku, 2), line("l2", sku, 1)]

    assert await inventory.restock(any_store, restock_id, "EWR", lines) == 3
    assert await inventory.available(any_store, sku) == {"EWR": 5, "LAX": 1}

    assert await inventory.restock(any_store, restock_id, "EWR", lines) == 0
    assert await inventory.available(any_store, sku) == {"EWR": 5, "LAX": 1}


async def test_restock_creates_the_stock_row_a_warehouse_lacks(
    any_store: Store, make_sku: MakeSku
) -> None:
    sku = await make_sku({"EWR": 1})
    assert await inventory.restock(any_store, uid("rst"), "LAX", [line("l1", sku, 2)]) == 2
    assert await inventory.available(any_store, sku) == {"EWR": 1, "LAX": 2}


async def test_restocked_units_can_be_reserved_again(any_store: Store, make_sku: MakeSku) -> None:
    sku = await make_sku({"EWR": 1})
    await inventory.reserve(any_store, uid("ord"), uid("res"), [line("l1", sku, 1)])
    assert await inventory.available(any_store, sku) == {"EWR": 0}

    await inventory.restock(any_store, uid("rst"), "EWR", [line("l1", sku, 1)])
    allocations = await inventory.reserve(any_store, uid("ord"), uid("res"), [line("l1", sku, 1)])
    assert [a.warehouse for a in allocations] == ["EWR"]


async def test_concurrent_restocks_with_the_same_id_add_units_once(
    any_store: Store, make_sku: MakeSku
) -> None:
    sku = await make_sku({"EWR": 0})
    restock_id = uid("rst")
    added = await asyncio.gather(
        *(inventory.restock(any_store, restock_id, "EWR", [line("l1", sku, 4)]) for _ in range(5))
    )
    assert sorted(added) == [0, 0, 0, 0, 4]
    assert await inventory.available(any_store, sku) == {"EWR": 4}


async def test_restock_passes_over_digital_skus(any_store: Store, make_sku: MakeSku) -> None:
    physical = await make_sku({"EWR": 1})
    digital = f"TEST-{uuid.uuid4().hex[:12]}"
    async with any_store.transaction() as session:
        session.add(
            CatalogItem(sku=digital, name=digital, price_minor=100, currency="USD", kind="digital")
        )
    lines = [line("l1", physical, 1), line("l2", digital, 3)]
    assert await inventory.restock(any_store, uid("rst"), "EWR", lines) == 1
    assert await inventory.available(any_store, physical) == {"EWR": 2}
    assert await inventory.available(any_store, digital) == {}


async def test_unknown_sku_or_location_is_refused_and_records_nothing(
    any_store: Store, make_sku: MakeSku
) -> None:
    sku = await make_sku({"EWR": 1})
    restock_id = uid("rst")
    with pytest.raises(inventory.UnknownStock, match="NO-SUCH-SKU"):
        await inventory.restock(
            any_store, restock_id, "EWR", [line("l1", sku, 1), line("l2", "NO-SUCH-SKU", 1)]
        )
    with pytest.raises(inventory.UnknownStock, match="NOWHERE"):
        await inventory.restock(any_store, restock_id, "NOWHERE", [line("l1", sku, 1)])
    assert await inventory.available(any_store, sku) == {"EWR": 1}
    # Nothing was recorded under the id, so a corrected retry still restocks.
    assert await inventory.restock(any_store, restock_id, "EWR", [line("l1", sku, 1)]) == 1
    assert await inventory.available(any_store, sku) == {"EWR": 2}
