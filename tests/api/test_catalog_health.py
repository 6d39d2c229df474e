"""GET /catalog shows the seeded SKUs with prices and stock; GET /health checks every part."""

from __future__ import annotations

import json

from store.catalog import SEED
from tests.helpers.keys import CUSTOMER_KEY
from tests.helpers.stack import Stack


async def test_catalog_lists_seeded_skus_with_price_and_stock_per_warehouse(stack: Stack) -> None:
    seed = {item["sku"]: item for item in json.loads(SEED.read_text())["items"]}
    assert {"EWR", "LAX"} <= {warehouse for item in seed.values() for warehouse in item["stock"]}
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.get("/catalog")
    assert response.status_code == 200, response.text
    body = response.json()
    items = {item["sku"]: item for item in body["data"]}
    assert body["count"] == len(body["data"])
    assert set(seed) <= set(items)
    for sku, seeded in seed.items():
        item = items[sku]
        assert item["name"] == seeded["name"]
        assert item["price"] == {
            "amount_minor": seeded["price_minor"],
            "currency": seeded["currency"],
        }
        # Warehouses under `stock`, stores under `pickup_stock`.
        shown = item["stock"] | item["pickup_stock"]
        assert not set(item["stock"]) & set(item["pickup_stock"]), sku
        # Other tests place orders in this session, so stock may only have gone down.
        assert set(shown) == set(seeded["stock"]), sku
        for warehouse, quantity in seeded["stock"].items():
            assert 0 <= shown[warehouse] <= quantity, (sku, warehouse)


async def test_catalog_stock_is_split_across_ewr_and_lax(stack: Stack) -> None:
    async with stack.http() as http:
        items = {item["sku"]: item for item in (await http.get("/catalog")).json()["data"]}
    assert set(items["MUG-CERAMIC"]["stock"]) == {"EWR"}
    assert set(items["LAMP-DESK"]["stock"]) == {"LAX"}
    assert set(items["TSHIRT-BLK-M"]["stock"]) == {"EWR", "LAX"}


async def test_health_reports_every_part_ok(stack: Stack) -> None:
    async with stack.http(None) as http:
        response = await http.get("/health")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "api": "ok",
        "temporal": "ok",
        "store": "ok",
        "broker": "not configured",
    }
