"""Orders through the API: a valid order body, placing an order, waiting for it, intervening,
reading its journal; signalling it as an operator would; a released preorder item."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx

from store.db import Store
from store.tables import CatalogItem, StockLevel
from tests.helpers.stack import TEMPORAL

ADDRESS = {
    "name": "Alice Example",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


def order_body(
    token: str = "tok_visa", lines: list[dict[str, Any]] | None = None, customer: str = "cus_alice"
) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "lines": lines or [{"sku": "TSHIRT-BLK-M", "quantity": 2}],
        "shipping_address": dict(ADDRESS),
        "payment": {"token": token},
    }


async def place(http: httpx.AsyncClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await http.post(
        "/orders", json=body or order_body(), headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def wait_until(
    http: httpx.AsyncClient,
    order_id: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 60,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await http.get(f"/orders/{order_id}")
        if response.status_code == 200:
            view = response.json()
            if predicate(view):
                return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {order_id} never got there; last view: {view}")


async def wait_for_status(
    http: httpx.AsyncClient, order_id: str, *statuses: str, timeout: float = 60
) -> dict[str, Any]:
    return await wait_until(http, order_id, lambda view: view["status"] in statuses, timeout)


async def intervene(
    http: httpx.AsyncClient, order_id: str, kind: str, body: dict[str, Any], expect: int = 200
) -> dict[str, Any]:
    response = await http.post(f"/orders/{order_id}/{kind}", json=body)
    assert response.status_code == expect, response.text
    return response.json()


def shipments_booked(view: dict[str, Any]) -> bool:
    return bool(view["shipments"]) and all(s["status"] == "BOOKED" for s in view["shipments"])


async def events(http: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/orders/{order_id}/events")
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def journal_types(http: httpx.AsyncClient, order_id: str) -> list[str]:
    return [event["type"] for event in await events(http, order_id)]


async def temporal_signal(
    address: str,
    namespace: str,
    workflow_id: str,
    name: str,
    *inputs: str,
    encoding: str | None = None,
) -> None:
    """Signal through the `temporal` CLI, as an operator would: each input a JSON text (or
    raw bytes of `encoding`); none at all, as the Web UI's empty form sends."""
    assert TEMPORAL is not None
    command = [TEMPORAL, "workflow", "signal", "--address", address, "--namespace", namespace]
    command += ["--workflow-id", workflow_id, "--name", name]
    for value in inputs:
        command += ["--input", value]
    if encoding is not None:
        command += ["--input-meta", f"encoding={encoding}"]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"temporal workflow signal {name}: {(out + err).decode()}")


async def add_released_item(store: Store) -> str:
    """A physical SKU whose release date has passed, with stock in EWR: a preorder of it
    runs straight through."""
    sku = f"PRE-{uuid.uuid4().hex[:8].upper()}"
    async with store.transaction() as session:
        session.add(
            CatalogItem(
                sku=sku,
                name="Released preorder",
                price_minor=5000,
                currency="USD",
                kind="physical",
                release_date=date.today() - timedelta(days=1),
            )
        )
        await session.flush()
        session.add(StockLevel(sku=sku, warehouse="EWR", available=10))
    return sku
