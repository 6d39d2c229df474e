"""The catalog: SKUs, prices and stock per location, seeded from `store/seed/catalog.json`.

Locations are warehouses (they ship) and stores (customers pick up there). Digital items
have no stock rows: their stock is unlimited."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import Store, reading
from store.flows import seed_flows
from store.tables import CatalogItem, StockLevel, Warehouse

SEED = Path(__file__).parent / "seed" / "catalog.json"

ITEM_KINDS = ("physical", "digital")
LOCATION_KINDS = ("warehouse", "store")


class CatalogEntry(NamedTuple):
    sku: str
    name: str
    price_minor: int
    currency: str
    kind: str
    release_date: date | None


async def seed_catalog(store: Store, path: Path = SEED) -> None:
    """Insert what is missing: locations, items and the stock of a SKU at a location that
    has none yet. Never resets the stock of a store that already ran. The built-in flows
    are seeded here too, so that every store that can take orders knows its order types."""
    data = json.loads(path.read_text())
    async with store.transaction() as session:
        known_warehouses = set((await session.scalars(select(Warehouse.code))).all())
        for warehouse in data["warehouses"]:
            kind = warehouse.get("kind", "warehouse")
            if kind not in LOCATION_KINDS:
                raise ValueError(f"{path.name}: location {warehouse['code']}: kind {kind!r}")
            if warehouse["code"] not in known_warehouses:
                session.add(
                    Warehouse(
                        code=warehouse["code"],
                        name=warehouse["name"],
                        priority=warehouse["priority"],
                        kind=kind,
                    )
                )
        known_skus = set((await session.scalars(select(CatalogItem.sku))).all())
        levels = await session.execute(select(StockLevel.sku, StockLevel.warehouse))
        known_stock = {(sku, warehouse) for sku, warehouse in levels}
        await session.flush()
        for item in data["items"]:
            kind = item.get("kind", "physical")
            if kind not in ITEM_KINDS:
                raise ValueError(f"{path.name}: item {item['sku']}: kind {kind!r}")
            if item["sku"] not in known_skus:
                release = item.get("release_date")
                session.add(
                    CatalogItem(
                        sku=item["sku"],
                        name=item["name"],
                        price_minor=item["price_minor"],
                        currency=item["currency"],
                        kind=kind,
                        release_date=date.fromisoformat(release) if release else None,
                    )
                )
                await session.flush()
            for warehouse, quantity in item.get("stock", {}).items():
                if (item["sku"], warehouse) not in known_stock:
                    session.add(
                        StockLevel(sku=item["sku"], warehouse=warehouse, available=quantity)
                    )
    await seed_flows(store)


async def list_catalog(store: Store) -> list[dict]:
    async with store.read() as session:
        items = (await session.scalars(select(CatalogItem).order_by(CatalogItem.sku))).all()
        stock = (await session.scalars(select(StockLevel))).all()
        kinds = dict((await session.execute(select(Warehouse.code, Warehouse.kind))).all())
    # Warehouse stock is what can ship; store stock is only for pickup.
    shippable: dict[str, dict[str, int]] = {}
    pickup: dict[str, dict[str, int]] = {}
    for level in stock:
        target = pickup if kinds.get(level.warehouse) == "store" else shippable
        target.setdefault(level.sku, {})[level.warehouse] = level.available
    return [
        {
            "sku": item.sku,
            "name": item.name,
            "kind": item.kind,
            "release_date": item.release_date,
            "price": {"amount_minor": item.price_minor, "currency": item.currency},
            "stock": shippable.get(item.sku, {}),
            "pickup_stock": pickup.get(item.sku, {}),
        }
        for item in items
    ]


# Built once, its SKUs an expanding parameter, and as columns rather than ORM objects: every
# `POST /orders` prices its lines with it, and the identity map and a statement built each
# time cost more than the query.
_ITEMS = select(
    CatalogItem.sku,
    CatalogItem.name,
    CatalogItem.price_minor,
    CatalogItem.currency,
    CatalogItem.kind,
    CatalogItem.release_date,
).where(CatalogItem.sku.in_(bindparam("skus", expanding=True)))


async def items_by_sku(source: Store | AsyncSession, skus: set[str]) -> dict[str, CatalogEntry]:
    """The catalog's entries for `skus` (as `CatalogItem` has them), by SKU; unknown ones
    are absent."""
    async with reading(source) as session:
        rows = await session.execute(_ITEMS, {"skus": list(skus)})
        return {row.sku: CatalogEntry(*row) for row in rows}
