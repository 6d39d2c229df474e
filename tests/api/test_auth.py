"""Who may do what: API keys, customers limited to their own orders, roles per route."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers.keys import CARRIER_KEY, CUSTOMER_KEY, OPERATOR_KEY, OTHER_CUSTOMER_KEY
from tests.helpers.orders import order_body, place
from tests.helpers.stack import Stack


@pytest.fixture(scope="module")
async def alice_order(stack: Stack) -> str:
    async with stack.http(CUSTOMER_KEY) as http:
        return (await place(http, order_body(customer="cus_alice")))["order_id"]


def key_header() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


@pytest.mark.parametrize("key", [None, "not-a-real-key-123"], ids=["no-header", "wrong-key"])
async def test_every_route_needs_a_valid_key(stack: Stack, alice_order: str, key: str) -> None:
    async with stack.http(key) as http:
        responses = {
            "POST /orders": await http.post("/orders", json=order_body(), headers=key_header()),
            "GET /orders/{id}": await http.get(f"/orders/{alice_order}"),
            "GET /orders/{id}/events": await http.get(f"/orders/{alice_order}/events"),
            "GET /catalog": await http.get("/catalog"),
        }
    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 401)
    for response in responses.values():
        assert response.headers["www-authenticate"] == "Bearer"


async def test_customer_places_orders_only_for_herself(stack: Stack) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        own = await http.post(
            "/orders", json=order_body(customer="cus_alice"), headers=key_header()
        )
        for_bob = await http.post(
            "/orders", json=order_body(customer="cus_bob"), headers=key_header()
        )
    assert own.status_code == 201, own.text
    assert own.json()["customer_id"] == "cus_alice"
    assert for_bob.status_code == 403, for_bob.text


async def test_another_customer_cannot_see_the_order(stack: Stack, alice_order: str) -> None:
    async with stack.http(OTHER_CUSTOMER_KEY) as http:
        view = await http.get(f"/orders/{alice_order}")
        events = await http.get(f"/orders/{alice_order}/events")
    assert view.status_code == 403, view.text
    assert events.status_code == 403, events.text
    assert "cus_alice" not in view.text + events.text


async def test_owner_and_operator_see_the_order(stack: Stack, alice_order: str) -> None:
    for key in (CUSTOMER_KEY, OPERATOR_KEY):
        async with stack.http(key) as http:
            view = await http.get(f"/orders/{alice_order}")
            events = await http.get(f"/orders/{alice_order}/events")
        assert view.status_code == 200, view.text
        assert view.json()["order_id"] == alice_order
        assert events.status_code == 200, events.text
        assert events.json()["count"] >= 1


async def test_operator_sees_orders_of_every_customer(stack: Stack, alice_order: str) -> None:
    async with stack.http(OTHER_CUSTOMER_KEY) as http:
        bob_order = (await place(http, order_body(customer="cus_bob")))["order_id"]
    async with stack.http(OPERATOR_KEY) as http:
        for order_id, customer in ((alice_order, "cus_alice"), (bob_order, "cus_bob")):
            response = await http.get(f"/orders/{order_id}")
            assert response.status_code == 200, response.text
            assert response.json()["customer_id"] == customer


async def test_carrier_cannot_place_orders(stack: Stack) -> None:
    async with stack.http(CARRIER_KEY) as http:
        response = await http.post("/orders", json=order_body(), headers=key_header())
    assert response.status_code == 403, response.text


async def test_customer_cannot_post_carrier_events(stack: Stack) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.post("/shipments/shp_anything/events", json={"status": "delivered"})
    assert response.status_code == 403, response.text


async def test_unknown_order_is_404(stack: Stack) -> None:
    async with stack.http(OPERATOR_KEY) as http:
        view = await http.get("/orders/ord_0000000000000000")
        events = await http.get("/orders/ord_0000000000000000/events")
    assert view.status_code == 404, view.text
    assert events.status_code == 404, events.text
