"""The catalog: SKUs, prices and stock per warehouse, seeded from `store/seed/catalog.json`."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from store.db import Store
from store.tables import CatalogItem, StockLevel, Warehouse

SEED = Path(__file__).parent / "seed" / "catalog.json"


async def seed_catalog(store: Store, path: Path = SEED) -> None:
    """Insert what is missing; never resets the stock of a store that already ran."""
    data = json.loads(path.read_text())
    async with store.transaction() as session:
        known_warehouses = set((await session.scalars(select(Warehouse.code))).all())
        for warehouse in data["warehouses"]:
            if warehouse["code"] not in known_warehouses:
                session.add(Warehouse(**warehouse))
        known_skus = set((await session.scalars(select(CatalogItem.sku))).all())
        await session.flush()
        for item in data["items"]:
            if item["sku"] in known_skus:
                continue
            session.add(
                CatalogItem(
                    sku=item["sku"],
                    name=item["name"],
                    price_minor=item["price_minor"],
                    currency=item["currency"],
                )
            )
            await session.flush()
            for warehouse, quantity in item["stock"].items():
                session.add(StockLevel(sku=item["sku"], warehouse=warehouse, available=quantity))


async def list_catalog(store: Store) -> list[dict]:
    async with store.read() as session:
        items = (await session.scalars(select(CatalogItem).order_by(CatalogItem.sku))).all()
        stock = (await session.scalars(select(StockLevel))).all()
    by_sku: dict[str, dict[str, int]] = {}
    for level in stock:
        by_sku.setdefault(level.sku, {})[level.warehouse] = level.available
    return [
        {
            "sku": item.sku,
            "name": item.name,
            "price": {"amount_minor": item.price_minor, "currency": item.currency},
            "stock": by_sku.get(item.sku, {}),
        }
        for item in items
    ]


async def items_by_sku(store: Store, skus: set[str]) -> dict[str, CatalogItem]:
    async with store.read() as session:
        rows = await session.scalars(select(CatalogItem).where(CatalogItem.sku.in_(skus)))
        return {item.sku: item for item in rows}
