"""Helpers for intervention tests: call one, wait for the order to reach a state."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx


async def intervene(
    http: httpx.AsyncClient, order_id: str, kind: str, body: dict[str, Any], expect: int = 200
) -> dict[str, Any]:
    response = await http.post(f"/orders/{order_id}/{kind}", json=body)
    assert response.status_code == expect, response.text
    return response.json()


async def wait_until(
    http: httpx.AsyncClient,
    order_id: str,
    predicate,
    timeout: float = 60,  # noqa: ANN001
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


def shipments_booked(view: dict[str, Any]) -> bool:
    return bool(view["shipments"]) and all(s["status"] == "BOOKED" for s in view["shipments"])


async def events(http: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/orders/{order_id}/events")
    assert response.status_code == 200, response.text
    return response.json()["data"]
