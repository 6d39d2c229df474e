"""Catalog activities: current prices and kinds of SKUs, read from the catalog."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from store.catalog import items_by_sku
from store.db import Store


class CatalogPrice(BaseModel):
    sku: str
    name: str
    unit_price_minor: int
    currency: str
    kind: str


class CatalogActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn
    async def price_items(self, skus: list[str]) -> list[CatalogPrice]:
        """Prices of the SKUs the catalog knows, in the order asked; unknown SKUs are absent."""
        items = await items_by_sku(self.store, set(skus))
        return [
            CatalogPrice(
                sku=item.sku,
                name=item.name,
                unit_price_minor=item.price_minor,
                currency=item.currency,
                kind=item.kind,
            )
            for item in (items[sku] for sku in dict.fromkeys(skus) if sku in items)
        ]
