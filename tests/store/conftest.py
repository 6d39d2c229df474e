"""Helpers for the store tests: private SKUs so that tests which move stock never
touch the seeded catalog that other tests share."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from store.db import Store
from store.tables import CatalogItem, StockLevel

MakeSku = Callable[[dict[str, int]], Awaitable[str]]


@pytest.fixture
def make_sku(any_store: Store) -> MakeSku:
    async def make(stock: dict[str, int]) -> str:
        sku = f"TEST-{uuid.uuid4().hex[:12]}"
        async with any_store.transaction() as session:
            session.add(CatalogItem(sku=sku, name=sku, price_minor=100, currency="USD"))
            await session.flush()
            for warehouse, quantity in stock.items():
                session.add(StockLevel(sku=sku, warehouse=warehouse, available=quantity))
        return sku

    return make
