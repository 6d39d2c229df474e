"""Returns, appeasements and rewards over HTTP: keys, roles, bad bodies and unknown ids."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.keys import (
    CARRIER_KEY,
    CUSTOMER_KEY,
    OPERATOR_KEY,
    OTHER_CUSTOMER_KEY,
    WAREHOUSE_KEY,
)
from tests.helpers.orders import order_body, place
from tests.helpers.stack import Stack

RECEIPT = {
    "status": "received",
    "lines": [{"line_id": "ln_1", "quantity": 1, "condition": "resellable"}],
}


def return_body(**line: Any) -> dict[str, Any]:
    return {"lines": [{"line_id": "ln_1", "quantity": 1} | line], "reason": "too small"}


def locs(response) -> list[list[Any]]:  # noqa: ANN001
    return [error["loc"] for error in response.json()["detail"]]


@pytest.fixture(scope="module")
async def alice_order(stack: Stack) -> str:
    async with stack.http(CUSTOMER_KEY) as http:
        return (await place(http, order_body(customer="cus_alice")))["order_id"]


async def test_every_route_needs_a_key(stack: Stack, alice_order: str) -> None:
    async with stack.http(None) as http:
        responses = [
            await http.post(f"/orders/{alice_order}/returns", json=return_body()),
            await http.get(f"/orders/{alice_order}/returns"),
            await http.post(
                f"/orders/{alice_order}/appeasements", json={"amount_minor": 100, "reason": "x"}
            ),
            await http.get(f"/returns/{alice_order}-1"),
            await http.post(f"/returns/{alice_order}-1/events", json=RECEIPT),
            await http.post(f"/returns/{alice_order}-1/decision", json={"decision": "approve"}),
            await http.get("/customers/cus_alice/rewards"),
        ]
    assert [r.status_code for r in responses] == [401] * len(responses)


async def test_customer_cannot_appease(stack: Stack, alice_order: str) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.post(
            f"/orders/{alice_order}/appeasements", json={"amount_minor": 500, "reason": "late"}
        )
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("key", [CUSTOMER_KEY, OTHER_CUSTOMER_KEY])
async def test_customer_cannot_post_a_receipt_or_decide(stack: Stack, key: str) -> None:
    async with stack.http(key) as http:
        receipt = await http.post("/returns/ord_x-1/events", json=RECEIPT)
        decision = await http.post("/returns/ord_x-1/decision", json={"decision": "approve"})
    assert receipt.status_code == 403, receipt.text
    assert decision.status_code == 403, decision.text


async def test_warehouse_and_carrier_may_not_decide(stack: Stack) -> None:
    for key in (WAREHOUSE_KEY, CARRIER_KEY):
        async with stack.http(key) as http:
            response = await http.post("/returns/ord_x-1/decision", json={"decision": "reject"})
        assert response.status_code == 403, response.text


async def test_another_customers_order_and_rewards_are_forbidden(
    stack: Stack, alice_order: str
) -> None:
    async with stack.http(OTHER_CUSTOMER_KEY) as http:
        rewards = await http.get("/customers/cus_alice/rewards")
        request = await http.post(f"/orders/{alice_order}/returns", json=return_body())
        listing = await http.get(f"/orders/{alice_order}/returns")
        one = await http.get(f"/returns/{alice_order}-1")
    for response in (rewards, request, listing, one):
        assert response.status_code == 403, response.text


async def test_rewards_of_own_account_and_any_for_operators(stack: Stack) -> None:
    for key in (CUSTOMER_KEY, OPERATOR_KEY):
        async with stack.http(key) as http:
            response = await http.get("/customers/cus_alice/rewards")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["customer_id"] == "cus_alice"
        assert {"granted_points", "pending_points", "entries"} <= body.keys()


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (return_body(quantity=0), ["body", "lines", 0, "quantity"]),
        (return_body(line_id=""), ["body", "lines", 0, "line_id"]),
        ({"lines": [{"line_id": "ln_1", "quantity": 1}]}, ["body", "reason"]),
        ({"lines": [], "reason": "x"}, ["body", "lines"]),
        (return_body() | {"refund_minor": 5}, ["body", "refund_minor"]),
    ],
    ids=["quantity-0", "empty-line-id", "no-reason", "no-lines", "unknown-field"],
)
async def test_bad_return_request_names_the_field(
    stack: Stack, alice_order: str, body: dict[str, Any], loc: list[Any]
) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.post(f"/orders/{alice_order}/returns", json=body)
    assert response.status_code == 422, response.text
    assert loc in locs(response)


@pytest.mark.parametrize(
    ("sku", "why"), [("NO-SUCH-SKU", "unknown SKU"), ("EBOOK-TEMPORAL", "digital")]
)
async def test_exchange_for_an_unknown_or_digital_sku_is_422(
    stack: Stack, alice_order: str, sku: str, why: str
) -> None:
    body = {
        "lines": [
            {"line_id": "ln_1", "quantity": 1, "replacement_sku": "TSHIRT-WHT-M"},
            {"line_id": "ln_1", "quantity": 1, "replacement_sku": sku},
        ],
        "reason": "wrong size",
    }
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.post(f"/orders/{alice_order}/returns", json=body)
    assert response.status_code == 422, response.text
    assert locs(response) == [["body", "lines", 1, "replacement_sku"]]
    assert why in response.json()["detail"][0]["msg"]


async def test_unknown_replacement_sku_names_the_line(stack: Stack, alice_order: str) -> None:
    async with stack.http(OPERATOR_KEY) as http:
        response = await http.post(
            f"/orders/{alice_order}/returns", json=return_body(replacement_sku="NOPE-XL")
        )
    assert response.status_code == 422, response.text
    assert locs(response) == [["body", "lines", 0, "replacement_sku"]]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (RECEIPT | {"status": "lost"}, ["body", "status"]),
        ({"status": "received", "lines": []}, ["body", "lines"]),
        (
            {
                "status": "received",
                "lines": [{"line_id": "ln_1", "quantity": 1, "condition": "wet"}],
            },
            ["body", "lines", 0, "condition"],
        ),
        (
            {
                "status": "received",
                "lines": [{"line_id": "ln_1", "quantity": 0, "condition": "damaged"}],
            },
            ["body", "lines", 0, "quantity"],
        ),
    ],
    ids=["status", "no-lines", "condition", "quantity-0"],
)
async def test_bad_receipt_names_the_field(
    stack: Stack, body: dict[str, Any], loc: list[Any]
) -> None:
    async with stack.http(WAREHOUSE_KEY) as http:
        response = await http.post("/returns/ord_nothing-1/events", json=body)
    assert response.status_code == 422, response.text
    assert loc in locs(response)


async def test_bad_appeasement_and_decision_name_the_field(stack: Stack, alice_order: str) -> None:
    async with stack.http(OPERATOR_KEY) as http:
        no_reason = await http.post(f"/orders/{alice_order}/appeasements", json={"amount_minor": 5})
        zero = await http.post(
            f"/orders/{alice_order}/appeasements", json={"amount_minor": 0, "reason": "late"}
        )
        decision = await http.post("/returns/ord_nothing-1/decision", json={"decision": "maybe"})
    assert ["body", "reason"] in locs(no_reason)
    assert ["body", "amount_minor"] in locs(zero)
    assert ["body", "decision"] in locs(decision)


@pytest.mark.parametrize("key", [WAREHOUSE_KEY, CARRIER_KEY, OPERATOR_KEY])
async def test_receipt_for_an_unknown_return_is_404(stack: Stack, key: str) -> None:
    async with stack.http(key) as http:
        response = await http.post("/returns/ord_nothing-1/events", json=RECEIPT)
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == "no return ord_nothing-1"


async def test_unknown_return_is_404(stack: Stack) -> None:
    async with stack.http(OPERATOR_KEY) as http:
        view = await http.get("/returns/ord_nothing-1")
        decision = await http.post("/returns/ord_nothing-1/decision", json={"decision": "approve"})
    async with stack.http(CUSTOMER_KEY) as http:
        own_view = await http.get("/returns/ord_nothing-1")
    for response in (view, decision, own_view):
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == "no return ord_nothing-1"


async def test_returns_of_an_unknown_order_are_404(stack: Stack) -> None:
    async with stack.http(OPERATOR_KEY) as http:
        listing = await http.get("/orders/ord_nothing/returns")
        request = await http.post("/orders/ord_nothing/returns", json=return_body())
        appeasement = await http.post(
            "/orders/ord_nothing/appeasements", json={"amount_minor": 100, "reason": "late"}
        )
    for response in (listing, request, appeasement):
        assert response.status_code == 404, response.text
        assert "ord_nothing" in response.json()["detail"]


async def test_a_new_order_lists_no_returns(stack: Stack, alice_order: str) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.get(f"/orders/{alice_order}/returns")
    assert response.status_code == 200, response.text
    assert response.json() == {"data": [], "count": 0}
