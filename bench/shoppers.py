"""The shoppers: standard orders POSTed to the API as careful clients place them, by
concurrent clients each on a connection of its own (a closed loop; a 503 is retried with the
same Idempotency-Key, its wait counted), or one at a time as the open loop sends them
(`bench.open_loop`; a 503 is an error there)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from bench.report import Progress
from bench.stack import OPERATOR_KEY, BenchError, BenchStack

SKUS = ("TSHIRT-BLK-M", "TSHIRT-WHT-M")  # 10,000 units each across EWR and LAX
# One unit per order: past the seeded stock orders would wait in review for an operator.
MAX_UNITS = 19_000
ADDRESS = {
    "name": "Bench Customer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


def order_body(customer: str, n: int) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "lines": [{"sku": SKUS[n % len(SKUS)], "quantity": 1}],
        "shipping_address": dict(ADDRESS),
        "payment": {"token": "tok_visa"},
        "order_type": "standard",
    }


PLACE_ATTEMPTS = 5
RETRIES = {"503": 0, "reset": 0}


async def place(http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[float, str]:
    """POST one order as a careful client does: a 503 (the store or Temporal busy; nothing
    changed) is retried with the same Idempotency-Key after its Retry-After, and so is a
    kept-alive connection the server closed as the request went out. The time returned is
    the whole placement, retries included; `RETRIES` counts them."""
    key = uuid.uuid4().hex
    begun = time.perf_counter()
    response: httpx.Response | None = None
    for _ in range(PLACE_ATTEMPTS):
        try:
            response = await http.post("/orders", json=body, headers={"Idempotency-Key": key})
        except (httpx.ReadError, httpx.RemoteProtocolError):
            RETRIES["reset"] += 1  # the same key: placed at most once
            continue
        if response.status_code in (200, 201):
            return time.perf_counter() - begun, response.json()["order_id"]
        if response.status_code != 503:
            break
        RETRIES["503"] += 1
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    if response is None:
        raise BenchError(f"POST /orders: the connection was reset {PLACE_ATTEMPTS} times")
    raise BenchError(f"POST /orders answered {response.status_code}: {response.text[:300]}")


def api_client(stack: BenchStack, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
        timeout=60,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def place_many(
    stack: BenchStack,
    customer: str,
    count: int,
    clients: int,
    progress: Progress | None = None,
    what: str = "submitted",
) -> list[tuple[float, str]]:
    """`count` orders POSTed by `clients` concurrent clients, each its own connection."""
    results: list[tuple[float, str]] = []
    https = [api_client(stack, 1) for _ in range(min(clients, count))]
    indices = iter(range(count))

    async def loop(http: httpx.AsyncClient) -> None:
        for index in indices:
            results.append(await place(http, order_body(customer, index)))
            if progress is not None:
                progress.update(f"{what} {len(results)}/{count}")

    try:
        await asyncio.gather(*(loop(http) for http in https))
    finally:
        await asyncio.gather(*(http.aclose() for http in https))
    return results


async def post_once(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """POST one order for the open loop: a kept-alive connection the server closed as the
    request went out is sent again with the same key; any answer but 200/201 (a 503
    included) is an error, raised."""
    key = uuid.uuid4().hex
    for attempt in (1, 2):
        try:
            response = await http.post("/orders", json=body, headers={"Idempotency-Key": key})
        except (httpx.ReadError, httpx.RemoteProtocolError):
            RETRIES["reset"] += 1
            if attempt == 2:
                raise
            continue
        if response.status_code in (200, 201):
            return response.json()["order_id"]
        raise BenchError(f"POST /orders answered {response.status_code}")
    raise AssertionError("unreachable")
