"""Helpers the tests share: a valid order body, placing an order, waiting for it, intervening."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

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
    response = await http.get(f"/orders/{order_id}/events")
    assert response.status_code == 200, response.text
    return [event["type"] for event in response.json()["data"]]
