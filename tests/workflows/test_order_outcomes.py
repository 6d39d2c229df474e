"""How a standard order ends for each test token, told by its view, the ledger and the journal."""

from __future__ import annotations

import asyncio
import uuid

from store import inventory
from tests.helpers.orders import events, journal_types, order_body, place, wait_for_status
from tests.helpers.stack import Stack

TERMINAL = ("COMPLETED", "CANCELLED", "FAILED")


async def test_declined_card_cancels_the_order_and_releases_its_stock(stack: Stack) -> None:
    before = await inventory.available(stack.store, "HOODIE-GRY-L")
    async with stack.http() as http:
        placed = await place(
            http, order_body("tok_declined", [{"sku": "HOODIE-GRY-L", "quantity": 3}])
        )
        view = await wait_for_status(http, placed["order_id"], *TERMINAL)
        assert view["status"] == "CANCELLED"
        assert view["cancel_reason"] == "PAYMENT_DECLINED"
        assert view["lines"][0]["buckets"]["cancelled"] == 3
        assert view["totals"]["captured_minor"] == 0
        types = await journal_types(http, placed["order_id"])
    assert await inventory.available(stack.store, "HOODIE-GRY-L") == before
    story = [
        "OrderPlaced",
        "InventoryReserved",
        "PaymentDeclined",
        "InventoryReleased",
        "OrderCancelled",
    ]
    assert [t for t in types if t in story] == story
    ledger = await stack.gateway.ledger(placed["order_id"])
    assert [(op.kind, op.outcome) for op in ledger] == [("authorize", "declined")]


async def test_unknown_token_is_declined_with_its_reason_in_the_view_and_journal(
    stack: Stack,
) -> None:
    # A token the sandbox never issued must not pass for tok_visa.
    async with stack.http() as http:
        placed = await place(http, order_body("tok_unknown_xyz"))
        view = await wait_for_status(http, placed["order_id"], *TERMINAL)
        journal = await events(http, placed["order_id"])
    assert (view["status"], view["cancel_reason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert "unknown test token tok_unknown_xyz; the sandbox accepts tok_visa" in view["cancel_note"]
    assert view["financial_status"] == "NOT_CHARGED"
    assert view["totals"]["authorized_minor"] == view["totals"]["captured_minor"] == 0
    declined = next(event for event in journal if event["type"] == "PaymentDeclined")
    assert "unknown test token tok_unknown_xyz" in declined["data"]["message"]
    assert journal[-1]["type"] == "OrderCancelled"
    ledger = await stack.gateway.ledger(placed["order_id"])
    assert [(op.kind, op.outcome) for op in ledger] == [("authorize", "declined")]


async def test_highest_fraud_risk_cancels_before_anything_is_reserved_or_charged(
    stack: Stack,
) -> None:
    async with stack.http() as http:
        placed = await place(http, order_body("tok_risk_highest"))
        view = await wait_for_status(http, placed["order_id"], *TERMINAL)
        types = await journal_types(http, placed["order_id"])
    assert view["status"] == "CANCELLED"
    assert view["cancel_reason"] == "FRAUD"
    assert "FraudChecked" in types and types[-1] == "OrderCancelled"
    assert "InventoryReserved" not in types
    assert await stack.gateway.ledger(placed["order_id"]) == []


async def test_flaky_gateway_is_retried_and_charges_once(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(http, order_body("tok_flaky"))
        view = await wait_for_status(http, placed["order_id"], *TERMINAL)
    assert view["status"] == "COMPLETED"
    authorizations = await stack.gateway.authorizations(placed["order_id"])
    assert len(authorizations) == 1
    assert authorizations[0].captured_minor == view["totals"]["total_minor"]


async def test_completed_order_is_listed_by_search_attributes(stack: Stack) -> None:
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    async with stack.http() as http:
        placed = await place(http, order_body(customer=customer))
        await wait_for_status(http, placed["order_id"], "COMPLETED")
    query = f'OrderStatus="COMPLETED" AND CustomerId="{customer}" AND OrderType="standard"'
    for _ in range(50):  # visibility is eventually consistent
        found = [wf async for wf in stack.client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.2)
    assert [wf.id for wf in found] == [f"order-{placed['order_id']}"]
    assert found[0].typed_search_attributes is not None
