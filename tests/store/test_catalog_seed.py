"""Seeding a store that already ran adds what is new; reservations use warehouses only."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import select

from domain.shipments import AllocatedLine
from store import inventory
from store.catalog import SEED, list_catalog, seed_catalog
from store.db import Store
from store.inventory import OutOfStock
from store.tables import CatalogItem, StockLevel, Warehouse


async def test_seeded_kinds_locations_and_release_dates(any_store: Store) -> None:
    async with any_store.read() as session:
        locations = {w.code: w for w in await session.scalars(select(Warehouse))}
        items = {i.sku: i for i in await session.scalars(select(CatalogItem))}
    assert {
        code: w.kind for code, w in locations.items() if code in ("EWR", "LAX", "NYC-SOHO")
    } == {
        "EWR": "warehouse",
        "LAX": "warehouse",
        "NYC-SOHO": "store",
    }
    assert items["EBOOK-TEMPORAL"].kind == items["WARRANTY-2Y"].kind == "digital"
    assert items["CONSOLE-NEXT"].release_date == date(2027, 3, 1)
    assert items["MUG-CERAMIC"].kind == "physical" and items["MUG-CERAMIC"].release_date is None
    catalog = {item["sku"]: item for item in await list_catalog(any_store)}
    assert catalog["EBOOK-TEMPORAL"]["stock"] == catalog["EBOOK-TEMPORAL"]["pickup_stock"] == {}
    assert set(catalog["MUG-CERAMIC"]["stock"]) == {"EWR"}
    assert set(catalog["MUG-CERAMIC"]["pickup_stock"]) == {"NYC-SOHO"}


async def test_seeding_an_existing_store_adds_new_items_and_stock_rows(
    any_store: Store, tmp_path: Path
) -> None:
    sku, new_sku, shop = (f"SEED-{uuid.uuid4().hex[:8]}" for _ in range(3))
    async with any_store.transaction() as session:
        session.add(CatalogItem(sku=sku, name=sku, price_minor=100, currency="USD"))
        await session.flush()
        session.add(StockLevel(sku=sku, warehouse="EWR", available=3))
    seed = {
        "warehouses": [{"code": shop[:32], "name": "a shop", "kind": "store", "priority": 50}],
        "items": [
            {
                "sku": sku,
                "name": "renamed in the seed",
                "price_minor": 999,
                "currency": "USD",
                "stock": {"EWR": 500, shop[:32]: 7},
            },
            {
                "sku": new_sku,
                "name": new_sku,
                "price_minor": 100,
                "currency": "USD",
                "kind": "digital",
                "stock": {},
            },
        ],
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(seed))
    await seed_catalog(any_store, path)
    await seed_catalog(any_store, path)
    assert await inventory.available(any_store, sku) == {"EWR": 3, shop[:32]: 7}
    async with any_store.read() as session:
        existing = await session.get(CatalogItem, sku)
        added = await session.get(CatalogItem, new_sku)
    assert existing is not None and (existing.name, existing.price_minor) == (sku, 100)
    assert added is not None and added.kind == "digital"


async def test_the_real_seed_is_idempotent(any_store: Store) -> None:
    before = await list_catalog(any_store)
    await seed_catalog(any_store, SEED)
    assert await list_catalog(any_store) == before


async def test_reserve_uses_warehouses_unless_asked_for_stores(any_store: Store) -> None:
    sku = f"PICK-{uuid.uuid4().hex[:8]}"
    async with any_store.transaction() as session:
        session.add(CatalogItem(sku=sku, name=sku, price_minor=100, currency="USD"))
        await session.flush()
        session.add(StockLevel(sku=sku, warehouse="NYC-SOHO", available=5))
    lines = [AllocatedLine(line_id="ln_1", sku=sku, quantity=2)]
    try:
        await inventory.reserve(any_store, "ord_x", f"res_{uuid.uuid4().hex}", lines)
    except OutOfStock as out:
        assert out.shortages == {sku: 2}
    else:
        raise AssertionError("a store's stock was reserved for shipping")
    allocations = await inventory.reserve(
        any_store, "ord_y", f"res_{uuid.uuid4().hex}", lines, location_kind="store"
    )
    assert [a.warehouse for a in allocations] == ["NYC-SOHO"]
    assert await inventory.available(any_store, sku) == {"NYC-SOHO": 3}
