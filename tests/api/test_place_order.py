"""POST /orders: bad input is refused field by field, keys make retries safe, prices are ours."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from store.tables import Order
from tests.helpers.orders import order_body, wait_for_status
from tests.helpers.stack import Stack


def fresh_customer() -> str:
    # A customer nobody else uses, so "no orders row" means this request made none.
    return f"cus_bad_{uuid.uuid4().hex[:12]}"


async def order_rows(stack: Stack, customer_id: str) -> int:
    async with stack.store.read() as session:
        return await session.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id == customer_id)
        )


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


def bad_lines(lines: list[dict[str, Any]]):  # noqa: ANN201
    return lambda body: body | {"lines": lines}


def bad_address(field: str):  # noqa: ANN201
    return lambda body: body | {"shipping_address": without(body["shipping_address"], field)}


# (case id, how to break a valid body, where the 422 must point)
BAD_BODIES = [
    (
        "unknown-sku",
        bad_lines([{"sku": "TSHIRT-BLK-M", "quantity": 1}, {"sku": "NO-SUCH-SKU", "quantity": 1}]),
        ["lines", 1, "sku"],
    ),
    (
        "quantity-zero",
        bad_lines([{"sku": "TSHIRT-BLK-M", "quantity": 0}]),
        ["lines", 0, "quantity"],
    ),
    (
        "quantity-negative",
        bad_lines([{"sku": "TSHIRT-BLK-M", "quantity": -3}]),
        ["lines", 0, "quantity"],
    ),
    (
        "quantity-absurd",
        bad_lines([{"sku": "TSHIRT-BLK-M", "quantity": 10_000}]),
        ["lines", 0, "quantity"],
    ),
    ("empty-lines", lambda body: body | {"lines": []}, ["lines"]),
    *[
        (f"address-missing-{field}", bad_address(field), ["shipping_address", field])
        for field in ("name", "line1", "city", "postal_code", "country")
    ],
    ("unknown-order-type", lambda body: body | {"order_type": "teleport"}, ["order_type"]),
    (
        "line-price",
        bad_lines([{"sku": "TSHIRT-BLK-M", "quantity": 1, "price": 1}]),
        ["lines", 0, "price"],
    ),
    (
        "line-unit-price",
        bad_lines([{"sku": "TSHIRT-BLK-M", "quantity": 1, "unit_price_minor": 1}]),
        ["lines", 0, "unit_price_minor"],
    ),
    ("card-number-token", lambda body: body | {"payment": {"token": "4242424242424242"}}, None),
    ("bare-brand-token", lambda body: body | {"payment": {"token": "visa"}}, None),
]


@pytest.mark.parametrize(
    ("breaks", "loc"), [case[1:] for case in BAD_BODIES], ids=[case[0] for case in BAD_BODIES]
)
async def test_bad_body_is_422_naming_the_field_and_starts_nothing(
    stack: Stack,
    breaks: Callable[[dict[str, Any]], dict[str, Any]],
    loc: list[Any] | None,
) -> None:
    customer = fresh_customer()
    body = breaks(order_body(customer=customer))
    loc = loc or ["payment", "token"]
    async with stack.http() as http:
        response = await http.post(
            "/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    assert response.status_code == 422, response.text
    locs = [error["loc"] for error in response.json()["detail"]]
    assert ["body", *loc] in locs, locs
    assert await order_rows(stack, customer) == 0


async def test_a_country_outside_iso_3166_is_422_naming_the_field(stack: Stack) -> None:
    customer = fresh_customer()
    body = order_body(customer=customer)
    body["shipping_address"]["country"] = "XX"
    async with stack.http() as http:
        response = await http.post(
            "/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "shipping_address", "country"]
    assert "XX is not an ISO 3166-1 alpha-2 country code" in error["msg"]
    assert await order_rows(stack, customer) == 0


async def test_missing_idempotency_key_is_422_and_starts_nothing(stack: Stack) -> None:
    customer = fresh_customer()
    async with stack.http() as http:
        response = await http.post("/orders", json=order_body(customer=customer))
    assert response.status_code == 422, response.text
    locs = [error["loc"] for error in response.json()["detail"]]
    assert ["header", "Idempotency-Key"] in locs, locs
    assert await order_rows(stack, customer) == 0


async def test_same_key_and_body_returns_the_same_order(stack: Stack) -> None:
    customer = fresh_customer()
    body = order_body(customer=customer)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    async with stack.http() as http:
        first = await http.post("/orders", json=body, headers=headers)
        second = await http.post("/orders", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert second.status_code == 200, second.text
    assert second.json()["order_id"] == first.json()["order_id"]
    assert await order_rows(stack, customer) == 1


async def test_same_key_with_a_different_body_is_409(stack: Stack) -> None:
    customer = fresh_customer()
    key = uuid.uuid4().hex
    async with stack.http() as http:
        first = await http.post(
            "/orders", json=order_body(customer=customer), headers={"Idempotency-Key": key}
        )
        other = order_body(customer=customer, lines=[{"sku": "MUG-CERAMIC", "quantity": 1}])
        second = await http.post("/orders", json=other, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert second.status_code == 409, second.text
    assert key in second.json()["detail"]
    assert await order_rows(stack, customer) == 1


async def test_concurrent_retries_with_one_key_make_one_order_and_one_authorization(
    stack: Stack,
) -> None:
    customer = fresh_customer()
    body = order_body(customer=customer)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    async with stack.http() as http:
        responses = await asyncio.gather(
            *(http.post("/orders", json=body, headers=headers) for _ in range(8))
        )
        assert all(r.is_success for r in responses), [(r.status_code, r.text) for r in responses]
        order_ids = {r.json()["order_id"] for r in responses}
        assert len(order_ids) == 1
        assert [r.status_code for r in responses].count(201) == 1
        assert await order_rows(stack, customer) == 1

        (order_id,) = order_ids
        view = await wait_for_status(http, order_id, "COMPLETED", "FAILED", "CANCELLED")
    assert view["status"] == "COMPLETED", view
    ledger = await stack.gateway.ledger(order_id)
    assert [op.kind for op in ledger].count("authorize") == 1


async def test_prices_come_from_the_catalog(stack: Stack) -> None:
    lines = [
        {"sku": "HOODIE-GRY-L", "quantity": 2},
        {"sku": "BACKPACK-20L", "quantity": 1},
        {"sku": "TSHIRT-WHT-M", "quantity": 3},
    ]
    async with stack.http() as http:
        catalog = (await http.get("/catalog")).json()["data"]
        prices = {item["sku"]: item["price"]["amount_minor"] for item in catalog}
        response = await http.post(
            "/orders",
            json=order_body(customer=fresh_customer(), lines=lines),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        placed = response.json()
        view = (await http.get(f"/orders/{placed['order_id']}")).json()

    expected = sum(prices[line["sku"]] * line["quantity"] for line in lines)
    for shown in (placed, view):
        assert {(line["sku"], line["unit_price_minor"]) for line in shown["lines"]} == {
            (line["sku"], prices[line["sku"]]) for line in lines
        }
        assert shown["totals"]["total_minor"] == expected
