"""Gift orders through the API, on a shop's own services: the services registered over
`POST /endpoints`; the example flows `oms run` registers (`store/seed/examples.json`): the
fragment `fraud_and_payment` and the order type `gifted`, which runs the fraud check beside
an address check, includes the fragment, asks for gift wrapping and, when the wrap costs
something, checks the address again for the parcel (`parcel_check`); and what the shop's
service received (`keys`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from store.flows import EXAMPLES
from tests.helpers.shop_service import ShopService

SERVICES = ("address-check", "gift-wrap", "gift-wrap-cancel")
FRAUD_AND_PAYMENT, GIFTED = json.loads(EXAMPLES.read_text())
FRAGMENT = FRAUD_AND_PAYMENT["type"]
CHECKS: dict[str, Any] = GIFTED["steps"][1]  # check_fraud beside the address-check call


def gifted(order_type: str) -> dict[str, Any]:
    """The example order type `gifted` under a name of its own."""
    return GIFTED | {"type": order_type}


def new_type(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def register_services(http: httpx.AsyncClient, shop: ShopService) -> None:
    """Point `address-check`, `gift-wrap` and `gift-wrap-cancel` at the shop."""
    for name in SERVICES:
        endpoint = shop.endpoint(name)
        body = {
            "name": name,
            "url": endpoint.url,
            "timeout_s": endpoint.timeout_s,
            "secret": shop.secret,
        }
        response = await http.post("/endpoints", json=body)
        assert response.status_code == 201, response.text


async def register_flow(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/flows", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def register_gifted(http: httpx.AsyncClient, shop: ShopService) -> str:
    """The services, the fragment and a gift order type of its own; returns the type."""
    await register_services(http, shop)
    await register_flow(http, FRAUD_AND_PAYMENT)
    order_type = new_type("gifted")
    await register_flow(http, gifted(order_type))
    return order_type


def keys(shop: ShopService, path: str, order_id: str) -> list[str]:
    """The Idempotency-Key of every request the order made to `path`, in arrival order;
    each must carry a signature that verifies."""
    received = [
        r for r in shop.requests(path) if r.headers["idempotency-key"].startswith(f"{order_id}:")
    ]
    assert all(r.signature_valid for r in received), f"{path}: a signature did not verify"
    return [r.headers["idempotency-key"] for r in received]


async def effects(shop: ShopService) -> dict[str, int]:
    """What the shop did, by key, as its `GET /calls` tells: one effect per key."""
    async with httpx.AsyncClient(base_url=shop.url) as http:
        report = (await http.get("/calls")).json()
    return {f"{call['service']} {call['key']}": call["effects"] for call in report["calls"]}
